package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// base holds what both UIs share: the streams, one reader over stdin (so
// buffered answers are not lost between questions) and a lock so lines
// from several goroutines never interleave.
type base struct {
	mu     sync.Mutex
	in     *bufio.Reader
	out    io.Writer
	errOut io.Writer
}

func newBase(in io.Reader, out, errOut io.Writer) base {
	if in == nil {
		in = strings.NewReader("")
	}
	return base{in: bufio.NewReader(in), out: out, errOut: errOut}
}

// readAnswer reads one line; io.EOF with nothing read means no answer.
func (b *base) readAnswer() (string, error) {
	line, err := b.in.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%w: pass -y/--yes to proceed without confirmation", ErrNoAnswer)
		}
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// parseAnswer maps an answer to yes/no; ok is false for anything else.
func parseAnswer(s string) (yes, ok bool) {
	switch strings.ToLower(s) {
	case "", "y", "yes":
		return true, true
	case "n", "no":
		return false, true
	}
	return false, false
}

// hintLines are an input error's hints, indented; empty ones are dropped.
func hintLines(hints []string) []string {
	var lines []string
	for _, h := range hints {
		if h != "" {
			lines = append(lines, "  "+h)
		}
	}
	return lines
}

// Plain is the UI for pipes, files and CI: no colour, no animation, every
// step start and end on its own line. Its output is stable enough to diff.
type Plain struct{ base }

var _ UI = (*Plain)(nil)

// NewPlain returns a plain UI.
func NewPlain(in io.Reader, out, errOut io.Writer) *Plain {
	return &Plain{base: newBase(in, out, errOut)}
}

func (p *Plain) println(w io.Writer, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(w, s)
}

func (p *Plain) Output(format string, args ...any) { p.println(p.out, fmt.Sprintf(format, args...)) }
func (p *Plain) Success(format string, args ...any) {
	p.println(p.out, "✓ "+fmt.Sprintf(format, args...))
}
func (p *Plain) Failure(format string, args ...any) {
	p.println(p.out, "✗ "+fmt.Sprintf(format, args...))
}
func (p *Plain) Warn(format string, args ...any) {
	p.println(p.errOut, "Warning: "+fmt.Sprintf(format, args...))
}

func (p *Plain) Info(format string, args ...any) { p.println(p.errOut, fmt.Sprintf(format, args...)) }

func (p *Plain) Table(t Table) { p.println(p.out, strings.Join(t.Lines(), "\n")) }

func (p *Plain) Error(err error) {
	p.println(p.errOut, "Error: "+strings.TrimRight(err.Error(), "\n"))
}

func (p *Plain) InputError(headline string, hints ...string) {
	p.println(p.errOut, strings.Join(append([]string{headline}, hintLines(hints)...), "\n"))
}

func (p *Plain) Stdout() io.Writer { return p.out }
func (p *Plain) Interactive() bool { return false }

// Ask prints the question, reads a line and echoes it, so a transcript
// shows what was answered. An unrecognised answer asks again.
func (p *Plain) Ask(question string) (bool, error) {
	for {
		p.mu.Lock()
		fmt.Fprint(p.out, question+" [Y/n]: ")
		p.mu.Unlock()
		answer, err := p.readAnswer()
		p.println(p.out, answer)
		if err != nil {
			return false, err
		}
		if yes, ok := parseAnswer(answer); ok {
			return yes, nil
		}
	}
}

// Step prints "⚙︎ msg..." now and "✓ msg" or "✗ msg" when it ends.
func (p *Plain) Step(msg string) Step {
	p.println(p.out, "⚙︎ "+msg+"...")
	return &plainStep{p: p, msg: msg}
}

type plainStep struct {
	p     *Plain
	msg   string
	ended bool
}

func (s *plainStep) Update(msg string) {
	s.msg = msg
	s.p.println(s.p.out, "  "+msg)
}

func (s *plainStep) Done(msg string) { s.end("✓ ", msg) }
func (s *plainStep) Fail(msg string) { s.end("✗ ", msg) }

func (s *plainStep) end(mark, msg string) {
	if s.ended {
		return
	}
	s.ended = true
	if msg == "" {
		msg = s.msg
	}
	s.p.println(s.p.out, mark+msg)
}
