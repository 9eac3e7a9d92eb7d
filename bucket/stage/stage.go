// Package stage carries a job's local files from the machine `jobs
// launch` runs on to a controller that cannot read them (it runs
// elsewhere: the Nomad job of deploy-nomad.md). The CLI packs each local
// path (a tree after the same .skyignore / .gitignore rules as the
// job-files bucket, or one file) as a gzipped tar; the controller unpacks
// it under its staging directory, and the job names the staged copy. The
// controller uploads it to the job-files bucket like any local path, then
// removes it.
package stage

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/skynomad/skynomad/bucket"
)

// entry is the name of the staged path inside an archive and of a stage
// directory: a tree is entry/..., a file is entry itself.
const entry = "data"

// Pack writes the gzipped tar of the local path p to w: a file, or the
// files of a tree that the job-files bucket would upload.
func Pack(w io.Writer, p string) error {
	t, err := bucket.Scan(p)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, f := range t.Files {
		name, src := entry, t.Root
		if t.Dir {
			name, src = entry+"/"+f.Rel, filepath.Join(t.Root, filepath.FromSlash(f.Rel))
		}
		if err := addFile(tw, name, src, f); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func addFile(tw *tar.Writer, name, src string, f bucket.File) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: f.Size, Mode: int64(f.Mode.Perm()), ModTime: f.ModTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, in, f.Size); err != nil {
		return fmt.Errorf("%s: %w (did it change while it was sent?)", src, err)
	}
	return nil
}

// Unpack reads an archive Pack wrote into a new directory under root and
// returns the staged path: root/<id>/data, a tree or a file. Only
// regular files and their directories are written, never outside it.
func Unpack(r io.Reader, root string) (string, error) {
	id := make([]byte, 8)
	rand.Read(id)
	dir := filepath.Join(root, time.Now().UTC().Format("20060102T150405")+"-"+hex.EncodeToString(id))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	out, err := unpack(r, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return out, nil
}

func unpack(r io.Reader, dir string) (string, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", fmt.Errorf("staged files: %w", err)
	}
	tr := tar.NewReader(zr)
	dest := filepath.Join(dir, entry)
	tree := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("staged files: %w", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || (name != entry && !strings.HasPrefix(name, entry+"/")) {
			return "", fmt.Errorf("staged files: unexpected entry %q", hdr.Name)
		}
		tree = tree || name != entry
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(hdr.Mode).Perm())
		if err != nil {
			return "", err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	if _, err := os.Lstat(dest); errors.Is(err, fs.ErrNotExist) && !tree {
		// An empty tree: still a directory.
		if err := os.Mkdir(dest, 0o755); err != nil {
			return "", err
		}
	}
	return dest, nil
}

// Owns reports whether p is a staged path under root, and returns its
// stage directory.
func Owns(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", false
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	return filepath.Join(root, first), true
}

// Sweep removes the stage directories under root older than age that keep
// does not want (a launch that never submitted, a job that ended).
func Sweep(root string, age time.Duration, keep func(dir string) bool) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < age || keep(dir) {
			continue
		}
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}
