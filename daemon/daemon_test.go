package daemon

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestPIDFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "controller.pid")
	remove, err := writePID(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadPID(path); !ok || got != os.Getpid() {
		t.Errorf("pid file holds %d, %v; want %d", got, ok, os.Getpid())
	}
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("pid file left after remove: %v", err)
	}
	// A newer controller's pid file is not ours to remove.
	remove, _ = writePID(path)
	os.WriteFile(path, []byte("1\n"), 0o600)
	remove()
	if got, ok := ReadPID(path); !ok || got != 1 {
		t.Errorf("removed another controller's pid file (%d, %v)", got, ok)
	}
}

func TestListen(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "sky-daemon-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "controller.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // left by a dead controller
		t.Fatal(err)
	}
	for _, addr := range []string{sock, "unix://" + sock} {
		ln, err := listen(addr)
		if err != nil {
			t.Fatalf("listen(%q): %v", addr, err)
		}
		if ln.Addr().Network() != "unix" {
			t.Errorf("listen(%q) is on %s", addr, ln.Addr().Network())
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Errorf("dial: %v", err)
		} else {
			conn.Close()
		}
		ln.Close()
	}
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if ln.Addr().Network() != "tcp" {
		t.Errorf("listen(127.0.0.1:0) is on %s", ln.Addr().Network())
	}
	ln.Close()
}
