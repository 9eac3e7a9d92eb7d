package client

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// Media types and the stream error trailer, as jobs/server uses them.
const (
	contentJSON  = "application/json"
	contentGob   = "application/x-gob"
	errorTrailer = "X-Skynomad-Error"
)

// Client calls one controller.
type Client struct {
	addr  string // as given, for messages
	base  string // URL prefix
	token string
	http  *http.Client
}

// New returns a client of the controller at addr: "unix:///path/to.sock"
// or "http://host:port" (https too). token, if set, is sent as a bearer
// token.
func New(addr, token string) (*Client, error) {
	c := &Client{addr: addr, token: token}
	switch {
	case strings.HasPrefix(addr, "unix://"):
		path := strings.TrimPrefix(addr, "unix://")
		if path == "" {
			return nil, fmt.Errorf("controller address %q: no socket path", addr)
		}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConnsPerHost: 4,
		}
		c.base = "http://controller"
		c.http = &http.Client{Transport: tr}
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("controller address %q: not a URL with a host", addr)
		}
		c.base = strings.TrimSuffix(addr, "/")
		c.http = &http.Client{}
	default:
		return nil, fmt.Errorf("controller address %q: want unix:///path/to.sock or http://host:port", addr)
	}
	return c, nil
}

// Addr is the address the client talks to.
func (c *Client) Addr() string { return c.addr }

// UnreachableError says no controller answered at the address.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("controller not reachable at %s: %v", e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err says the controller did not answer.
func IsUnreachable(err error) bool {
	var ue *UnreachableError
	return errors.As(err, &ue)
}

// APIError is a non-2xx answer of the controller.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string { return e.Message }

// StatusCode returns the HTTP status of an APIError (0 for other errors).
func StatusCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// IsNotFound reports whether the controller answered 404 (no such job or
// task).
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// Health asks which engine the controller runs.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	return h, c.do(ctx, http.MethodGet, "/v1/health", nil, &h)
}

// Demand asks how many nodes each offering's node class needs now.
func (c *Client) Demand(ctx context.Context) (api.Demand, error) {
	var d api.Demand
	return d, c.do(ctx, http.MethodGet, "/v1/demand", nil, &d)
}

// StageFiles sends a gzipped tar of one local path (bucket/stage.Pack) to
// the controller, which keeps a copy and says where.
func (c *Client) StageFiles(ctx context.Context, archive io.Reader) (api.StagedFiles, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/files", archive)
	if err != nil {
		return api.StagedFiles{}, err
	}
	req.Header.Set("Content-Type", "application/gzip")
	req.Header.Set("Accept", contentJSON)
	resp, err := c.send(req)
	if err != nil {
		return api.StagedFiles{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return api.StagedFiles{}, readError(resp)
	}
	var out api.StagedFiles
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return api.StagedFiles{}, fmt.Errorf("reading the controller's answer to POST /v1/files: %w", err)
	}
	return out, nil
}

// Plan asks what the optimizer would choose for each task.
func (c *Client) Plan(ctx context.Context, dag task.DAG) (api.PlanResponse, error) {
	var resp api.PlanResponse
	return resp, c.do(ctx, http.MethodPost, "/v1/plan", api.PlanRequest{DAG: dag}, &resp)
}

// Launch submits a managed job.
func (c *Client) Launch(ctx context.Context, req api.LaunchRequest) (api.LaunchResponse, error) {
	var resp api.LaunchResponse
	return resp, c.do(ctx, http.MethodPost, "/v1/jobs", req, &resp)
}

// Queue lists jobs, newest first.
func (c *Client) Queue(ctx context.Context, req api.QueueRequest) (api.QueueResponse, error) {
	var g api.QueueResponseGob
	if err := c.do(ctx, http.MethodPost, "/v1/jobs/queue", req, &g); err != nil {
		return api.QueueResponse{}, err
	}
	for _, at := range g.ZeroExitCodes {
		if at[0] < len(g.Jobs) && at[1] < len(g.Jobs[at[0]].Tasks) {
			g.Jobs[at[0]].Tasks[at[1]].ExitCode = new(int)
		}
	}
	if g.Jobs == nil {
		g.Jobs = []api.Job{}
	}
	if g.InProgress == nil {
		g.InProgress = map[api.Status]int{} // gob leaves out an empty map
	}
	return api.QueueResponse{Jobs: g.Jobs, InProgress: g.InProgress}, nil
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id int64) (api.Job, error) {
	var j api.Job
	return j, c.do(ctx, http.MethodGet, "/v1/jobs/"+strconv.FormatInt(id, 10), nil, &j)
}

// Cancel cancels the selected jobs.
func (c *Client) Cancel(ctx context.Context, req api.CancelRequest) (api.CancelResponse, error) {
	var resp api.CancelResponse
	return resp, c.do(ctx, http.MethodPost, "/v1/jobs/cancel", req, &resp)
}

// ApplyPool creates or updates a worker pool.
func (c *Client) ApplyPool(ctx context.Context, req api.PoolApplyRequest) (api.PoolApplyResponse, error) {
	var resp api.PoolApplyResponse
	return resp, c.do(ctx, http.MethodPost, "/v1/pools", req, &resp)
}

// Pools describes the named pools (every pool when names is empty).
func (c *Client) Pools(ctx context.Context, names []string) ([]api.Pool, error) {
	q := url.Values{}
	for _, n := range names {
		q.Add("name", n)
	}
	path := "/v1/pools"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var resp api.PoolsResponse
	return resp.Pools, c.do(ctx, http.MethodGet, path, nil, &resp)
}

// DownPool takes pools down.
func (c *Client) DownPool(ctx context.Context, req api.PoolDownRequest) (api.PoolDownResponse, error) {
	var resp api.PoolDownResponse
	return resp, c.do(ctx, http.MethodPost, "/v1/pools/down", req, &resp)
}

// Preempt injects a preemption into a running task.
func (c *Client) Preempt(ctx context.Context, id int64, req api.PreemptRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/preempt", req, nil)
}

// Logs streams a job's logs: one task (task non-nil) or every task; follow
// keeps streaming until the task is finished; tail > 0 starts that many
// lines from the end. Close the stream when done (that also stops a
// follow). A stream the controller had to cut ends with an error rather
// than io.EOF.
func (c *Client) Logs(ctx context.Context, id int64, task *int, follow bool, tail int) (io.ReadCloser, error) {
	q := url.Values{}
	if task != nil {
		q.Set("task", strconv.Itoa(*task))
	}
	if follow {
		q.Set("follow", "true")
	}
	if tail > 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	return c.stream(ctx, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/logs", q)
}

// ControllerLog streams the controller's log of a job.
func (c *Client) ControllerLog(ctx context.Context, id int64, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	return c.stream(ctx, "/v1/jobs/"+strconv.FormatInt(id, 10)+"/controller-log", q)
}

func (c *Client) stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return &streamBody{resp: resp}, nil
}

// streamBody turns a trailer-reported error into the stream's final error.
type streamBody struct {
	resp *http.Response
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.resp.Body.Read(p)
	if errors.Is(err, io.EOF) {
		if msg := b.resp.Trailer.Get(errorTrailer); msg != "" {
			return n, fmt.Errorf("log stream cut by the controller: %s", msg)
		}
	}
	return n, err
}

func (b *streamBody) Close() error { return b.resp.Body.Close() }

// do sends a JSON request and decodes the answer (gob, asked for, or
// JSON) into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", contentJSON)
	}
	if _, ok := out.(*api.QueueResponseGob); ok {
		req.Header.Set("Accept", contentGob+", "+contentJSON)
	} else {
		req.Header.Set("Accept", contentJSON)
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), contentGob) {
		err = gob.NewDecoder(resp.Body).Decode(out)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("reading the controller's answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if unreachable(err) {
			return nil, &UnreachableError{Addr: c.addr, Err: err}
		}
		return nil, fmt.Errorf("controller at %s: %w", c.addr, err)
	}
	return resp, nil
}

// unreachable reports whether err happened before a controller answered:
// nothing listens, no socket file, no route.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e api.Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	return &APIError{StatusCode: resp.StatusCode, Message: "controller: " + msg}
}
