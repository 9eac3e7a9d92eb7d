package driver

import (
	"bytes"
	"io"
	"reflect"
	"sync"
)

// maxPartialLine bounds how much of an unterminated line is held back; a
// longer line is written in pieces, each with the prefix.
const maxPartialLine = 64 << 10

// PrefixWriter writes each line it receives to an underlying writer with a
// prefix. Complete lines are passed on in one Write per call; a trailing
// partial line is held until its newline arrives or Flush is called.
type PrefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  []byte
	pending []byte
}

// NewPrefixWriter returns a PrefixWriter that writes to w.
func NewPrefixWriter(w io.Writer, prefix string) *PrefixWriter {
	return &PrefixWriter{w: w, prefix: []byte(prefix)}
}

// Write implements io.Writer.
func (p *PrefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	rest := b
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		out = append(out, p.prefix...)
		out = append(out, p.pending...)
		out = append(out, rest[:i+1]...)
		p.pending = p.pending[:0]
		rest = rest[i+1:]
	}
	p.pending = append(p.pending, rest...)
	if len(p.pending) >= maxPartialLine {
		out = append(out, p.prefix...)
		out = append(out, p.pending...)
		out = append(out, '\n')
		p.pending = p.pending[:0]
	}
	if len(out) > 0 {
		if _, err := p.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush writes a held partial line, terminated by a newline.
func (p *PrefixWriter) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return nil
	}
	out := make([]byte, 0, len(p.prefix)+len(p.pending)+1)
	out = append(append(append(out, p.prefix...), p.pending...), '\n')
	p.pending = p.pending[:0]
	_, err := p.w.Write(out)
	return err
}

// syncWriter serializes writes of several PrefixWriters sharing one output.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// sameWriter reports whether a and b are the same writer (so their output
// must share one lock).
func sameWriter(a, b io.Writer) bool {
	if a == nil || b == nil || !reflect.TypeOf(a).Comparable() || !reflect.TypeOf(b).Comparable() {
		return false
	}
	return a == b
}
