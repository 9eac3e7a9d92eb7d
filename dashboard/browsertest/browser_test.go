package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/skynomad/skynomad/internal/realagent"
	"github.com/skynomad/skynomad/internal/syncbuf"
)

const (
	// testTimeout bounds each test, Chromium included.
	testTimeout = 60 * time.Second
	// pageTimeout bounds each wait for the page.
	pageTimeout = 15 * time.Second
)

// chromium finds the browser: $SKYNOMAD_CHROMIUM, or the first of
// chromium, chromium-browser and google-chrome on PATH. Without one the
// test skips (fails in CI).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SKYNOMAD_CHROMIUM"); p != "" {
		realagent.Using(t, "CHROMIUM", p)
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			realagent.Using(t, "CHROMIUM", p)
			return p
		}
	}
	realagent.Unavailable(t, "no Chromium: none of chromium, chromium-browser, google-chrome is on PATH and SKYNOMAD_CHROMIUM is unset (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium with one tab, signed in to a dashboard.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab's
	base string          // http://127.0.0.1:PORT

	mu      sync.Mutex
	dialogs []string // every JavaScript dialog that opened
	errors  []string // uncaught exceptions, for the log of a failed test
	done    bool
}

// startTries is how many times newBrowser starts Chromium: on this
// shared 2-core machine one start in a few dozen dies before it answers,
// which has nothing to do with the pages under test.
const startTries = 3

// newBrowser starts the Chromium at path for the test (bounded by ctx) and
// signs in to the dashboard at base with token. A JavaScript dialog that
// opens fails the test: one would mean that text reached the page as
// markup.
func newBrowser(t *testing.T, ctx context.Context, path, base, token string) *browser {
	t.Helper()
	b := &browser{t: t, base: base}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done = true
		if t.Failed() {
			for _, e := range b.errors {
				t.Logf("page exception: %s", e)
			}
		}
	})
	for try := 1; ; try++ {
		out := &syncbuf.Buffer{}
		var cmd *exec.Cmd
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			// Without these Chromium keeps calling out to Google, which
			// this machine's closed network refuses.
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			// Containers have a small /dev/shm.
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1400, 1000),
			chromedp.CombinedOutput(out),
			// As chromedp does (the browser dies with the test), keeping
			// the command to tell how a browser that did not start ended.
			chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
				c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
				cmd = c
			}),
		)
		tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
		err := chromedp.Do(tabCtx)
		if err == nil {
			b.ctx = tabCtx
			t.Cleanup(func() {
				if t.Failed() {
					if s := out.String(); s != "" {
						t.Logf("chromium output:\n%s", s)
					}
				}
				cancelTab()
				cancelAlloc()
			})
			break
		}
		cancelTab()
		cancelAlloc()
		ended := "(still running)"
		if cmd != nil && cmd.ProcessState != nil {
			ended = cmd.ProcessState.String()
		}
		if try == startTries || ctx.Err() != nil {
			t.Fatalf("starting %s (try %d of %d): %v\nits end: %s", path, try, startTries, err, ended)
		}
		t.Logf("starting %s (try %d of %d): %s, its end: %s; starting it again", path, try, startTries, firstLine(err.Error()), ended)
	}
	t.Cleanup(b.noDialogs)
	b.signIn(token)
	return b
}

// listen runs in the tab's event loop: it records, and answers dialogs
// from another goroutine so that the page goes on.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		b.mu.Lock()
		b.dialogs = append(b.dialogs, fmt.Sprintf("%s %q", ev.Type, ev.Message))
		b.mu.Unlock()
		go chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	case *runtime.EventExceptionThrown:
		b.mu.Lock()
		if !b.done {
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += ": " + d.Exception.Description
			}
			b.errors = append(b.errors, fmt.Sprintf("%s:%d %s", d.URL, d.LineNumber+1, msg))
		}
		b.mu.Unlock()
	}
}

// noDialogs fails the test for every dialog that opened so far.
func (b *browser) noDialogs() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		b.t.Errorf("a JavaScript dialog opened (escaping failed): %s", d)
	}
	b.dialogs = nil
}

// signIn visits the dashboard with ?token=: the server sets its cookie and
// sends the browser to the same page without the token.
func (b *browser) signIn(token string) {
	b.t.Helper()
	resp := b.open("/?token=" + token)
	loc := b.location()
	if strings.Contains(loc, token) {
		b.t.Errorf("after signing in the address still holds the token: %s", loc)
	}
	if resp.status != 200 {
		b.t.Fatalf("signing in: %s answered %d", loc, resp.status)
	}
}

type response struct {
	status int64
	url    string
}

// open navigates to path and waits for the page's load.
func (b *browser) open(path string) response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("opening %s: %v", path, err)
	}
	if resp == nil {
		return response{}
	}
	return response{status: resp.Status, url: resp.URL}
}

func (b *browser) location() string {
	b.t.Helper()
	return evalJS[string](b, `location.href`)
}

// evalJS evaluates a JavaScript expression in the page and decodes its
// value into T.
func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", firstLine(expr), err)
	}
	return v
}

// waitJS waits until the expression is true in the page, evaluating it
// every 100 ms through reloads and navigations. On timeout it fails the test
// with what describe (an expression) says of the page then.
func (b *browser) waitJS(what, expr, describe string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		break
	}
	state := "(nothing)"
	if describe != "" {
		dctx, dcancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer dcancel()
		if raw, err := chromedp.Run(dctx, chromedp.Evaluate[[]byte](describe)); err == nil {
			state = string(raw)
		} else {
			state = err.Error()
		}
	}
	b.t.Fatalf("timed out after %s waiting for %s (last error: %v); the page at %s shows: %s",
		pageTimeout, what, lastErr, b.tryLocation(), state)
}

func (b *browser) tryLocation() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// screenshot captures the whole page as a PNG.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// click clicks the first element css matches.
func (b *browser) click(css string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
		b.t.Fatalf("clicking %s on %s: %v", css, b.tryLocation(), err)
	}
}

// js quotes s as a JavaScript string.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
