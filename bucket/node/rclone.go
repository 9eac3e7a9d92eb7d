package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The rclone remotes Fetch uses. They exist only in rclone's environment
// (RCLONE_CONFIG_<NAME>_<KEY>), never in a config file, and every
// credential reaches rclone through its environment, never its arguments.
const (
	remoteS3  = "skynomads3"
	remoteGCS = "skynomadgcs"
)

// Exit codes of rclone (see `rclone help`): the source was not there.
const (
	rcloneExitDirNotFound  = 3
	rcloneExitFileNotFound = 4
)

// stderrLines is how many of rclone's last stderr lines an error carries.
const stderrLines = 8

// RcloneError is an rclone command that failed.
type RcloneError struct {
	// Command is rclone's subcommand: copyto, lsf, mount.
	Command string
	// Exit is rclone's exit code, -1 if it did not exit by itself.
	Exit int
	// Stderr holds rclone's last stderr lines, without their timestamps.
	Stderr []string
	// Err is what os/exec reported.
	Err error
}

func (e *RcloneError) Error() string {
	msg := "rclone " + e.Command + ": " + e.Err.Error()
	if len(e.Stderr) > 0 {
		msg += ": " + strings.Join(e.Stderr, " | ")
	}
	return msg
}

func (e *RcloneError) Unwrap() error { return e.Err }

// notFound reports whether rclone said its source was not there.
func (e *RcloneError) notFound() bool {
	return e.Exit == rcloneExitDirNotFound || e.Exit == rcloneExitFileNotFound
}

func isRcloneNotFound(err error) bool {
	var re *RcloneError
	return errors.As(err, &re) && re.notFound()
}

// rclone runs the rclone binary with the remotes configured from a task's
// environment.
type rclone struct {
	bin string
	env []string
}

// run runs `rclone args...` to completion; stdout is discarded.
func (r *rclone) run(ctx context.Context, args ...string) error {
	argv := append(append([]string(nil), args...), "--config", os.DevNull)
	cmd := exec.CommandContext(ctx, r.bin, argv...)
	cmd.Env = r.env
	tail := newLineTail(stderrLines, nil)
	cmd.Stdout = io.Discard
	cmd.Stderr = tail
	// rclone must not outlive a runner killed in the middle of a download.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	// Pdeathsig follows the thread that started the child (see startMount).
	runtime.LockOSThread()
	err := cmd.Run()
	runtime.UnlockOSThread()
	if err != nil {
		exit := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			exit = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return &RcloneError{Command: args[0], Exit: exit, Stderr: tail.lines(), Err: err}
	}
	return nil
}

// rcloneEnv is the environment rclone runs with: the task's, without
// AWS_CA_BUNDLE (rclone 1.60's AWS SDK cannot use it with rclone's HTTP
// transport and fails every request) and without RCLONE_* variables (so
// the task's own rclone settings cannot change how its files are fetched),
// plus the remotes skynomads3 and skynomadgcs.
func rcloneEnv(env []string) []string {
	vars := envMap(env)
	out := make([]string, 0, len(env)+16)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "AWS_CA_BUNDLE" || strings.HasPrefix(name, "RCLONE_") {
			continue
		}
		out = append(out, kv)
	}
	if vars["PATH"] == "" {
		// rclone mount runs fusermount from PATH.
		out = append(out, "PATH="+os.Getenv("PATH"))
	}
	set := func(remote, key, value string) {
		out = append(out, "RCLONE_CONFIG_"+strings.ToUpper(remote)+"_"+key+"="+value)
	}

	// S3: credentials from the AWS environment (or the instance role).
	region := firstNonEmpty(vars["AWS_REGION"], vars["AWS_DEFAULT_REGION"], "us-east-1")
	endpoint := firstNonEmpty(vars["AWS_ENDPOINT_URL_S3"], vars["AWS_ENDPOINT_URL"])
	set(remoteS3, "TYPE", "s3")
	set(remoteS3, "ENV_AUTH", "true")
	set(remoteS3, "REGION", region)
	set(remoteS3, "NO_CHECK_BUCKET", "true")
	if endpoint == "" {
		set(remoteS3, "PROVIDER", "AWS")
	} else {
		set(remoteS3, "PROVIDER", "Other")
		set(remoteS3, "ENDPOINT", endpoint)
		set(remoteS3, "FORCE_PATH_STYLE", "true")
	}

	// GCS: the emulator anonymously, else the service account delivered
	// by the engine, else Application Default Credentials.
	set(remoteGCS, "TYPE", "google cloud storage")
	set(remoteGCS, "BUCKET_POLICY_ONLY", "true")
	set(remoteGCS, "NO_CHECK_BUCKET", "true")
	switch {
	case vars["STORAGE_EMULATOR_HOST"] != "":
		set(remoteGCS, "ENDPOINT", emulatorEndpoint(vars["STORAGE_EMULATOR_HOST"]))
		set(remoteGCS, "ANONYMOUS", "true")
	case vars[EnvGCSCredentials] != "":
		set(remoteGCS, "SERVICE_ACCOUNT_CREDENTIALS", vars[EnvGCSCredentials])
	default:
		set(remoteGCS, "ENV_AUTH", "true")
	}
	return out
}

// emulatorEndpoint is the JSON API root of a GCS emulator given as
// STORAGE_EMULATOR_HOST ("host:port" or "http://host:port").
func emulatorEndpoint(host string) string {
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return strings.TrimRight(host, "/") + "/storage/v1/"
}

// envMap reads NAME=VALUE pairs; a later one wins, as in os/exec.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if name, value, ok := strings.Cut(kv, "="); ok {
			m[name] = value
		}
	}
	return m
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// lineTail is an io.Writer that keeps the last lines written to it,
// without rclone's "2006/01/02 15:04:05 " prefix, and hands each complete
// line to onLine.
type lineTail struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	last   []string
	onLine func(string)
}

// maxLine bounds a kept line.
const maxLine = 1024

func newLineTail(max int, onLine func(string)) *lineTail {
	return &lineTail{max: max, onLine: onLine}
}

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	var done []string
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		line := trimLogPrefix(string(t.buf[:i]))
		t.buf = t.buf[i+1:]
		if len(line) > maxLine {
			line = line[:maxLine] + "…"
		}
		if line == "" {
			continue
		}
		t.last = append(t.last, line)
		if len(t.last) > t.max {
			t.last = t.last[len(t.last)-t.max:]
		}
		done = append(done, line)
	}
	if len(t.buf) > maxLine {
		t.buf = t.buf[len(t.buf)-maxLine:]
	}
	onLine := t.onLine
	t.mu.Unlock()
	if onLine != nil {
		for _, l := range done {
			onLine(l)
		}
	}
	return len(p), nil
}

// lines returns the kept lines and any unfinished one.
func (t *lineTail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.last...)
	if rest := strings.TrimSpace(trimLogPrefix(string(t.buf))); rest != "" {
		out = append(out, rest)
	}
	return out
}

// trimLogPrefix drops the timestamp rclone puts before every log line.
func trimLogPrefix(line string) string {
	line = strings.TrimRight(line, "\r")
	const layout = "2006/01/02 15:04:05 "
	if len(line) >= len(layout) {
		if _, err := time.Parse(layout, line[:len(layout)]); err == nil {
			return line[len(layout):]
		}
	}
	return line
}
