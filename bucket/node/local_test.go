package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/bucket/node/internal/nodetest"
	"github.com/skynomad/skynomad/internal/treetest"
)

// jobUpload is what package bucket stores for job-1: a workdir, a tree,
// a single file and a second tree, with mode lists.
var jobUpload = map[string]string{
	"job-1/workdir/run.sh":                 "echo run",
	"job-1/workdir/src/main.py":            "print()",
	"job-1/workdir/src/sub/x.txt":          "x",
	"job-1/tmp-files/workdir-modes.json":   `{"run.sh": "0755", "src/sub": "0700"}`,
	"job-1/local-file-mounts/0/a.txt":      "a",
	"job-1/local-file-mounts/0/b/c.txt":    "c",
	"job-1/tmp-files/modes-0.json":         `{"b/c.txt": "0600"}`,
	"job-1/local-file-mounts/1":            "key: value",
	"job-1/tmp-files/modes-1.json":         `{"": "0600"}`,
	"job-1/local-file-mounts/2/d.txt":      "d",
	"job-1/tmp-files/modes-missing.json":   `{"not-there": "0755"}`,
	"job-1/tmp-files/not-a-mode-list.json": `[1, 2]`,
}

// jobFiles are the Files for jobUpload under store, with a copy to an
// absolute path under root, to ~/ and to a path relative to the workdir.
func jobFiles(store, root string) node.Files {
	return node.Files{
		Store:        store,
		Workdir:      "job-1/workdir",
		WorkdirModes: "job-1/tmp-files/workdir-modes.json",
		Copies: []node.Copy{
			{Key: "job-1/local-file-mounts/0", Dir: true, Modes: "job-1/tmp-files/modes-0.json", Path: filepath.Join(root, "abs", "tree")},
			{Key: "job-1/local-file-mounts/1", Modes: "job-1/tmp-files/modes-1.json", Path: "~/conf/app.yaml"},
			{Key: "job-1/local-file-mounts/2", Dir: true, Modes: "job-1/tmp-files/modes-missing.json", Path: "rel/data"},
		},
	}
}

// nodeDirs makes a node's home and workdir under a fresh directory, the
// workdir already holding what an earlier attempt left.
func nodeDirs(t *testing.T) (root, home, workdir string) {
	root = t.TempDir()
	home = filepath.Join(root, "home")
	workdir = filepath.Join(home, "sky_workdir")
	treetest.Write(t, workdir, map[string]string{"old.txt": "old", "src/main.py": "stale"}, nil)
	treetest.Write(t, filepath.Join(root, "abs", "tree"), map[string]string{"stale.txt": "stale"}, nil)
	return root, home, workdir
}

// checkJobFiles asserts what the task sees once jobFiles are fetched.
func checkJobFiles(t *testing.T, root, home, workdir string) {
	t.Helper()
	want := map[string]string{
		"old.txt":        "0644 old",
		"run.sh":         "0755 echo run",
		"src/":           "0755",
		"src/main.py":    "0644 print()",
		"src/sub/":       "0700",
		"src/sub/x.txt":  "0644 x",
		"rel/":           "0755",
		"rel/data/":      "0755",
		"rel/data/d.txt": "0644 d",
	}
	if diff := cmp.Diff(want, nodetest.Tree(t, workdir)); diff != "" {
		t.Errorf("workdir (-want +got):\n%s", diff)
	}
	want = map[string]string{"a.txt": "0644 a", "b/": "0755", "b/c.txt": "0600 c"}
	if diff := cmp.Diff(want, nodetest.Tree(t, filepath.Join(root, "abs", "tree"))); diff != "" {
		t.Errorf("copy to an absolute path (-want +got):\n%s", diff)
	}
	want = map[string]string{"conf/": "0755", "conf/app.yaml": "0600 key: value", "sky_workdir/": "0755"}
	got := nodetest.Tree(t, home)
	for k := range got {
		if strings.HasPrefix(k, "sky_workdir/") && k != "sky_workdir/" {
			delete(got, k)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("home (-want +got):\n%s", diff)
	}
}

func logTo(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) { t.Logf(format, args...) }
}

func TestFetchLocalStore(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	treetest.Write(t, store, jobUpload, nil)
	bucket := t.TempDir()
	treetest.Write(t, bucket, map[string]string{"data/e.txt": "e"}, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(bucket, "data", "link")); err != nil {
		t.Fatal(err)
	}
	root, home, workdir := nodeDirs(t)

	f := jobFiles("file://"+store, root)
	f.Buckets = []node.Bucket{{URL: "file://" + bucket, Mode: node.ModeCopy, Path: filepath.Join(root, "copied")}}
	m, err := node.Fetch(context.Background(), f, node.Options{Workdir: workdir, Home: home, Env: []string{}, Log: logTo(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount(context.Background())

	checkJobFiles(t, root, home, workdir)
	// A store holds files: the link is not copied.
	want := map[string]string{"data/": "0755", "data/e.txt": "0644 e"}
	if diff := cmp.Diff(want, nodetest.Tree(t, filepath.Join(root, "copied"))); diff != "" {
		t.Errorf("COPY bucket (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(home, "sky_workdir", "src", "sub")); err != nil {
		t.Error(err)
	}
}

// TestMountLocalBucket is the checkpoint pattern on a file:// bucket: an
// attempt writes through the mount, a later one reads it back.
func TestMountLocalBucket(t *testing.T) {
	t.Parallel()
	bucket := t.TempDir()
	for _, mode := range []string{node.ModeMount, node.ModeMountCached} {
		root, home, workdir := nodeDirs(t)
		ckpt := filepath.Join(home, "ckpt")
		if err := os.MkdirAll(ckpt, 0o755); err != nil { // an empty directory is replaced
			t.Fatal(err)
		}
		f := node.Files{Buckets: []node.Bucket{{URL: "file://" + bucket + "/run1", Mode: mode, Path: "~/ckpt"}}}
		if err := os.MkdirAll(filepath.Join(bucket, "run1"), 0o755); err != nil {
			t.Fatal(err)
		}
		o := node.Options{Workdir: workdir, Home: home, Env: []string{}, Log: logTo(t)}
		m, err := node.Fetch(context.Background(), f, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ckpt, mode+".txt"), []byte("step 1"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(bucket, "run1", mode+".txt")); err != nil || string(got) != "step 1" {
			t.Errorf("%s: bucket holds %q, %v; want the write at once", mode, got, err)
		}
		if err := m.Unmount(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(ckpt); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: after Unmount, %s: %v; want it gone", mode, ckpt, err)
		}
		if err := m.Unmount(context.Background()); err != nil {
			t.Errorf("second Unmount: %v", err)
		}

		// The next attempt sees what this one wrote.
		m, err = node.Fetch(context.Background(), f, o)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(ckpt, mode+".txt")); err != nil || string(got) != "step 1" {
			t.Errorf("%s: next attempt reads %q, %v", mode, got, err)
		}
		if err := m.Unmount(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = root
	}
}

func TestFetchLocalErrors(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	treetest.Write(t, store, jobUpload, nil)
	st := "file://" + store
	tests := []struct {
		name     string
		files    func(root string) node.Files
		opts     func(o *node.Options)
		wantErr  []string // all in the message
		notFound bool
	}{{
		name:     "missing workdir",
		files:    func(string) node.Files { return node.Files{Store: st, Workdir: "job-2/workdir"} },
		wantErr:  []string{"workdir /", "sky_workdir (file://" + store + "/job-2/workdir): not found"},
		notFound: true,
	}, {
		name: "missing mode list",
		files: func(string) node.Files {
			return node.Files{Store: st, Workdir: "job-1/workdir", WorkdirModes: "job-1/tmp-files/nope.json"}
		},
		wantErr:  []string{"mode list file://" + store + "/job-1/tmp-files/nope.json: not found"},
		notFound: true,
	}, {
		name: "bad mode list",
		files: func(string) node.Files {
			return node.Files{Store: st, Workdir: "job-1/workdir", WorkdirModes: "job-1/tmp-files/not-a-mode-list.json"}
		},
		wantErr: []string{"not a JSON object of octal modes"},
	}, {
		name: "a file where a tree was uploaded",
		files: func(root string) node.Files {
			return node.Files{Store: st, Copies: []node.Copy{{Key: "job-1/local-file-mounts/1", Dir: true, Path: root + "/abs/tree"}}}
		},
		wantErr: []string{"file mount " + "/", "/abs/tree (file://" + store + "/job-1/local-file-mounts/1): the store holds a single file where a directory was uploaded"},
	}, {
		name: "copy over the home directory",
		files: func(string) node.Files {
			return node.Files{Store: st, Copies: []node.Copy{{Key: "job-1/local-file-mounts/0", Dir: true, Path: "~"}}}
		},
		wantErr: []string{"refusing to replace", "it is the home directory"},
	}, {
		name: "copy over the workdir",
		files: func(string) node.Files {
			return node.Files{Store: st, Copies: []node.Copy{{Key: "job-1/local-file-mounts/0", Dir: true, Path: "."}}}
		},
		wantErr: []string{"refusing to replace", "it is the workdir"},
	}, {
		name: "copy over a parent of the workdir",
		files: func(root string) node.Files {
			return node.Files{Store: st, Copies: []node.Copy{{Key: "job-1/local-file-mounts/0", Dir: true, Path: root}}}
		},
		wantErr: []string{"refusing to replace", "it holds the home directory"},
	}, {
		name: "mount of a missing directory",
		files: func(string) node.Files {
			return node.Files{Buckets: []node.Bucket{{URL: "file://" + store + "/nope", Mode: node.ModeMount, Path: "/tmp/never"}}}
		},
		wantErr:  []string{"file mount /tmp/never (MOUNT file://" + store + "/nope): directory " + store + "/nope: not found"},
		notFound: true,
	}, {
		name: "mount on a directory that is not empty",
		files: func(root string) node.Files {
			return node.Files{Buckets: []node.Bucket{{URL: st, Path: root + "/abs/tree"}}}
		},
		wantErr: []string{"(MOUNT file://", "not empty"},
	}, {
		name: "unknown mode",
		files: func(string) node.Files {
			return node.Files{Buckets: []node.Bucket{{URL: st, Mode: "SYNC", Path: "/tmp/never"}}}
		},
		wantErr: []string{`unknown mode "SYNC"`},
	}, {
		name: "unknown store",
		files: func(string) node.Files {
			return node.Files{Buckets: []node.Bucket{{URL: "r2://b", Mode: node.ModeCopy, Path: "/tmp/never"}}}
		},
		wantErr: []string{`unsupported store "r2://"`},
	}, {
		name: "no rclone",
		files: func(string) node.Files {
			return node.Files{Store: "s3://jobs", Workdir: "job-1/workdir"}
		},
		opts:    func(o *node.Options) { o.Rclone = "/nonexistent/rclone" },
		wantErr: []string{"(s3://jobs/job-1/workdir): s3:// and gs:// need rclone"},
	}, {
		name:    "relative workdir",
		files:   func(string) node.Files { return node.Files{} },
		opts:    func(o *node.Options) { o.Workdir = "sky_workdir" },
		wantErr: []string{`Options.Workdir "sky_workdir": want an absolute path`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, home, workdir := nodeDirs(t)
			o := node.Options{Workdir: workdir, Home: home, Env: []string{}, Log: logTo(t)}
			if tt.opts != nil {
				tt.opts(&o)
			}
			before := nodetest.Tree(t, root)
			m, err := node.Fetch(context.Background(), tt.files(root), o)
			if err == nil {
				m.Unmount(context.Background())
				t.Fatal("Fetch succeeded")
			}
			t.Log(err)
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := errors.Is(err, node.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
			}
			// Nothing half done.
			if diff := cmp.Diff(before, nodetest.Tree(t, root)); diff != "" {
				t.Errorf("node changed by a failed Fetch (-before +after):\n%s", diff)
			}
		})
	}
}

// TestFetchErrorUndoesMounts: a failure after a mount leaves no mount.
func TestFetchErrorUndoesMounts(t *testing.T) {
	t.Parallel()
	bucket := t.TempDir()
	root, home, workdir := nodeDirs(t)
	f := node.Files{Buckets: []node.Bucket{
		{URL: "file://" + bucket, Mode: node.ModeMount, Path: "~/ckpt"},
		{URL: "file://" + bucket + "/missing", Mode: node.ModeCopy, Path: "~/data"},
	}}
	_, err := node.Fetch(context.Background(), f, node.Options{Workdir: workdir, Home: home, Env: []string{}})
	if !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Fetch: %v, want ErrNotFound", err)
	}
	if _, err := os.Lstat(filepath.Join(home, "ckpt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first mount's link: %v; want it gone", err)
	}
	_ = root
}
