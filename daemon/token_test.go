package daemon

import (
	"os"
	"strings"
	"testing"

	"github.com/skynomad/skynomad/config"
)

func TestTCPTokenIsGeneratedOnceAndKeptPrivate(t *testing.T) {
	p := config.PathsOf(t.TempDir())
	tok, created, err := tcpToken(p, "0.0.0.0:8080", "", false)
	if err != nil || !created || len(tok) != 64 {
		t.Fatalf("first start: token %q created %v err %v, want a new 64-hex-digit token", tok, created, err)
	}
	fi, err := os.Stat(p.Token)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	again, created, err := tcpToken(p, "0.0.0.0:8080", "", false)
	if err != nil || created || again != tok {
		t.Errorf("second start: %q created %v err %v, want the same token, not created", again, created, err)
	}
	if got := config.ReadToken(p.Token); got != tok {
		t.Errorf("the CLI reads %q, want the token", got)
	}
	if got, _, _ := tcpToken(p, "0.0.0.0:8080", "configured", false); got != "configured" {
		t.Errorf("a configured token: got %q", got)
	}
}

func TestServingTCPWithoutATokenIsRefusedUnlessLoopback(t *testing.T) {
	p := config.PathsOf(t.TempDir())
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "10.1.2.3:8080", "[::]:8080", "example.com:80"} {
		if _, _, err := tcpToken(p, addr, "", true); err == nil || !strings.Contains(err.Error(), "not loopback") {
			t.Errorf("%s without a token: err %v, want refused", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		tok, created, err := tcpToken(p, addr, "", true)
		if err != nil || tok != "" || created {
			t.Errorf("%s without a token: %q %v %v, want served without one", addr, tok, created, err)
		}
	}
	if _, err := os.Stat(p.Token); !os.IsNotExist(err) {
		t.Errorf("no token file should be written without a token: %v", err)
	}
}
