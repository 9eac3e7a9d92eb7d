package translator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/task"
)

// pathsFixture is a caller's machine: a project directory with a workdir
// and a file to mount, and a home with a dotfile.
func pathsFixture(t *testing.T) (proj, home string) {
	t.Helper()
	root := t.TempDir()
	proj, home = filepath.Join(root, "proj"), filepath.Join(root, "home")
	for _, d := range []string{filepath.Join(proj, "wd"), filepath.Join(proj, "data"), home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(proj, "local.txt"), filepath.Join(home, ".netrc")} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proj, home
}

func TestLocalPathsAreTheCallers(t *testing.T) {
	t.Parallel()
	proj, home := pathsFixture(t)
	const file = `name: rel
workdir: ./wd
file_mounts:
  /data/local.txt: ./local.txt
  /data/dir: data
  ~/.netrc: ~/.netrc
  /remote: s3://bucket/prefix
  /ckpt:
    name: ckpt-bucket
run: ls
`
	lp := &LocalPaths{Dir: proj, Home: home, Stat: os.Stat}
	dag, err := Load("task.yaml", []byte(file), LoadOptions{LocalPaths: lp})
	if err != nil {
		t.Fatal(err)
	}
	tk := dag.Tasks[0]
	if got, want := tk.Workdir.Path, filepath.Join(proj, "wd"); got != want {
		t.Errorf("workdir %q, want %q", got, want)
	}
	want := []task.Mount{
		{Dest: "/data/local.txt", Source: filepath.Join(proj, "local.txt")},
		{Dest: "/data/dir", Source: filepath.Join(proj, "data")},
		{Dest: "~/.netrc", Source: filepath.Join(home, ".netrc")},
		{Dest: "/remote", Source: "s3://bucket/prefix"},
		{Dest: "/ckpt", BucketName: "ckpt-bucket", Mode: task.MountModeMount},
	}
	if diff := cmp.Diff(want, tk.Mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}

	// `workdir: .` is the directory the command runs in, and --workdir is
	// read the same way.
	dag, err = Load("task.yaml", []byte("workdir: .\nrun: ls\n"), LoadOptions{LocalPaths: lp})
	if err != nil {
		t.Fatal(err)
	}
	if got := dag.Tasks[0].Workdir.Path; got != proj {
		t.Errorf("workdir . became %q, want %q", got, proj)
	}
	dag, err = Load("task.yaml", []byte("workdir: .\nrun: ls\n"),
		LoadOptions{LocalPaths: lp, Overrides: Overrides{Workdir: "data"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dag.Tasks[0].Workdir.Path, filepath.Join(proj, "data"); got != want {
		t.Errorf("--workdir data became %q, want %q", got, want)
	}
}

func TestLocalPathErrors(t *testing.T) {
	t.Parallel()
	proj, home := pathsFixture(t)
	lp := &LocalPaths{Dir: proj, Home: home, Stat: os.Stat}
	tests := []struct {
		name string
		file string
		o    Overrides
		want string
	}{
		{"missing workdir", "name: a\nworkdir: ./nope\nrun: ls\n", Overrides{},
			"task.yaml:2:10: workdir: ./nope does not exist (looked for " + filepath.Join(proj, "nope") + "); " +
				"accepted: an existing local directory (relative to where the command runs), or {url, ref} for a git repository"},
		{"workdir is a file", "workdir: local.txt\nrun: ls\n", Overrides{},
			"task.yaml:1:10: workdir: local.txt is not a directory (looked for " + filepath.Join(proj, "local.txt") + "); " +
				"accepted: an existing local directory (relative to where the command runs), or {url, ref} for a git repository"},
		{"missing mount source", "run: ls\nfile_mounts:\n  /x: ./missing.txt\n", Overrides{},
			"task.yaml:3:7: file_mounts./x: source ./missing.txt does not exist (looked for " + filepath.Join(proj, "missing.txt") + "); " +
				"accepted: an existing local file or directory (relative to where the command runs), or a bucket URL (s3://, gs://, ...)"},
		{"missing bucket source dir", "run: ls\nfile_mounts:\n  /x:\n    name: bkt\n    source: ~/gone\n", Overrides{},
			"task.yaml:4:5: file_mounts./x: source ~/gone does not exist (looked for " + filepath.Join(home, "gone") + "); " +
				"accepted: an existing local file or directory (relative to where the command runs), or a bucket URL (s3://, gs://, ...)"},
		{"missing --workdir", "run: ls\n", Overrides{Workdir: "./nope"},
			"--workdir: ./nope does not exist (looked for " + filepath.Join(proj, "nope") + "); " +
				"accepted: an existing local directory (relative to where the command runs), or {url, ref} for a git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("task.yaml", []byte(tt.file), LoadOptions{LocalPaths: lp, Overrides: tt.o})
			if err == nil {
				t.Fatal("Load accepted a path that does not exist")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
