package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs/api"
)

// Backend is what the pages read: the controller.
type Backend interface {
	EngineName() string
	// Queue answers newest first; the dashboard asks for All.
	Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error)
	JobDetail(ctx context.Context, id int64) (api.JobDetail, error)
	Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error)
	// Logs streams a job's output; opts.Follow keeps going until the job
	// ends or ctx does, opts.Tail > 0 starts that many lines from the end.
	Logs(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error)
	ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error)
	Pools(ctx context.Context, names []string) ([]api.Pool, error)
	Capacity(ctx context.Context) (api.Capacity, error)
	// JobEvents returns the job changes after seq (a seq past the last:
	// none, only the last seq), lost when seq fell out of the kept events,
	// the newest seq, and a channel closed at the next change. It never
	// blocks.
	JobEvents(seq uint64) (evs []api.JobEvent, lost bool, last uint64, wake <-chan struct{})
}

// Config configures a Dashboard.
type Config struct {
	Backend Backend
	Logger  *slog.Logger     // nil: discard
	Clock   func() time.Time // nil: time.Now
	// Heartbeat is the SSE keep-alive comment interval (default 25s).
	Heartbeat time.Duration
	// CSRF, when set, is a secret every POST form must carry as the
	// hidden field "csrf"; pages render it into their forms.
	CSRF string
}

const defaultHeartbeat = 25 * time.Second

// contentSecurityPolicy allows no inline script or style: the pages'
// script and CSS are the embedded static files.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Dashboard serves the dashboard's pages; it is an http.Handler.
type Dashboard struct {
	b         Backend
	log       *slog.Logger
	now       func() time.Time
	heartbeat time.Duration
	csrf      string
	origin    *http.CrossOriginProtection // refuses cross-site form posts
	mux       *http.ServeMux
	pages     map[string]*template.Template
	static    map[string]staticFile
	assets    map[string]string // static file name → versioned URL
	bufs      sync.Pool
}

type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

// New builds the dashboard. It panics if its embedded templates do not
// parse, which the package's tests rule out.
func New(cfg Config) *Dashboard {
	d := &Dashboard{
		b:         cfg.Backend,
		log:       cfg.Logger,
		now:       cfg.Clock,
		heartbeat: cfg.Heartbeat,
		csrf:      cfg.CSRF,
		origin:    http.NewCrossOriginProtection(),
		mux:       http.NewServeMux(),
		bufs:      sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.heartbeat <= 0 {
		d.heartbeat = defaultHeartbeat
	}
	d.loadStatic()
	d.pages = parsePages(funcs())
	d.routes()
	return d
}

func (d *Dashboard) routes() {
	m := d.mux
	m.HandleFunc("GET /{$}", d.jobsPage)
	m.HandleFunc("GET /jobs/counts", d.countsFragment)
	m.HandleFunc("GET /jobs/{id}", d.jobPage)
	m.HandleFunc("GET /jobs/{id}/row", d.rowFragment)
	m.HandleFunc("GET /jobs/{id}/summary", d.summaryFragment)
	m.HandleFunc("POST /jobs/{id}/cancel", d.cancel)
	m.HandleFunc("GET /jobs/{id}/log", d.plainLog)
	m.HandleFunc("GET /jobs/{id}/logs/stream", d.logStream)
	m.HandleFunc("GET /events", d.events)
	m.HandleFunc("GET /pools", d.poolsPage)
	m.HandleFunc("GET /capacity", d.capacityPage)
	m.HandleFunc("GET /cost", d.costPage)
	m.HandleFunc("GET /static/{file}", d.serveStatic)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	d.mux.ServeHTTP(w, r)
}

// parsePages parses each page template with the shared layout and
// fragments, once.
func parsePages(funcs template.FuncMap) map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"jobs", "job", "pools", "capacity", "cost", "error"} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return pages
}

func (d *Dashboard) loadStatic() {
	d.static = map[string]staticFile{}
	d.assets = map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		v := hex.EncodeToString(sum[:6])
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		d.static[e.Name()] = staticFile{body: body, ctype: ctype, etag: `"` + v + `"`}
		d.assets[e.Name()] = "/static/" + e.Name() + "?v=" + v
	}
}

// serveStatic serves an embedded file. Pages link it with its content
// hash in the query, so it can be cached for long.
func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := d.static[r.PathValue("file")]
	if !ok {
		d.fail(w, http.StatusNotFound, "There is no such file.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(f.body)
}

// layout is what every page's layout reads; Body is the page's own.
type layout struct {
	Title  string
	Nav    string // the nav entry to mark current
	Engine string
	Assets map[string]string
	Body   any
}

// render writes a whole page.
func (d *Dashboard) render(w http.ResponseWriter, code int, page, title string, body any) {
	l := layout{Title: title, Nav: page, Engine: d.b.EngineName(), Assets: d.assets, Body: body}
	d.execute(w, code, page, "layout", l)
}

// fragment writes a named template alone (a row, the counts, a summary).
func (d *Dashboard) fragment(w http.ResponseWriter, page, name string, data any) {
	d.execute(w, http.StatusOK, page, name, data)
}

// execute renders into a buffer first, so a template error becomes a 500
// rather than half a page.
func (d *Dashboard) execute(w http.ResponseWriter, code int, page, name string, data any) {
	buf := d.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer d.bufs.Put(buf)
	if err := d.pages[page].ExecuteTemplate(buf, name, data); err != nil {
		d.log.Error("dashboard: rendering failed", "page", page, "template", name, "err", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// errorView is the error page's body.
type errorView struct {
	Code    int
	Status  string
	Message string
}

// fail renders the error page; msg is escaped like any other text.
func (d *Dashboard) fail(w http.ResponseWriter, code int, msg string) {
	d.render(w, code, "error", http.StatusText(code), errorView{Code: code, Status: http.StatusText(code), Message: msg})
}

// backendFailed renders the error page for an error of the controller.
func (d *Dashboard) backendFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	d.log.Warn("dashboard: controller call failed", "what", what, "path", r.URL.Path, "err", err)
	d.fail(w, http.StatusInternalServerError, fmt.Sprintf("Reading %s failed: %v", what, err))
}

// jobID reads the {id} path value; it writes a 400 page when it is not a
// positive integer.
func (d *Dashboard) jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		d.fail(w, http.StatusBadRequest, fmt.Sprintf("A job id is a positive integer, not %q.", v))
		return 0, false
	}
	return id, true
}

// jobExists asks the queue whether a managed job exists (to tell an
// unknown job from a failing controller).
func (d *Dashboard) jobExists(ctx context.Context, id int64) bool {
	res, err := d.b.Queue(ctx, api.QueueRequest{All: true, JobIDs: []int64{id}})
	return err == nil && len(res.Jobs) > 0
}

// jobURL is the job page's path.
func jobURL(id int64) string { return "/jobs/" + strconv.FormatInt(id, 10) }

// withQuery appends an encoded query to a path.
func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}
