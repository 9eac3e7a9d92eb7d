package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// File is one regular file of a Tree.
type File struct {
	// Rel is the path under the tree's root, "/"-separated; "" when the
	// tree is one file.
	Rel  string
	Size int64
	// Mode is the file's permission bits.
	Mode fs.FileMode
	// Sum is the hex SHA-256 of the content.
	Sum string
	// ModTime is when the file was last modified at the scan; UploadTree
	// refuses a file whose size or ModTime changed since (ErrChanged). It
	// is not part of the hash.
	ModTime time.Time
}

// Tree is what Scan found under a path.
type Tree struct {
	// Root is the absolute path scanned.
	Root string
	// Dir is true for a directory, false for one file.
	Dir bool
	// Files are sorted by Rel.
	Files []File
	// Bytes totals the files' sizes.
	Bytes int64
	// Hash is the SHA-256, "sha256:<hex>", of the files' paths,
	// permission bits, sizes and contents: two trees with the same Hash
	// hold the same files, wherever they are.
	Hash string
}

// scanReaders is how many files Scan reads at once: enough to keep a disk
// or a network file system busy, few enough for a 2-core machine.
const scanReaders = 8

// Ignore files.
const (
	skyignore = ".skyignore"
	gitignore = ".gitignore"
)

// Scan reads the file or the directory at path. A directory's tree is
// every regular file under it, less those its ignore rules exclude: if it
// has a .skyignore at its root, only that file's rules apply (gitignore
// syntax, relative to the root); otherwise .gitignore files apply as git
// applies them (each to its own directory and below, a deeper one taking
// precedence), after the root's .git/info/exclude. An excluded directory
// is not entered, so nothing under it can be re-included. The root's .git
// directory is always left out, as SkyPilot does.
//
// A symlink to a file is read as the file. A symlinked directory is not
// followed (it could loop, or reach far outside the tree); it is left out,
// as are broken symlinks and special files. Empty directories are not kept:
// object stores have none.
func Scan(p string) (Tree, error) {
	root, err := filepath.Abs(p)
	if err != nil {
		return Tree{}, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return Tree{}, err
	}
	t := Tree{Root: root, Dir: fi.IsDir()}
	switch {
	case fi.Mode().IsRegular():
		t.Files = []File{{Rel: ""}}
	case fi.IsDir():
		if t.Files, err = walkTree(root); err != nil {
			return Tree{}, err
		}
	default:
		return Tree{}, fmt.Errorf("%s is neither a regular file nor a directory", root)
	}
	if err := hashFiles(root, t.Files); err != nil {
		return Tree{}, err
	}
	h := sha256.New()
	io.WriteString(h, "skynomad-tree-v1\x00")
	for _, f := range t.Files {
		t.Bytes += f.Size
		io.WriteString(h, f.Rel)
		var num [1 + 4 + 8]byte // NUL, mode, size
		binary.BigEndian.PutUint32(num[1:], uint32(f.Mode.Perm()))
		binary.BigEndian.PutUint64(num[5:], uint64(f.Size))
		h.Write(num[:])
		sum, _ := hex.DecodeString(f.Sum)
		h.Write(sum)
	}
	t.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return t, nil
}

// walkTree lists the files under root that the ignore rules keep, sorted
// by Rel; their sizes and modes are filled in by hashFiles.
func walkTree(root string) ([]File, error) {
	var st ignores
	data, err := os.ReadFile(filepath.Join(root, skyignore))
	useGit := errors.Is(err, fs.ErrNotExist)
	switch {
	case err == nil:
		st = ignores{parseIgnore("", data)}
	case !useGit:
		return nil, err
	default:
		data, err := os.ReadFile(filepath.Join(root, ".git", "info", "exclude"))
		if err == nil {
			st = ignores{parseIgnore("", data)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	var files []File
	var walk func(rel string, st ignores) error
	walk = func(rel string, st ignores) error {
		dir := filepath.Join(root, filepath.FromSlash(rel))
		if useGit {
			data, err := os.ReadFile(filepath.Join(dir, gitignore))
			if err == nil {
				st = append(st[:len(st):len(st)], parseIgnore(rel, data))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !utf8.ValidString(e.Name()) {
				return fmt.Errorf("%s: the name is not valid UTF-8, which object keys must be", filepath.Join(dir, e.Name()))
			}
			r := path.Join(rel, e.Name())
			isDir := e.IsDir()
			if e.Type()&fs.ModeSymlink != 0 {
				fi, err := os.Stat(filepath.Join(dir, e.Name()))
				if err != nil || !fi.Mode().IsRegular() {
					continue // broken, or a directory: not followed
				}
			} else if !isDir && !e.Type().IsRegular() {
				continue
			}
			if (isDir && r == ".git") || st.ignored(r, isDir) {
				continue
			}
			if isDir {
				if err := walk(r, st); err != nil {
					return err
				}
				continue
			}
			files = append(files, File{Rel: r})
		}
		return nil
	}
	if err := walk("", st); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Rel, b.Rel) })
	return files, nil
}

// hashFiles reads every file on scanReaders goroutines, filling in its
// size, mode, time and sum.
func hashFiles(root string, files []File) error {
	return forEach(context.Background(), len(files), scanReaders, func(_ context.Context, i int) error {
		f := &files[i]
		p := filepath.Join(root, filepath.FromSlash(f.Rel))
		r, err := os.Open(p)
		if err != nil {
			return err
		}
		defer r.Close()
		fi, err := r.Stat()
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return err
		}
		if n != fi.Size() {
			return fmt.Errorf("%s: %w (it changed while it was read)", p, ErrChanged)
		}
		f.Size, f.Mode, f.ModTime = n, fi.Mode().Perm(), fi.ModTime()
		f.Sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
}
