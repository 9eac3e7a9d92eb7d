package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Progress is how far an upload is.
type Progress struct {
	Files, TotalFiles int
	Bytes, TotalBytes int64
}

// UploadOptions tune UploadTree.
type UploadOptions struct {
	// Parallel is how many objects are stored at once; default 16.
	Parallel int
	// Progress is called after each object, never concurrently.
	Progress func(Progress)
	// Reuse is a key of the same store that already holds a tree with the
	// same Hash: its objects are copied server-side instead of uploaded
	// (an object the copy cannot find is uploaded). Ignored when it is
	// the key uploaded to.
	Reuse string
}

// defaultMode is the permission a file gets on the node unless the mode
// list says otherwise.
const defaultMode fs.FileMode = 0o644

// UploadTree stores t under key: a directory's file Rel at key/Rel (at Rel
// when key is "", the store's root), a single file at key itself. If a
// file's permission bits are not 0644 and modesKey is not "", it then
// writes the mode list to modesKey, JSON {"<rel>": "0755", ...} (a single
// file's rel is ""), and returns modesKey; else it returns "".
//
// Uploading the same tree to the same key again is harmless: a controller
// resumes a crashed upload by calling UploadTree again.
func UploadTree(ctx context.Context, st Store, t Tree, key, modesKey string, o UploadOptions) (string, error) {
	if !t.Dir && (len(t.Files) != 1 || key == "") {
		return "", fmt.Errorf("upload %s: a single file needs a key and one File", t.Root)
	}
	for _, k := range []string{key, modesKey, o.Reuse} {
		if k != "" {
			if err := checkKey(k); err != nil {
				return "", fmt.Errorf("upload %s: %w", t.Root, err)
			}
		}
	}
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = 16
	}
	reuse := o.Reuse
	if reuse == key {
		reuse = ""
	}
	var mu sync.Mutex
	p := Progress{TotalFiles: len(t.Files), TotalBytes: t.Bytes}
	err := forEach(ctx, len(t.Files), parallel, func(ctx context.Context, i int) error {
		f := t.Files[i]
		to := objectKey(key, f.Rel)
		copied := false
		if reuse != "" {
			err := st.Copy(ctx, objectKey(reuse, f.Rel), to)
			switch {
			case err == nil:
				copied = true
			case !errors.Is(err, ErrNotFound) && !errors.Is(err, errors.ErrUnsupported):
				return err
			}
		}
		if !copied {
			if err := putFile(ctx, st, t.Root, f, to); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		p.Files++
		p.Bytes += f.Size
		if o.Progress != nil {
			o.Progress(p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	modes := map[string]string{}
	for _, f := range t.Files {
		if f.Mode.Perm() != defaultMode {
			modes[f.Rel] = fmt.Sprintf("%04o", uint32(f.Mode.Perm()))
		}
	}
	if len(modes) == 0 || modesKey == "" {
		return "", nil
	}
	data, err := json.Marshal(modes)
	if err != nil {
		return "", err
	}
	if err := st.Put(ctx, modesKey, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", err
	}
	return modesKey, nil
}

// objectKey is the key of rel under base: base itself for a single file
// (rel ""), rel itself at the root (base "").
func objectKey(base, rel string) string {
	switch {
	case rel == "":
		return base
	case base == "":
		return rel
	}
	return base + "/" + rel
}

// putFile stores the file f of the tree at root under key, streaming it,
// and checks that it did not change since it was scanned.
func putFile(ctx context.Context, st Store, root string, f File, key string) error {
	p := root
	if f.Rel != "" {
		p = filepath.Join(root, filepath.FromSlash(f.Rel))
	}
	r, err := os.Open(p)
	if err != nil {
		return err
	}
	defer r.Close()
	changed := func() error {
		fi, err := r.Stat()
		if err != nil {
			return err
		}
		if fi.Size() != f.Size || (!f.ModTime.IsZero() && !fi.ModTime().Equal(f.ModTime)) {
			return fmt.Errorf("%s: %w; scan it again", p, ErrChanged)
		}
		return nil
	}
	if err := changed(); err != nil {
		return err
	}
	if err := st.Put(ctx, key, io.NewSectionReader(r, 0, f.Size), f.Size); err != nil {
		return err
	}
	return changed()
}

// DeletePrefix deletes every object under prefix ("job-x" deletes
// "job-x/..." and an object "job-x", not "job-xy/..."); "" deletes every
// object of the store.
func DeletePrefix(ctx context.Context, st Store, prefix string) error {
	prefix = strings.Trim(prefix, "/")
	under := ""
	if prefix != "" {
		under = prefix + "/"
	}
	objs, err := st.List(ctx, under)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(objs)+1)
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if prefix != "" {
		keys = append(keys, prefix)
	}
	return st.Delete(ctx, keys)
}

// forEach runs fn(ctx, 0..n-1) on at most parallel goroutines and returns
// the first error; after an error or when ctx is done it starts no more,
// and the ctx given to fn is done.
func forEach(ctx context.Context, n, parallel int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
