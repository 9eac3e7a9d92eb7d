package server

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skynomad/skynomad/engine"
	"github.com/skynomad/skynomad/jobs"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// Backend is what the server serves: the controller.
type Backend interface {
	EngineName() string
	Version() string
	Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error)
	Submit(ctx context.Context, req api.LaunchRequest) ([]int64, error)
	Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error)
	Job(ctx context.Context, id int64) (api.Job, error)
	Cancel(ctx context.Context, req api.CancelRequest) ([]int64, error)
	Logs(ctx context.Context, id int64, task *int, opts engine.LogOptions) (io.ReadCloser, error)
	ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error)
	Preempt(ctx context.Context, id int64, req api.PreemptRequest) error
	LoopLatency(ctx context.Context) (time.Duration, error)
	Demand(ctx context.Context) (api.Demand, error)
	ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error)
	StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error)
	DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error)
	Pools(ctx context.Context, names []string) ([]api.Pool, error)
	JobDetail(ctx context.Context, id int64) (api.JobDetail, error)
	Capacity(ctx context.Context) (api.Capacity, error)
}

var _ Backend = (*jobs.Controller)(nil)

// Media types.
const (
	ContentJSON = "application/json"
	ContentGob  = "application/x-gob"
)

// ErrorTrailer carries an error that ended a log stream early.
const ErrorTrailer = "X-Skynomad-Error"

// maxBody caps request bodies.
const maxBody = 32 << 20

// Config configures a Server.
type Config struct {
	Backend Backend
	// Token, if set, is required as "Authorization: Bearer <token>" on
	// every endpoint but /v1/health.
	Token  string
	Logger *slog.Logger
	// Host is the controller's host name, reported by /v1/health.
	Host string
	// Dashboard, if set, serves the web pages at / (behind the token).
	Dashboard http.Handler
	// Metrics, if set, serves /metrics in Prometheus' format (behind the
	// token).
	Metrics http.Handler
}

// Server is the controller's HTTP API.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New builds the server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.mux.HandleFunc("GET /v1/health", s.health)
	s.mux.HandleFunc("GET /v1/demand", s.auth(s.demand))
	s.mux.HandleFunc("POST /v1/plan", s.auth(s.plan))
	s.mux.HandleFunc("POST /v1/jobs", s.auth(s.launch))
	s.mux.HandleFunc("POST /v1/jobs/queue", s.auth(s.queue))
	s.mux.HandleFunc("POST /v1/jobs/cancel", s.auth(s.cancel))
	s.mux.HandleFunc("GET /v1/jobs/{id}", s.auth(s.job))
	s.mux.HandleFunc("GET /v1/jobs/{id}/detail", s.auth(s.jobDetail))
	s.mux.HandleFunc("GET /v1/capacity", s.auth(s.capacity))
	s.mux.HandleFunc("GET /v1/jobs/{id}/logs", s.auth(s.logs))
	s.mux.HandleFunc("GET /v1/jobs/{id}/controller-log", s.auth(s.controllerLog))
	s.mux.HandleFunc("POST /v1/jobs/{id}/preempt", s.auth(s.preempt))
	s.mux.HandleFunc("POST /v1/pools", s.auth(s.applyPool))
	s.mux.HandleFunc("GET /v1/pools", s.auth(s.pools))
	s.mux.HandleFunc("POST /v1/pools/down", s.auth(s.downPool))
	s.mux.HandleFunc("POST /v1/files", s.auth(s.stageFiles))
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.auth(cfg.Metrics.ServeHTTP))
	}
	if cfg.Dashboard != nil {
		s.mux.HandleFunc("POST /login", gate{token: cfg.Token, pages: true}.login)
		s.mux.Handle("/", s.auth(cfg.Dashboard.ServeHTTP))
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers on l until ctx is cancelled, then shuts down (streams in
// progress are cut after a few seconds).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// auth requires the token, when there is one: as a bearer token, or as
// the dashboard's cookie (see login.go).
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Token == "" {
		return h
	}
	g := gate{token: s.cfg.Token, pages: s.cfg.Dashboard != nil}
	return func(w http.ResponseWriter, r *http.Request) {
		if g.admit(w, r) {
			h(w, r)
		}
	}
}

func (s *Server) jobDetail(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	d, err := s.cfg.Backend.JobDetail(r.Context(), id)
	s.answer(w, r, d, err)
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Backend.Capacity(r.Context())
	s.answer(w, r, c, err)
}

func (s *Server) demand(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Backend.Demand(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	s.reply(w, r, d)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := api.Health{Engine: s.cfg.Backend.EngineName(), Version: s.cfg.Backend.Version(), Host: s.cfg.Host}
	lag, err := s.cfg.Backend.LoopLatency(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	h.LoopLatency = api.Duration(lag)
	s.reply(w, r, h)
}

// maxStaged caps what one POST /v1/files sends (a workdir or a file
// mount, compressed).
const maxStaged = 64 << 30

func (s *Server) stageFiles(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cfg.Backend.StageFiles(r.Context(), http.MaxBytesReader(w, r.Body, maxStaged))
	s.answer(w, r, resp, err)
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	var req api.PlanRequest
	if !s.decode(w, r, &req) {
		return
	}
	resp, err := s.cfg.Backend.Plan(r.Context(), req.DAG)
	s.answer(w, r, resp, err)
}

func (s *Server) launch(w http.ResponseWriter, r *http.Request) {
	var req api.LaunchRequest
	if !s.decode(w, r, &req) {
		return
	}
	ids, err := s.cfg.Backend.Submit(r.Context(), req)
	s.answer(w, r, api.LaunchResponse{JobIDs: ids}, err)
}

func (s *Server) applyPool(w http.ResponseWriter, r *http.Request) {
	var req api.PoolApplyRequest
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.cfg.Backend.ApplyPool(r.Context(), req)
	s.answer(w, r, res, err)
}

// pools answers GET /v1/pools[?name=a&name=b].
func (s *Server) pools(w http.ResponseWriter, r *http.Request) {
	ps, err := s.cfg.Backend.Pools(r.Context(), r.URL.Query()["name"])
	if ps == nil {
		ps = []api.Pool{}
	}
	s.answer(w, r, api.PoolsResponse{Pools: ps}, err)
}

func (s *Server) downPool(w http.ResponseWriter, r *http.Request) {
	var req api.PoolDownRequest
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.cfg.Backend.DownPool(r.Context(), req)
	s.answer(w, r, res, err)
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	var req api.QueueRequest
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.cfg.Backend.Queue(r.Context(), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	if res.Jobs == nil {
		res.Jobs = []api.Job{}
	}
	if res.InProgress == nil {
		res.InProgress = map[api.Status]int{}
	}
	if acceptsGob(r) {
		g := api.QueueResponseGob{Jobs: res.Jobs, InProgress: res.InProgress}
		for i, j := range res.Jobs {
			for k, t := range j.Tasks {
				if t.ExitCode != nil && *t.ExitCode == 0 {
					g.ZeroExitCodes = append(g.ZeroExitCodes, [2]int{i, k})
				}
			}
		}
		s.reply(w, r, g)
		return
	}
	s.reply(w, r, res)
}

// acceptsGob reports whether the client asked for gob. Only the queue
// answers in gob: it is the one answer big enough to matter, and
// QueueResponseGob carries what gob would lose.
func acceptsGob(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), ContentGob)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req api.CancelRequest
	if !s.decode(w, r, &req) {
		return
	}
	ids, err := s.cfg.Backend.Cancel(r.Context(), req)
	if ids == nil {
		ids = []int64{}
	}
	s.answer(w, r, api.CancelResponse{Cancelled: ids}, err)
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	j, err := s.cfg.Backend.Job(r.Context(), id)
	s.answer(w, r, j, err)
}

func (s *Server) preempt(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	var req api.PreemptRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := s.cfg.Backend.Preempt(r.Context(), id, req); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var opts engine.LogOptions
	var taskIdx *int
	var err error
	if v := q.Get("task"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("task must be a task index, got %q", v))
			return
		}
		taskIdx = &n
	}
	if opts.Follow, err = boolParam(q.Get("follow")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if v := q.Get("tail"); v != "" {
		if opts.Tail, err = strconv.Atoi(v); err != nil || opts.Tail < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("tail must be a line count, got %q", v))
			return
		}
	}
	rc, err := s.cfg.Backend.Logs(r.Context(), id, taskIdx, opts)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.stream(w, r, rc)
}

func (s *Server) controllerLog(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	follow, err := boolParam(r.URL.Query().Get("follow"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc, err := s.cfg.Backend.ControllerLog(r.Context(), id, follow)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.stream(w, r, rc)
}

// stream copies rc to the response, flushing after every read.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rc io.ReadCloser) {
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Trailer", ErrorTrailer)
	w.WriteHeader(http.StatusOK)
	rctl := http.NewResponseController(w)
	rctl.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away
			}
			rctl.Flush()
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && r.Context().Err() == nil {
			s.log.Warn("log stream ended early", "path", r.URL.Path, "err", err)
			w.Header().Set(ErrorTrailer, firstLine(err.Error()))
		}
		return
	}
}

func boolParam(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("want true or false, got %q", v)
	}
	return b, nil
}

func jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("job id must be a positive number, got %q", v))
		return 0, false
	}
	return id, true
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// answer writes v, or the error.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, err)
		return
	}
	s.reply(w, r, v)
}

// reply writes v as JSON, or as gob when v is a QueueResponseGob.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any) {
	if _, ok := v.(api.QueueResponseGob); ok {
		w.Header().Set("Content-Type", ContentGob)
		if err := gob.NewEncoder(w).Encode(v); err != nil {
			s.log.Warn("writing a response failed", "path", r.URL.Path, "err", err)
		}
		return
	}
	w.Header().Set("Content-Type", ContentJSON)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Warn("writing a response failed", "path", r.URL.Path, "err", err)
	}
}

// fail maps a controller error to its status code.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch jobs.KindOf(err) {
	case jobs.KindInvalid:
		code = http.StatusBadRequest
	case jobs.KindNotFound:
		code = http.StatusNotFound
	case jobs.KindConflict:
		code = http.StatusConflict
	case jobs.KindUnsupported:
		code = http.StatusNotImplemented
	case jobs.KindUnavailable:
		code = http.StatusServiceUnavailable
	}
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "err", err)
	}
	writeError(w, code, err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", ContentJSON)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(api.Error{Error: msg})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
