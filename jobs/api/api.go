// Package api holds the wire types of the controller's HTTP API: what the
// CLI (jobs/client) sends and what the controller (jobs) answers. It holds no
// behaviour beyond naming statuses and writing durations as seconds.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/task"
)

// Status is a managed job's (or task's) status, as in SkyPilot.
type Status string

const (
	StatusPending          Status = "PENDING"
	StatusStarting         Status = "STARTING"
	StatusRunning          Status = "RUNNING"
	StatusRecovering       Status = "RECOVERING"
	StatusCancelling       Status = "CANCELLING"
	StatusSucceeded        Status = "SUCCEEDED"
	StatusCancelled        Status = "CANCELLED"
	StatusFailed           Status = "FAILED"
	StatusFailedSetup      Status = "FAILED_SETUP"
	StatusFailedPrechecks  Status = "FAILED_PRECHECKS"
	StatusFailedNoResource Status = "FAILED_NO_RESOURCE"
	StatusFailedController Status = "FAILED_CONTROLLER"
)

// AllStatuses lists every status in display order.
var AllStatuses = []Status{
	StatusPending, StatusStarting, StatusRunning, StatusRecovering, StatusCancelling,
	StatusSucceeded, StatusCancelled, StatusFailed, StatusFailedSetup,
	StatusFailedPrechecks, StatusFailedNoResource, StatusFailedController,
}

// Terminal reports whether the status is final.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusCancelled, StatusFailed, StatusFailedSetup,
		StatusFailedPrechecks, StatusFailedNoResource, StatusFailedController:
		return true
	}
	return false
}

// Failed reports whether the status is one of the FAILED* statuses.
func (s Status) Failed() bool {
	return s.Terminal() && s != StatusSucceeded && s != StatusCancelled
}

// Duration is a span of time. In JSON it is a number of seconds, rounded
// to the millisecond: 11, 2400.5, 0.25 (a time.Duration would be
// nanoseconds, which no one reading `jobs queue -o json` expects).
type Duration time.Duration

// MarshalJSON writes the duration as seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	ms := time.Duration(d).Round(time.Millisecond).Milliseconds()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("a duration is a number of seconds, got %s", b)
	}
	*d = Duration(math.Round(secs * float64(time.Second)))
	return nil
}

// Job is one managed job as `jobs queue` shows it.
type Job struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	User     string `json:"user"`
	Status   Status `json:"status"`
	Pool     string `json:"pool,omitempty"`
	Pipeline bool   `json:"pipeline,omitempty"`
	// JobGroup is set for a job group (execution: parallel): its tasks
	// run together, in one attempt.
	JobGroup    bool       `json:"job_group,omitempty"`
	Priority    int        `json:"priority"`
	SubmittedAt time.Time  `json:"submitted_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	// TotalDuration is the time since submission (until the end, once
	// finished): TOT. DURATION.
	TotalDuration Duration `json:"total_duration"`
	// JobDuration is the time spent RUNNING, summed over attempts and tasks.
	JobDuration   Duration `json:"job_duration"`
	Recoveries    int      `json:"recoveries"`
	FailureReason string   `json:"failure_reason,omitempty"`
	// Details says why an unfinished job waits ("waiting for a free
	// worker of pool p (2/2 busy)"), as of the answer.
	Details string `json:"details,omitempty"`
	// Worker is the pool worker running the job (0: none).
	Worker int64 `json:"worker,omitempty"`
	// Upload is the progress of the job's files on their way to the
	// job-files bucket, while they are (nil otherwise).
	Upload *UploadProgress `json:"upload,omitempty"`
	// Cost is what the job's capacity cost so far, summed over its tasks
	// (nil on an engine with no prices: the local engine).
	Cost  *Cost  `json:"cost,omitempty"`
	Tasks []Task `json:"tasks"`
}

// Cost is what capacity cost, in USD: each attempt's instance-hours (from
// its placement to its end, every node) times the catalog's hourly price of
// what it ran on, and the same hours at the on-demand price. Savings is
// OnDemand - Spent: what spot saved.
type Cost struct {
	Spent    float64 `json:"spent"`
	OnDemand float64 `json:"on_demand"`
	Savings  float64 `json:"savings"`
}

// Add sums two costs.
func (c Cost) Add(o Cost) Cost {
	return Cost{Spent: c.Spent + o.Spent, OnDemand: c.OnDemand + o.OnDemand, Savings: c.Savings + o.Savings}
}

// Task is one task of a managed job.
type Task struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Requested reads like SkyPilot's REQUESTED column: "1x [V100:8][Spot]".
	Requested   string     `json:"requested"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	// TotalDuration is the time since the task was submitted (until its
	// end); 0 while it waits for an earlier task of its pipeline.
	TotalDuration Duration `json:"total_duration"`
	// JobDuration is the time spent RUNNING, summed over attempts.
	JobDuration Duration `json:"job_duration"`
	Recoveries  int      `json:"recoveries"`
	Restarts    int      `json:"restarts"`
	Attempt     int      `json:"attempt"`
	// ExitCode is the last exit code seen, if any.
	ExitCode      *int   `json:"exit_code,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	// Infra and Instance describe the current (or last) placement.
	Infra    string `json:"infra,omitempty"`
	Instance string `json:"instance,omitempty"`
	Spot     bool   `json:"spot,omitempty"`
	JobRank  int    `json:"job_rank"`
	NumJobs  int    `json:"num_jobs"`
	// Cost is the task's (a job group's first task carries the group's).
	Cost *Cost `json:"cost,omitempty"`
}

// JobDetail is the answer of GET /v1/jobs/{id}/detail: the job with every
// attempt of every task and the timeline of its status changes.
type JobDetail struct {
	Job      Job       `json:"job"`
	Attempts []Attempt `json:"attempts"`
	Timeline []Change  `json:"timeline"`
	// Links point at the job in the engine's own UI (the Nomad UI).
	Links []Link `json:"links,omitempty"`
}

// Attempt is one attempt of one task: where it ran and how it ended.
type Attempt struct {
	Task     int    `json:"task"`
	Number   int    `json:"number"`
	Infra    string `json:"infra,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Zones lists the zones the offering spans (the node's own zone is
	// the engine's to tell: see Node).
	Zones     []string   `json:"zones,omitempty"`
	Spot      bool       `json:"spot"`
	Node      string     `json:"node,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	PlacedAt  *time.Time `json:"placed_at,omitempty"`
	RunAt     *time.Time `json:"run_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Outcome is why it ended: succeeded, failed, preempted, no_capacity,
	// cancelled, operator_stopped, infeasible, abandoned ("" while live).
	Outcome  string `json:"outcome,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	// Worker is the pool worker it ran on (0: none).
	Worker int64  `json:"worker,omitempty"`
	Cost   *Cost  `json:"cost,omitempty"`
	Links  []Link `json:"links,omitempty"`
}

// Change is one step of a job's timeline: a task entering a status.
type Change struct {
	At     time.Time `json:"at"`
	Task   int       `json:"task"`
	Status Status    `json:"status"`
	// Attempt is the attempt it concerns (0: none).
	Attempt int    `json:"attempt,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Link is a titled URL.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Capacity is the answer of GET /v1/capacity: what the jobs ask of each
// offering, the engine's nodes, and the last capacity errors.
type Capacity struct {
	Engine    string          `json:"engine"`
	Offerings []OfferingUse   `json:"offerings"`
	Nodes     []Node          `json:"nodes,omitempty"`
	Errors    []CapacityError `json:"errors"`
}

// OfferingUse is one offering (a Nomad node class) with the nodes its
// unfinished attempts need.
type OfferingUse struct {
	Class    string `json:"class"`
	Infra    string `json:"infra"`
	Instance string `json:"instance"`
	Spot     bool   `json:"spot"`
	// Demand is the nodes wanted: every unfinished attempt on it times
	// its num_nodes.
	Demand      int     `json:"demand"`
	CostPerHour float64 `json:"cost_per_hour"`
}

// Node is one engine node.
type Node struct {
	Name  string `json:"name"`
	Class string `json:"class,omitempty"`
	// Status is initializing (booting), ready or down.
	Status string `json:"status"`
	Drain  bool   `json:"drain,omitempty"`
	Spot   bool   `json:"spot,omitempty"`
	Link   string `json:"link,omitempty"`
}

// CapacityError is one attempt that found no capacity.
type CapacityError struct {
	At       time.Time `json:"at"`
	JobID    int64     `json:"job_id"`
	Task     int       `json:"task"`
	Cloud    string    `json:"cloud"`
	Region   string    `json:"region"`
	Instance string    `json:"instance"`
	Spot     bool      `json:"spot"`
	Reason   string    `json:"reason"`
}

// JobEvent is one change of a job, as GET /v1/events streams them
// (server-sent events, "event: job"): its id and status after the change.
type JobEvent struct {
	Seq    uint64 `json:"seq"`
	ID     int64  `json:"id"`
	Status Status `json:"status"`
	// Worker marks a pool worker's job (the pools page's).
	Worker bool   `json:"worker,omitempty"`
	Pool   string `json:"pool,omitempty"`
}

// PlanRequest asks which resources each task would get.
type PlanRequest struct {
	DAG task.DAG `json:"dag"`
}

// TaskPlan is the optimizer's answer for one task.
type TaskPlan struct {
	Task    string           `json:"task"`
	Choices []catalog.Choice `json:"choices,omitempty"` // ranked; [0] is chosen
	// Error says why nothing fits (the job would end FAILED_PRECHECKS).
	Error string `json:"error,omitempty"`
	// Files says why the task's files cannot be stored or mounted (the
	// job would be refused).
	Files []FilesProblem `json:"files,omitempty"`
}

// FilesProblem is why a task's files cannot be had: the job-files bucket
// cannot store its workdir or local file mounts, or a bucket mount's
// bucket does not exist and cannot be created.
type FilesProblem struct {
	// Mount is the index of the file mount, or -1 for the workdir.
	Mount    int    `json:"mount"`
	Msg      string `json:"msg"`
	Accepted string `json:"accepted,omitempty"`
}

// PlanResponse holds one TaskPlan per task.
type PlanResponse struct {
	Engine string     `json:"engine"`
	Tasks  []TaskPlan `json:"tasks"`
}

// Infeasible says why the job cannot run (the first task nothing can run),
// or returns nil.
func (p PlanResponse) Infeasible() error {
	for _, tp := range p.Tasks {
		if why := p.Refusal(tp); why != "" {
			return errors.New(why)
		}
	}
	return nil
}

// Refusal says why nothing can run the task of tp, or "" when it fits.
func (p PlanResponse) Refusal(tp TaskPlan) string {
	if tp.Error == "" {
		return ""
	}
	return fmt.Sprintf("nothing can run task '%s' on the %s engine: %s; nothing was submitted", tp.Task, p.Engine, tp.Error)
}

// LaunchRequest submits a managed job (or NumJobs of them to a pool).
type LaunchRequest struct {
	DAG  task.DAG `json:"dag"`
	User string   `json:"user"`
	// Pool submits to a worker pool.
	Pool string `json:"pool,omitempty"`
	// NumJobs submits that many copies, ranked 0..N-1 (default 1).
	NumJobs int `json:"num_jobs,omitempty"`
}

// LaunchResponse lists the new job ids.
type LaunchResponse struct {
	JobIDs []int64 `json:"job_ids"`
}

// QueueRequest filters `jobs queue`.
type QueueRequest struct {
	All          bool    `json:"all,omitempty"` // include finished jobs (default: in progress + recent)
	SkipFinished bool    `json:"skip_finished,omitempty"`
	User         string  `json:"user,omitempty"` // empty: every user
	Limit        int     `json:"limit,omitempty"`
	JobIDs       []int64 `json:"job_ids,omitempty"`
	Pool         string  `json:"pool,omitempty"` // only this pool's jobs
}

// QueueResponse is the list of jobs, newest first.
type QueueResponse struct {
	Jobs []Job `json:"jobs"`
	// InProgress counts the jobs not in a final status, by status, among
	// every job of the request's User (of every user when it has none),
	// whatever JobIDs, Limit, SkipFinished or All select: the "In progress
	// tasks: 1 PENDING, 2 RUNNING" line.
	InProgress map[Status]int `json:"in_progress"`
}

// CancelRequest selects jobs to cancel; exactly one selector is set.
type CancelRequest struct {
	JobIDs []int64 `json:"job_ids,omitempty"`
	Name   string  `json:"name,omitempty"`
	All    bool    `json:"all,omitempty"`
	Pool   string  `json:"pool,omitempty"`
	User   string  `json:"user,omitempty"`
}

// CancelResponse lists what was cancelled.
type CancelResponse struct {
	Cancelled []int64 `json:"cancelled"`
}

// PreemptRequest injects a preemption into a running task (fault injection).
type PreemptRequest struct {
	Task int `json:"task"`
	// NoticeSeconds > 0 delivers a spot notice first: SIGTERM, then kill at
	// the deadline.
	NoticeSeconds float64 `json:"notice_seconds,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	Engine  string `json:"engine"`
	Version string `json:"version"`
	// Host is the controller's host name: a CLI on another host sends a
	// job's local files (POST /v1/files) instead of naming its paths.
	Host string `json:"host,omitempty"`
	// LoopLatency is how long the controller's loop took to answer this
	// request: how long requests and engine events wait (seconds in JSON).
	LoopLatency Duration `json:"loop_latency"`
}

// Demand is the answer of GET /v1/demand: how many nodes each offering's
// Nomad node class needs now, for every attempt placed on it and not
// finished (launching, waiting for nodes or running), times its num_nodes.
// Classes with no demand are absent. The autoscaler's skynomad-apm plugin
// reads it.
type Demand struct {
	Nodes map[string]int `json:"nodes"`
}

// QueueResponseGob is QueueResponse as sent with Content-Type
// application/x-gob, which jobs/client asks for: a 10,000-job queue decodes
// several times faster than JSON. gob cannot tell a pointer to zero from
// nil, so each task whose exit code is 0 is listed in ZeroExitCodes as
// {job index, task index} and its ExitCode is restored on arrival.
type QueueResponseGob struct {
	Jobs          []Job
	InProgress    map[Status]int
	ZeroExitCodes [][2]int
}

// Pool statuses.
const (
	// PoolProvisioning: fewer workers are ready than asked for.
	PoolProvisioning = "PROVISIONING"
	// PoolReady: every worker asked for is ready (idle or busy).
	PoolReady = "READY"
	// PoolUpdating: workers of an older version are being rolled.
	PoolUpdating = "UPDATING"
	// PoolFailed: a worker's setup failed again and again; no job runs.
	PoolFailed = "FAILED"
	// PoolShuttingDown: `pool down` was asked; workers are stopping.
	PoolShuttingDown = "SHUTTING_DOWN"
)

// Worker statuses.
const (
	WorkerProvisioning = "PROVISIONING" // waiting for a node
	WorkerSettingUp    = "SETTING_UP"   // running the pool's setup
	WorkerIdle         = "IDLE"         // ready, no job
	WorkerBusy         = "BUSY"         // running a job
	WorkerRecovering   = "RECOVERING"   // lost or its setup failed: being replaced
	WorkerStopping     = "STOPPING"     // rolled, scaled in or taken down
	WorkerFailed       = "FAILED"       // its setup failed on every try: the pool FAILED
)

// PoolApplyRequest creates a pool or updates it (POST /v1/pools).
type PoolApplyRequest struct {
	Name string `json:"name"`
	// DAG is the pool file: one task with its pool: block.
	DAG  task.DAG `json:"dag"`
	User string   `json:"user"`
}

// PoolApplyResponse says what apply did.
type PoolApplyResponse struct {
	Pool Pool `json:"pool"`
	// Created is true for a new pool; Rolling for a changed setup, envs
	// or resources (workers are replaced one at a time); Scaled for a
	// changed worker count only.
	Created bool `json:"created,omitempty"`
	Rolling bool `json:"rolling,omitempty"`
	Scaled  bool `json:"scaled,omitempty"`
	// Warnings name what of the pool file has no effect.
	Warnings []string `json:"warnings,omitempty"`
}

// Pool is one worker pool as `jobs pool status` shows it.
type Pool struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Version int    `json:"version"`
	// Workers is the number asked for; Ready counts those that finished
	// setup (idle or busy).
	Workers int `json:"workers"`
	Ready   int `json:"ready"`
	Busy    int `json:"busy"`
	// Requested reads like the queue's REQUESTED column.
	Requested string `json:"requested"`
	// Choice is where the workers run (the optimizer's first choice).
	Choice *catalog.Choice `json:"choice,omitempty"`
	// CostPerHour is the price of every worker asked for, per hour (0 on
	// the local engine).
	CostPerHour   float64   `json:"cost_per_hour"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	FailureReason string    `json:"failure_reason,omitempty"`
	// PendingJobs and RunningJobs count the pool's unfinished jobs.
	PendingJobs int      `json:"pending_jobs"`
	RunningJobs int      `json:"running_jobs"`
	Worker      []Worker `json:"worker_details"`
	// Resources is the pool's task resources, for a job's fit check.
	Resources task.Resources `json:"resources"`
}

// Worker is one worker of a pool.
type Worker struct {
	// ID is the worker's id: the id of the internal job that runs it, whose
	// log (`jobs pool logs`) is the setup output.
	ID      int64  `json:"id"`
	Status  string `json:"status"`
	Version int    `json:"version"`
	// Job is the managed job it runs (0: none).
	Job int64 `json:"job,omitempty"`
	// Node is where it runs; Infra and Instance as in the queue.
	Node        string     `json:"node,omitempty"`
	Infra       string     `json:"infra,omitempty"`
	Instance    string     `json:"instance,omitempty"`
	Spot        bool       `json:"spot,omitempty"`
	CostPerHour float64    `json:"cost_per_hour"`
	ReadyAt     *time.Time `json:"ready_at,omitempty"`
	Replaced    int        `json:"replaced"` // how many times it was replaced (lost or setup failed)
	// SetupExitCode is the exit code of its last failed setup, if any.
	SetupExitCode *int `json:"setup_exit_code,omitempty"`
}

// PoolsResponse answers GET /v1/pools.
type PoolsResponse struct {
	Pools []Pool `json:"pools"`
}

// PoolDownRequest takes pools down (POST /v1/pools/down): their unfinished
// jobs are cancelled, then every worker stops.
type PoolDownRequest struct {
	Names []string `json:"names,omitempty"`
	All   bool     `json:"all,omitempty"`
}

// PoolDownResponse lists the pools taken down and the jobs cancelled.
type PoolDownResponse struct {
	Pools     []string `json:"pools"`
	Cancelled []int64  `json:"cancelled,omitempty"`
}

// UploadProgress is how far a job's upload to the job-files bucket is.
type UploadProgress struct {
	Files      int   `json:"files"`
	TotalFiles int   `json:"total_files"`
	Bytes      int64 `json:"bytes"`
	TotalBytes int64 `json:"total_bytes"`
}

// Percent is how much of the bytes are uploaded, 0 to 100.
func (p UploadProgress) Percent() int {
	if p.TotalBytes <= 0 {
		return 0
	}
	return int(p.Bytes * 100 / p.TotalBytes)
}

// StagedFiles is the answer of POST /v1/files (a gzipped tar of one local
// path, bucket/stage): where the controller keeps the copy.
type StagedFiles struct {
	Path string `json:"path"`
}
