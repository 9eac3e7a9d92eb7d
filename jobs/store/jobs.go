package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skynomad/skynomad/catalog"
	"github.com/skynomad/skynomad/jobs/api"
	"github.com/skynomad/skynomad/task"
)

// Job is one row of the jobs table. Zero times are unset.
type Job struct {
	ID            int64
	Name          string
	User          string
	Status        api.Status
	Pool          string
	Priority      int
	Pipeline      bool
	DAG           task.DAG // not filled by List
	SubmittedAt   time.Time
	StartedAt     time.Time
	EndedAt       time.Time
	FailureReason string
	JobRank       int
	NumJobs       int
	// CurrentTask is the index of the task being run (the last one once done).
	CurrentTask int
	// LaunchRetries counts plans exhausted without capacity since the last
	// successful placement.
	LaunchRetries int
	// Kind is KindJob for a managed job, KindWorker for a pool's worker
	// (Pool names the pool, PoolVersion the pool version it runs).
	Kind        string
	PoolVersion int
}

// Job kinds.
const (
	KindJob    = ""
	KindWorker = "worker"
)

// IsWorker reports whether the job runs a pool worker.
func (j *Job) IsWorker() bool { return j.Kind == KindWorker }

// Task is one row of the tasks table. Zero times are unset.
type Task struct {
	JobID     int64
	Index     int
	Name      string
	Status    api.Status
	Requested string
	// Attempt is the number of the latest attempt (0: never launched).
	Attempt    int
	Restarts   int
	Recoveries int
	ExitCode   *int
	// SubmittedAt is when the task became the job's current task.
	SubmittedAt time.Time
	StartedAt   time.Time
	EndedAt     time.Time
	// RunTime is the time spent placed, summed over ended intervals;
	// RunningSince is the start of the open interval, if any.
	RunTime      time.Duration
	RunningSince time.Time
	// Choice is the placement of the latest attempt.
	Choice        *catalog.Choice
	Blocked       []task.Infra
	FailureReason string
	// Spent and OnDemand are what the task's ended attempts cost, in USD:
	// their instance-hours at the price of what they ran on, and at the
	// on-demand price. BilledSince is when the live attempt was placed;
	// it costs Rate (OnDemandRate on-demand) per hour from then.
	Spent, OnDemand    float64
	BilledSince        time.Time
	Rate, OnDemandRate float64
}

// Cost is what the task's capacity cost until now: spent and on-demand.
func (t *Task) Cost(now time.Time) (spent, onDemand float64) {
	spent, onDemand = t.Spent, t.OnDemand
	if !t.BilledSince.IsZero() && now.After(t.BilledSince) {
		h := now.Sub(t.BilledSince).Hours()
		spent += h * t.Rate
		onDemand += h * t.OnDemandRate
	}
	return spent, onDemand
}

// Duration is the task's time spent placed, as of now.
func (t *Task) Duration(now time.Time) time.Duration {
	d := t.RunTime
	if !t.RunningSince.IsZero() && now.After(t.RunningSince) {
		d += now.Sub(t.RunningSince)
	}
	return d
}

// AttemptState is where an attempt is in its life.
type AttemptState string

const (
	// AttemptLaunching: the row is written, engine.Launch may not have run.
	AttemptLaunching AttemptState = "launching"
	// AttemptLaunched: engine.Launch returned (or the attempt was seen).
	AttemptLaunched AttemptState = "launched"
	// AttemptEnded: the controller is done with it; Outcome says how.
	AttemptEnded AttemptState = "ended"
)

// Attempt outcomes.
const (
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed" // exited non-zero
	OutcomePreempted  = "preempted"
	OutcomeNoCapacity = "no_capacity"
	OutcomeCancelled  = "cancelled"
	OutcomeStopped    = "operator_stopped"
	OutcomeInfeasible = "infeasible"
	OutcomeAbandoned  = "abandoned" // the controller gave up on it (internal error)
)

// Attempt is one row of the attempts table.
type Attempt struct {
	JobID      int64
	Task       int
	Number     int
	Choice     catalog.Choice
	State      AttemptState
	Outcome    string
	Node       string
	ExitCode   *int
	CreatedAt  time.Time
	LaunchedAt time.Time
	PlacedAt   time.Time
	EndedAt    time.Time
	// RunAt is when the run phase started (a pool worker is ready then).
	RunAt time.Time
	// WorkerJob and WorkerAttempt name the pool worker's attempt a pool
	// job's attempt runs on (0: none).
	WorkerJob     int64
	WorkerAttempt int
}

// Live reports whether the attempt may still exist on the engine.
func (a *Attempt) Live() bool { return a.State != AttemptEnded }

// Record is a job with its tasks (by index) and attempts (by task, number).
type Record struct {
	Job      Job
	Tasks    []Task
	Attempts []Attempt
}

// Change is what one Save writes, in one transaction: the job row, task
// rows and attempt rows (inserted or replaced), each optional.
type Change struct {
	Job      *Job
	Tasks    []Task
	Attempts []Attempt
}

// terminalSQL lists the terminal statuses for SQL IN clauses.
var terminalSQL = func() string {
	var q []string
	for _, s := range api.AllStatuses {
		if s.Terminal() {
			q = append(q, "'"+string(s)+"'")
		}
	}
	return "(" + strings.Join(q, ",") + ")"
}()

// CreateJobs inserts jobs with their tasks in one transaction and returns
// their ids, ascending, in the order given. tasks[i] belongs to jobs[i].
func (s *Store) CreateJobs(ctx context.Context, jobs []Job, tasks [][]Task) ([]int64, error) {
	if len(jobs) != len(tasks) {
		return nil, fmt.Errorf("store: %d jobs but %d task lists", len(jobs), len(tasks))
	}
	ids := make([]int64, 0, len(jobs))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range jobs {
			j := &jobs[i]
			dag, err := json.Marshal(j.DAG)
			if err != nil {
				return err
			}
			res, err := tx.StmtContext(ctx, s.stmts.insertJob).ExecContext(ctx,
				j.Name, j.User, j.Status, j.Pool, j.Priority, j.Pipeline, dag,
				j.SubmittedAt.UnixNano(), nullTime(j.StartedAt), nullTime(j.EndedAt), j.FailureReason,
				j.JobRank, j.NumJobs, j.CurrentTask, j.LaunchRetries, j.Kind, j.PoolVersion)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			j.ID = id
			ids = append(ids, id)
			for k := range tasks[i] {
				t := &tasks[i][k]
				t.JobID = id
				if err := s.putTask(ctx, tx, t); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: create jobs: %w", err)
	}
	return ids, nil
}

// Save writes one change atomically.
func (s *Store) Save(ctx context.Context, c Change) error {
	defer s.timed("save", time.Now())
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if j := c.Job; j != nil {
			res, err := tx.StmtContext(ctx, s.stmts.updateJob).ExecContext(ctx,
				j.Status, nullTime(j.StartedAt), nullTime(j.EndedAt), j.FailureReason,
				j.CurrentTask, j.LaunchRetries, j.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("job %d: %w", j.ID, ErrNotFound)
			}
		}
		for i := range c.Tasks {
			if err := s.putTask(ctx, tx, &c.Tasks[i]); err != nil {
				return err
			}
		}
		for i := range c.Attempts {
			if err := s.putAttempt(ctx, tx, &c.Attempts[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save: %w", err)
	}
	return nil
}

func (s *Store) putTask(ctx context.Context, tx *sql.Tx, t *Task) error {
	var choice, blocked any
	var infra, instance string
	var spot bool
	if t.Choice != nil {
		b, err := json.Marshal(t.Choice)
		if err != nil {
			return err
		}
		choice = string(b)
		infra = InfraOf(*t.Choice)
		instance = t.Choice.Offering.InstanceType
		spot = t.Choice.Spot
	}
	if len(t.Blocked) > 0 {
		b, err := json.Marshal(t.Blocked)
		if err != nil {
			return err
		}
		blocked = string(b)
	}
	_, err := tx.StmtContext(ctx, s.stmts.putTask).ExecContext(ctx,
		t.JobID, t.Index, t.Name, t.Status, t.Requested, t.Attempt,
		t.Restarts, t.Recoveries, nullInt(t.ExitCode), nullTime(t.SubmittedAt), nullTime(t.StartedAt),
		nullTime(t.EndedAt), int64(t.RunTime), nullTime(t.RunningSince),
		choice, infra, instance, spot, blocked, t.FailureReason,
		t.Spent, t.OnDemand, nullTime(t.BilledSince), t.Rate, t.OnDemandRate)
	return err
}

func (s *Store) putAttempt(ctx context.Context, tx *sql.Tx, a *Attempt) error {
	choice, err := json.Marshal(a.Choice)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, s.stmts.putAttempt).ExecContext(ctx,
		a.JobID, a.Task, a.Number, string(choice), a.State, a.Outcome, a.Node, nullInt(a.ExitCode),
		a.CreatedAt.UnixNano(), nullTime(a.LaunchedAt), nullTime(a.PlacedAt), nullTime(a.EndedAt),
		nullTime(a.RunAt), a.WorkerJob, a.WorkerAttempt)
	return err
}

// InfraOf names a choice's location as "cloud/region" ("local" for this
// host).
func InfraOf(c catalog.Choice) string {
	if c.Offering.Region == "" || c.Offering.Region == c.Offering.Cloud {
		return c.Offering.Cloud
	}
	return c.Offering.Cloud + "/" + c.Offering.Region
}

// Get returns one job with its tasks and attempts.
func (s *Store) Get(ctx context.Context, id int64) (Record, error) {
	defer s.timed("get", time.Now())
	recs, err := s.load(ctx, `j.id = ?`, id)
	if err != nil {
		return Record{}, err
	}
	if len(recs) == 0 {
		return Record{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return recs[0], nil
}

// LoadJobs returns the jobs with these ids (those that exist), in id order,
// with their tasks and attempts.
func (s *Store) LoadJobs(ctx context.Context, ids []int64) ([]Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	where, args := Filter{IDs: ids}.where()
	return s.load(ctx, where, args...)
}

// LoadActive returns every job that is not in a terminal status, in id order,
// with its tasks and attempts.
func (s *Store) LoadActive(ctx context.Context) ([]Record, error) {
	return s.load(ctx, `j.status NOT IN `+terminalSQL)
}

// load reads full records (with DAG, tasks, attempts) for jobs matching
// where (an expression over jobs j), in id order: one query per table.
func (s *Store) load(ctx context.Context, where string, args ...any) ([]Record, error) {
	// One read transaction: the job, task and attempt rows are one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+jobCols+`, j.dag FROM jobs j WHERE `+where+` ORDER BY j.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load jobs: %w", err)
	}
	var recs []Record
	index := map[int64]int{}
	for rows.Next() {
		var j Job
		var dag []byte
		if err := scanJob(rows, &j, &dag); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: load jobs: %w", err)
		}
		if err := json.Unmarshal(dag, &j.DAG); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: job %d: bad dag: %w", j.ID, err)
		}
		index[j.ID] = len(recs)
		recs = append(recs, Record{Job: j})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: load jobs: %w", err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	sub := `SELECT j.id FROM jobs j WHERE ` + where
	tasks, err := queryTasks(ctx, tx, `t.job_id IN (`+sub+`)`, true, args...)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		r := &recs[index[t.JobID]]
		r.Tasks = append(r.Tasks, t)
	}
	arows, err := tx.QueryContext(ctx, `SELECT job_id, task_idx, attempt, choice, state, outcome, node, exit_code,
		created_at, launched_at, placed_at, ended_at, run_at, worker_job, worker_attempt FROM attempts
		WHERE job_id IN (`+sub+`) ORDER BY job_id, task_idx, attempt`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load attempts: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var a Attempt
		var choice []byte
		var exit sql.NullInt64
		var created int64
		var launched, placed, ended, run sql.NullInt64
		if err := arows.Scan(&a.JobID, &a.Task, &a.Number, &choice, &a.State, &a.Outcome, &a.Node, &exit,
			&created, &launched, &placed, &ended, &run, &a.WorkerJob, &a.WorkerAttempt); err != nil {
			return nil, fmt.Errorf("store: load attempts: %w", err)
		}
		if err := json.Unmarshal(choice, &a.Choice); err != nil {
			return nil, fmt.Errorf("store: attempt %d/%d/%d: bad choice: %w", a.JobID, a.Task, a.Number, err)
		}
		a.ExitCode = intPtr(exit)
		a.CreatedAt = time.Unix(0, created)
		a.LaunchedAt, a.PlacedAt, a.EndedAt = timeOf(launched), timeOf(placed), timeOf(ended)
		a.RunAt = timeOf(run)
		r := &recs[index[a.JobID]]
		r.Attempts = append(r.Attempts, a)
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("store: load attempts: %w", err)
	}
	return recs, nil
}

const jobCols = `j.id, j.name, j.user_name, j.status, j.pool, j.priority, j.pipeline, j.submitted_at,
	j.started_at, j.ended_at, j.failure_reason, j.job_rank, j.num_jobs, j.current_task, j.launch_retries,
	j.kind, j.pool_version`

// scanJob scans the jobCols of a row. It scans into plain Go types only:
// database/sql converts named types (api.Status) through reflection, which
// costs more than the query itself at 10,000 rows.
func scanJob(rows *sql.Rows, j *Job, extra ...any) error {
	var status string
	var priority, pipeline, submitted, rank, num, cur, retries, version int64
	var started, ended sql.NullInt64
	dest := []any{&j.ID, &j.Name, &j.User, &status, &j.Pool, &priority, &pipeline, &submitted,
		&started, &ended, &j.FailureReason, &rank, &num, &cur, &retries, &j.Kind, &version}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	j.Status = api.Status(status)
	j.Priority, j.Pipeline = int(priority), pipeline != 0
	j.SubmittedAt = time.Unix(0, submitted)
	j.StartedAt, j.EndedAt = timeOf(started), timeOf(ended)
	j.JobRank, j.NumJobs, j.CurrentTask, j.LaunchRetries = int(rank), int(num), int(cur), int(retries)
	j.PoolVersion = int(version)
	return nil
}

// queryTasks reads tasks matching where (over tasks t) ordered by job, index.
// withChoice also decodes the choice and blocked JSON (List skips it and
// fills Choice from the denormalized columns).
func queryTasks(ctx context.Context, tx *sql.Tx, where string, withChoice bool, args ...any) ([]Task, error) {
	rows, err := tx.QueryContext(ctx, `SELECT t.job_id, t.idx, t.name, t.status, t.requested, t.attempt,
		t.restarts, t.recoveries, t.exit_code, t.submitted_at, t.started_at, t.ended_at, t.run_ns,
		t.running_since, t.infra, t.instance_type, t.spot, t.failure_reason,
		t.spent_usd, t.on_demand_usd, t.billed_since, t.rate_usd, t.on_demand_rate_usd,
		`+choiceCols(withChoice)+` FROM tasks t WHERE `+where+` ORDER BY t.job_id, t.idx`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var t Task
		var status string
		var idx, attempt, restarts, recoveries, runNS, spot int64
		var exit, submitted, started, ended, since, billed sql.NullInt64
		var infra, instance string
		var choice, blocked sql.NullString
		if err := rows.Scan(&t.JobID, &idx, &t.Name, &status, &t.Requested, &attempt,
			&restarts, &recoveries, &exit, &submitted, &started, &ended, &runNS,
			&since, &infra, &instance, &spot, &t.FailureReason,
			&t.Spent, &t.OnDemand, &billed, &t.Rate, &t.OnDemandRate, &choice, &blocked); err != nil {
			return nil, fmt.Errorf("store: load tasks: %w", err)
		}
		t.Index, t.Status = int(idx), api.Status(status)
		t.Attempt, t.Restarts, t.Recoveries = int(attempt), int(restarts), int(recoveries)
		t.ExitCode = intPtr(exit)
		t.SubmittedAt, t.StartedAt, t.EndedAt = timeOf(submitted), timeOf(started), timeOf(ended)
		t.RunTime = time.Duration(runNS)
		t.RunningSince, t.BilledSince = timeOf(since), timeOf(billed)
		if withChoice {
			if choice.Valid {
				t.Choice = new(catalog.Choice)
				if err := json.Unmarshal([]byte(choice.String), t.Choice); err != nil {
					return nil, fmt.Errorf("store: task %d/%d: bad choice: %w", t.JobID, t.Index, err)
				}
			}
			if blocked.Valid {
				if err := json.Unmarshal([]byte(blocked.String), &t.Blocked); err != nil {
					return nil, fmt.Errorf("store: task %d/%d: bad blocked list: %w", t.JobID, t.Index, err)
				}
			}
		} else if instance != "" || infra != "" {
			cloud, region, _ := strings.Cut(infra, "/")
			t.Choice = &catalog.Choice{Spot: spot != 0, Offering: catalog.Offering{
				Cloud: cloud, Region: region, InstanceType: instance,
			}}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func choiceCols(with bool) string {
	if with {
		return `t.choice, t.blocked`
	}
	return `NULL, NULL`
}

// Filter selects jobs for List. The zero Filter selects every job.
type Filter struct {
	IDs  []int64
	User string
	Name string
	Pool string
	// Kind, when set, keeps only jobs of that kind: KindJob (managed jobs,
	// as `jobs queue` and `jobs cancel` see them) or KindWorker.
	Kind *string
	// Active keeps only jobs in a non-terminal status.
	Active bool
	// RecentFinished, when > 0, keeps every active job and only that many
	// of the newest finished ones (`jobs queue` without --all).
	RecentFinished int
	// Limit, when > 0, keeps the newest that many jobs.
	Limit int
}

// List returns jobs matching f, newest first, without their DAG; tasks
// maps job id to its tasks in index order, with Choice holding only the
// cloud, region, instance type and spot flag. Two queries, whatever the count.
func (s *Store) List(ctx context.Context, f Filter) ([]Job, map[int64][]Task, error) {
	defer s.timed("list", time.Now())
	where, args := f.where()
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("store: list jobs: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs j WHERE `+where+` ORDER BY j.id DESC`+f.limit(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list jobs: %w", err)
	}
	var jobs []Job
	for rows.Next() {
		var j Job
		if err := scanJob(rows, &j); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("store: list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: list jobs: %w", err)
	}
	if len(jobs) == 0 {
		return nil, map[int64][]Task{}, nil
	}
	tw := `t.job_id IN (SELECT j.id FROM jobs j WHERE ` + where + ` ORDER BY j.id DESC` + f.limit() + `)`
	if f.Limit <= 0 {
		// Without a limit the task range is bounded by the ids found, which
		// lets SQLite walk the primary key instead of a subquery.
		tw = `t.job_id BETWEEN ? AND ? AND t.job_id IN (SELECT j.id FROM jobs j WHERE ` + where + `)`
		args = append([]any{jobs[len(jobs)-1].ID, jobs[0].ID}, args...)
	}
	tasks, err := queryTasks(ctx, tx, tw, false, args...)
	if err != nil {
		return nil, nil, err
	}
	byJob := make(map[int64][]Task, len(jobs))
	for _, t := range tasks {
		byJob[t.JobID] = append(byJob[t.JobID], t)
	}
	return jobs, byJob, nil
}

func (f Filter) where() (string, []any) {
	conds := []string{"1"}
	var args []any
	if len(f.IDs) > 0 {
		ph := strings.Repeat("?,", len(f.IDs))
		conds = append(conds, "j.id IN ("+ph[:len(ph)-1]+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.User != "" {
		conds = append(conds, "j.user_name = ?")
		args = append(args, f.User)
	}
	if f.Name != "" {
		conds = append(conds, "j.name = ?")
		args = append(args, f.Name)
	}
	if f.Pool != "" {
		conds = append(conds, "j.pool = ?")
		args = append(args, f.Pool)
	}
	if f.Kind != nil {
		conds = append(conds, "j.kind = ?")
		args = append(args, *f.Kind)
	}
	if f.Active {
		conds = append(conds, "j.status NOT IN "+terminalSQL)
	} else if f.RecentFinished > 0 {
		base := strings.Join(conds, " AND ")
		conds = append(conds, fmt.Sprintf(`(j.status NOT IN %s OR j.id IN (SELECT j.id FROM jobs j
			WHERE %s AND j.status IN %s ORDER BY j.id DESC LIMIT %d))`, terminalSQL, base, terminalSQL, f.RecentFinished))
		args = append(args, args...)
	}
	return strings.Join(conds, " AND "), args
}

func (f Filter) limit() string {
	if f.Limit > 0 {
		return fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return ""
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func intPtr(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

// IsNotFound reports whether err says a job does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
