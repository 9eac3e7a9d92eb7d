package ui

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ANSI styles used on a terminal.
const (
	ansiReset  = "\033[0m"
	ansiBold   = "\033[1m"
	ansiDim    = "\033[2m"
	ansiRed    = "\033[31m"
	ansiGreen  = "\033[32m"
	ansiYellow = "\033[33m"
	ansiCyan   = "\033[36m"
	clearLine  = "\r\033[K"
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Interactive is the UI for a person at a terminal: colour and an animated
// spinner for steps. Lines printed while a step spins appear above it.
type Interactive struct {
	base
	// Interval is the spinner's frame time.
	Interval time.Duration
	step     *spinner // the running step, if any (guarded by mu)
}

var _ UI = (*Interactive)(nil)

// NewInteractive returns a terminal UI.
func NewInteractive(in io.Reader, out, errOut io.Writer) *Interactive {
	return &Interactive{base: newBase(in, out, errOut), Interval: 100 * time.Millisecond}
}

// println prints s as whole lines, keeping a running spinner below them.
func (u *Interactive) println(w io.Writer, s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.step != nil {
		fmt.Fprint(u.out, clearLine)
	}
	fmt.Fprintln(w, s)
	if u.step != nil {
		u.step.draw()
	}
}

func (u *Interactive) Output(format string, args ...any) {
	u.println(u.out, fmt.Sprintf(format, args...))
}
func (u *Interactive) Success(format string, args ...any) {
	u.println(u.out, ansiGreen+"✓ "+ansiReset+fmt.Sprintf(format, args...))
}
func (u *Interactive) Failure(format string, args ...any) {
	u.println(u.out, ansiRed+"✗ "+ansiReset+fmt.Sprintf(format, args...))
}
func (u *Interactive) Warn(format string, args ...any) {
	u.println(u.errOut, ansiYellow+"Warning: "+ansiReset+fmt.Sprintf(format, args...))
}

func (u *Interactive) Info(format string, args ...any) {
	u.println(u.errOut, ansiDim+fmt.Sprintf(format, args...)+ansiReset)
}

func (u *Interactive) Table(t Table) {
	lines := t.Lines()
	hdr := 0
	if t.Style == StyleRuled {
		hdr = 1
	}
	lines[hdr] = ansiBold + lines[hdr] + ansiReset
	u.println(u.out, strings.Join(lines, "\n"))
}

func (u *Interactive) Error(err error) {
	u.println(u.errOut, ansiBold+ansiRed+"Error: "+ansiReset+strings.TrimRight(err.Error(), "\n"))
}

// InputError shows the headline in bold red; the escape codes wrap the
// whole line, so a terminal still finds the file:line:col in it.
func (u *Interactive) InputError(headline string, hints ...string) {
	lines := append([]string{ansiBold + ansiRed + headline + ansiReset}, hintLines(hints)...)
	u.println(u.errOut, strings.Join(lines, "\n"))
}

func (u *Interactive) Stdout() io.Writer { return u.out }
func (u *Interactive) Interactive() bool { return true }

// Ask prints the question and reads the answer the terminal echoes.
func (u *Interactive) Ask(question string) (bool, error) {
	for {
		u.mu.Lock()
		fmt.Fprint(u.out, ansiBold+question+ansiReset+" [Y/n]: ")
		u.mu.Unlock()
		answer, err := u.readAnswer()
		if err != nil {
			u.println(u.out, "")
			return false, err
		}
		if yes, ok := parseAnswer(answer); ok {
			return yes, nil
		}
	}
}

// Step starts a spinner that redraws every Interval until Done or Fail.
func (u *Interactive) Step(msg string) Step {
	s := &spinner{u: u, msg: msg, stop: make(chan struct{}), stopped: make(chan struct{})}
	u.mu.Lock()
	u.step = s
	s.draw()
	u.mu.Unlock()
	go s.spin(u.Interval)
	return s
}

type spinner struct {
	u       *Interactive
	msg     string
	frame   int
	stop    chan struct{}
	stopped chan struct{}
	ended   bool
}

// draw writes the spinner line; the caller holds u.mu.
func (s *spinner) draw() {
	fmt.Fprint(s.u.out, clearLine+ansiCyan+spinnerFrames[s.frame%len(spinnerFrames)]+ansiReset+" "+s.msg)
}

func (s *spinner) spin(interval time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.u.mu.Lock()
			s.frame++
			s.draw()
			s.u.mu.Unlock()
		}
	}
}

func (s *spinner) Update(msg string) {
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	s.msg = msg
	s.draw()
}

func (s *spinner) Done(msg string) { s.end(ansiGreen+"✓ "+ansiReset, msg) }
func (s *spinner) Fail(msg string) { s.end(ansiRed+"✗ "+ansiReset, msg) }

func (s *spinner) end(mark, msg string) {
	if s.ended {
		return
	}
	s.ended = true
	close(s.stop)
	<-s.stopped
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if msg == "" {
		msg = s.msg
	}
	fmt.Fprint(s.u.out, clearLine+mark+msg+"\n")
	if s.u.step == s {
		s.u.step = nil
	}
}
