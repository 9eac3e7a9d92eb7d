package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Modes fetched trees and files get unless a mode list says otherwise.
const (
	defaultFileMode fs.FileMode = 0o644
	defaultDirMode  fs.FileMode = 0o755
)

// modeList is a parsed mode list: the JSON object {"<rel>": "0755", ...}
// stored beside an upload, rel slash-separated under the tree ("" for the
// tree itself, or for a single-file upload).
type modeList map[string]fs.FileMode

// parseModes reads a mode list. Modes are octal strings of permission
// bits, with setuid, setgid and sticky allowed ("4755").
func parseModes(data []byte) (modeList, error) {
	var raw map[string]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of octal modes: %w", err)
	}
	modes := make(modeList, len(raw))
	for rel, s := range raw {
		if rel != "" && !filepath.IsLocal(filepath.FromSlash(rel)) {
			return nil, fmt.Errorf("path %q: not a relative path inside the upload", rel)
		}
		n, err := strconv.ParseUint(s, 8, 32)
		if err != nil || n > 0o7777 {
			return nil, fmt.Errorf("path %q: mode %q: want an octal mode such as \"0755\"", rel, s)
		}
		m := fs.FileMode(n & 0o777)
		if n&0o4000 != 0 {
			m |= fs.ModeSetuid
		}
		if n&0o2000 != 0 {
			m |= fs.ModeSetgid
		}
		if n&0o1000 != 0 {
			m |= fs.ModeSticky
		}
		modes[rel] = m
	}
	return modes, nil
}

// apply sets the listed modes under root (the placed tree, or the placed
// file). A listed path that is not there is reported to skipped.
func (ml modeList) apply(root string, skipped func(rel string)) error {
	rels := make([]string, 0, len(ml))
	for rel := range ml {
		rels = append(rels, rel)
	}
	// Parents before children, so a listed directory is reachable while
	// its entries are set.
	sort.Strings(rels)
	var dirs []string
	for _, rel := range rels {
		p := root
		if rel != "" && rel != "." {
			p = filepath.Join(root, filepath.FromSlash(rel))
		}
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			skipped(rel)
			continue
		case err != nil:
			return err
		case fi.IsDir():
			// Directories last: a read-only one would stop the rest.
			dirs = append(dirs, rel)
			continue
		case fi.Mode()&fs.ModeSymlink != 0:
			continue
		}
		if err := os.Chmod(p, ml[rel]); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		p := root
		if rel := dirs[i]; rel != "" && rel != "." {
			p = filepath.Join(root, filepath.FromSlash(rel))
		}
		if err := os.Chmod(p, ml[dirs[i]]); err != nil {
			return err
		}
	}
	return nil
}
