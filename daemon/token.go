package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/skynomad/skynomad/config"
)

// tcpToken is the token a controller serving TCP on addr requires: the
// configured one, else the one generated at its first start (kept 0600 in
// the home; created reports it was made now). Serving TCP without a token
// (noToken) is refused for a non-loopback address.
func tcpToken(p config.Paths, addr, configured string, noToken bool) (token string, created bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	if noToken {
		if !loopback(addr) {
			return "", false, fmt.Errorf("daemon: serving %s without a token would give anyone who reaches it the jobs (and their bash): "+
				"refused for an address that is not loopback; drop --insecure-no-token to use a generated token, or set controller.token", addr)
		}
		return "", false, nil
	}
	if t := config.ReadToken(p.Token); t != "" {
		return t, false, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("daemon: token: %w", err)
	}
	token = hex.EncodeToString(b)
	f, err := os.OpenFile(p.Token, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another start won the race
		if t := config.ReadToken(p.Token); t != "" {
			return t, false, nil
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("daemon: token: %w", err)
	}
	_, werr := f.WriteString(token + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(p.Token)
		return "", false, fmt.Errorf("daemon: token: %w", err)
	}
	return token, true, nil
}

// loopback reports whether every address host:port listens on is this
// host's own: 127.0.0.0/8, ::1 or localhost (not "", which is every
// interface).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
