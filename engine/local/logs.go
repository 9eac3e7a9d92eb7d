package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/skynomad/skynomad/engine"
)

// Logs implements engine.Engine: every node's output.log in rank order
// (the runner already prefixed each line). Tail counts lines from the end
// of that merged output. With Follow the reader goes on with new lines of
// every node until the attempt has ended, then returns io.EOF.
func (e *Engine) Logs(ctx context.Context, ref engine.Ref, opts engine.LogOptions) (io.ReadCloser, error) {
	dir := e.attemptDir(ref)
	rec, err := readAttempt(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, engine.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	n := rec.Nodes()
	paths := make([]string, n)
	sizes := make([]int64, n)
	for i := range paths {
		paths[i] = filepath.Join(nodeDir(dir, i), outputLog)
		if fi, err := os.Stat(paths[i]); err == nil {
			sizes[i] = fi.Size()
		}
	}
	starts := make([]int64, n)
	if opts.Tail > 0 {
		if starts, err = tailStarts(paths, sizes, opts.Tail); err != nil {
			return nil, err
		}
	}
	if !opts.Follow {
		var readers []io.Reader
		var files []*os.File
		for i, p := range paths {
			if starts[i] >= sizes[i] {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				closeAll(files)
				return nil, err
			}
			files = append(files, f)
			readers = append(readers, io.NewSectionReader(f, starts[i], sizes[i]-starts[i]))
		}
		return &multiReadCloser{Reader: io.MultiReader(readers...), files: files}, nil
	}
	pr, pw := io.Pipe()
	f := &follower{dir: dir, paths: paths, offsets: starts, nodes: n, poll: min(e.cfg.PollInterval, followPoll), w: pw}
	go f.run(ctx, sizes)
	return pr, nil
}

type multiReadCloser struct {
	io.Reader
	files []*os.File
}

func (m *multiReadCloser) Close() error {
	closeAll(m.files)
	return nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// tailStarts returns, per file, the offset where the last n lines of the
// files' concatenation start.
func tailStarts(paths []string, sizes []int64, n int) ([]int64, error) {
	starts := append([]int64(nil), sizes...) // by default nothing of a file
	for i := len(paths) - 1; i >= 0 && n > 0; i-- {
		if sizes[i] == 0 {
			continue
		}
		off, lines, err := lastLines(paths[i], sizes[i], n)
		if err != nil {
			return nil, err
		}
		starts[i] = off
		n -= lines
	}
	return starts, nil
}

// lastLines finds where the last n lines of the first size bytes of path
// start, and how many lines (up to n) that is.
func lastLines(path string, size int64, n int) (int64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	end := size
	lines := 0
	// The newline that ends the last line does not start a line.
	skip := true
	for end > 0 {
		start := max(end-chunk, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				skip = false
				continue
			}
			if skip {
				skip = false
				continue
			}
			lines++
			if lines == n {
				return start + int64(i) + 1, n, nil
			}
		}
		end = start
	}
	if size > 0 {
		lines++ // the first line has no newline before it
	}
	return 0, min(lines, n), nil
}

// follower copies the nodes' logs to w as they grow.
type follower struct {
	dir     string
	paths   []string
	offsets []int64
	nodes   int
	poll    time.Duration
	w       *io.PipeWriter
}

func (f *follower) run(ctx context.Context, initial []int64) {
	// What was there at the start, in rank order.
	for i := range f.paths {
		if err := f.copyUpTo(i, initial[i], false); err != nil {
			f.w.CloseWithError(err)
			return
		}
	}
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		ended := f.ended()
		for i := range f.paths {
			// Whole lines only while nodes write, so lines of different
			// nodes never mix; the rest once the attempt has ended.
			if err := f.copyUpTo(i, -1, !ended); err != nil {
				f.w.CloseWithError(err)
				return
			}
		}
		if ended {
			f.w.Close()
			return
		}
		select {
		case <-ctx.Done():
			f.w.CloseWithError(ctx.Err())
			return
		case <-t.C:
		}
	}
}

// copyUpTo writes node i's log from its offset to limit (-1: the end),
// stopping after the last newline when wholeLines is set (unless a line is
// longer than a whole chunk).
func (f *follower) copyUpTo(i int, limit int64, wholeLines bool) error {
	file, err := os.Open(f.paths[i])
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	if limit < 0 {
		fi, err := file.Stat()
		if err != nil {
			return err
		}
		limit = fi.Size()
	}
	const chunk = 256 << 10
	buf := make([]byte, min(chunk, max(limit-f.offsets[i], 0)))
	for f.offsets[i] < limit {
		b := buf[:min(int64(len(buf)), limit-f.offsets[i])]
		n, err := file.ReadAt(b, f.offsets[i])
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		b = b[:n]
		if wholeLines && len(b) < chunk {
			b = b[:bytes.LastIndexByte(b, '\n')+1]
		}
		if len(b) == 0 {
			return nil
		}
		if _, err := f.w.Write(b); err != nil {
			return err
		}
		f.offsets[i] += int64(len(b))
	}
	return nil
}

// ended: the attempt's end was recorded, or every node's runner was
// started and has ended.
func (f *follower) ended() bool {
	if exists(filepath.Join(f.dir, eventFile)) {
		return true
	}
	for i := range f.nodes {
		if !observeNode(nodeDir(f.dir, i)).done() {
			return false
		}
	}
	return true
}
