package interrupt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// RebalancePolicy says what a rebalance recommendation does.
type RebalancePolicy string

const (
	// RebalanceIgnore: nothing (the AWS watcher does not even poll for it).
	RebalanceIgnore RebalancePolicy = "ignore"
	// RebalanceIneligible: mark the node ineligible; running tasks stay.
	RebalanceIneligible RebalancePolicy = "ineligible"
	// RebalanceDrain: drain the node (system jobs stay).
	RebalanceDrain RebalancePolicy = "drain"
)

// Defaults of HandlerConfig.
const (
	DefaultStopMargin             = 5 * time.Second
	DefaultRetryInterval          = 2 * time.Second
	DefaultRebalanceDrainDeadline = time.Hour
)

// HandlerConfig configures a Handler. Validate fills the defaults.
type HandlerConfig struct {
	// NodeID is the Nomad node this handler runs on. Required.
	NodeID string
	// NodeName is its name, for the log until the handler reads the node.
	NodeName string
	// AllocRoot is the Nomad client's allocation directory root
	// (<data_dir>/alloc) as seen by the handler.
	AllocRoot string
	// StopMargin: allocations are stopped this long before the deadline
	// (at once if the notice is shorter).
	StopMargin time.Duration
	// OnRebalance says what a rebalance recommendation does.
	OnRebalance RebalancePolicy
	// RebalanceDrainDeadline is the drain deadline for RebalanceDrain.
	RebalanceDrainDeadline time.Duration
	// RetryInterval is the pause before retrying a failed step or a
	// failed metadata read, and between sweeps for allocations that
	// appear after the stop.
	RetryInterval time.Duration
	Logger        *slog.Logger
	// Now and After are the clock; tests may inject them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Validate checks the config and fills defaults.
func (c *HandlerConfig) Validate() error {
	if c.NodeID == "" {
		return errors.New("handler: node ID is required")
	}
	if c.StopMargin < 0 {
		return fmt.Errorf("handler: stop margin %s is negative", c.StopMargin)
	}
	switch c.OnRebalance {
	case "":
		c.OnRebalance = RebalanceIgnore
	case RebalanceIgnore, RebalanceIneligible, RebalanceDrain:
	default:
		return fmt.Errorf("handler: rebalance policy %q (want ignore, ineligible or drain)", c.OnRebalance)
	}
	if c.AllocRoot == "" {
		c.AllocRoot = DefaultAllocRoot
	}
	if c.RebalanceDrainDeadline <= 0 {
		c.RebalanceDrainDeadline = DefaultRebalanceDrainDeadline
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	return nil
}

// Handler turns interruption notices into Nomad actions on its own node.
// On a notice that takes the instance away, in this order, each step
// checking the current state first so that repeated notices do no harm:
//
//  1. mark the node ineligible;
//  2. for each skynomad allocation on the node: record the preemption in
//     the Variable skynomad/preemptions/<alloc-id>, write the deadline
//     file, and send SIGTERM to its running "setup" and "run" tasks;
//  3. at the deadline minus StopMargin, stop those allocations (only once
//     the node is ineligible, so Nomad cannot place them back here), then
//     acknowledge the notice to the cloud if it asks for that (Azure).
//
// A task is signalled only once its preemption is recorded, so the Nomad
// engine never mistakes its exit for a user failure.
type Handler struct {
	cfg     HandlerConfig
	watcher Watcher
	nomad   nomadActions
	log     *slog.Logger

	// State below is used by the goroutine running Run only.
	interrupt     *Notice // the interrupting notice with the earliest deadline
	rebalance     bool    // a rebalance recommendation arrived
	rebalanceDone bool
	ineligible    bool
	nodeName      string
	recorded      map[string]bool      // alloc ID → Variable exists
	deadlineFile  map[string]time.Time // alloc ID → deadline handled (written or skipped)
	signaled      map[string]bool      // alloc ID/task
	stopped       map[string]bool      // alloc ID
	acks          []Notice             // notices to acknowledge after the stop
	acked         map[string]bool      // event ID
}

// NewHandler returns a handler acting through the Nomad API client.
func NewHandler(cfg HandlerConfig, w Watcher, client *api.Client) (*Handler, error) {
	return newHandler(cfg, w, apiActions{c: client})
}

func newHandler(cfg HandlerConfig, w Watcher, n nomadActions) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Handler{
		cfg:          cfg,
		watcher:      w,
		nomad:        n,
		log:          cfg.Logger.With("node_id", cfg.NodeID),
		nodeName:     cfg.NodeName,
		recorded:     map[string]bool{},
		deadlineFile: map[string]time.Time{},
		signaled:     map[string]bool{},
		stopped:      map[string]bool{},
		acked:        map[string]bool{},
	}, nil
}

// Run watches for notices and acts on them until ctx ends. It returns nil
// when ctx ends; watcher and Nomad errors are logged and retried.
func (h *Handler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	notices := make(chan Notice)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		h.watch(ctx, notices)
	}()
	defer func() {
		cancel()
		<-watchDone
	}()

	var wake <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-notices:
			h.accept(n)
		case <-wake:
		}
		wake = nil
		if next, ok := h.reconcile(ctx); ok {
			wake = h.cfg.After(next.Sub(h.cfg.Now()))
		}
	}
}

func (h *Handler) watch(ctx context.Context, out chan<- Notice) {
	for {
		n, err := h.watcher.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.log.Warn("reading interruption notices", "err", err)
			if sleepCtx(ctx, h.cfg.After, h.cfg.RetryInterval) != nil {
				return
			}
			continue
		}
		select {
		case out <- n:
		case <-ctx.Done():
			return
		}
	}
}

// accept merges a notice into the handler's state.
func (h *Handler) accept(n Notice) {
	if !n.Action.Interrupts() {
		h.log.Info("rebalance recommendation", "cloud", n.Cloud, "notice_time", n.NoticeTime, "policy", h.cfg.OnRebalance)
		h.rebalance = true
		return
	}
	if n.Deadline.IsZero() {
		n.Deadline = h.cfg.Now()
	}
	h.log.Info(fmt.Sprintf("preemption notice at %s, deadline %s, node %s",
		n.NoticeTime.UTC().Format(time.RFC3339Nano), n.Deadline.UTC().Format(time.RFC3339Nano), h.nodeLabel()),
		"cloud", n.Cloud, "action", n.Action, "notice_time", n.NoticeTime, "deadline", n.Deadline, "event_id", n.EventID)
	if h.interrupt == nil || n.Deadline.Before(h.interrupt.Deadline) {
		h.interrupt = &n
	}
	if n.EventID != "" && !h.acked[n.EventID] {
		h.acks = append(h.acks, n)
	}
}

func (h *Handler) nodeLabel() string {
	if h.nodeName != "" {
		return h.nodeName
	}
	return h.cfg.NodeID
}

// reconcile does whatever is due and says when to run again.
func (h *Handler) reconcile(ctx context.Context) (time.Time, bool) {
	now := h.cfg.Now()
	retry := now.Add(h.cfg.RetryInterval)
	if h.interrupt == nil {
		if !h.rebalance || h.rebalanceDone {
			return time.Time{}, false
		}
		if err := h.applyRebalance(ctx); err != nil {
			if ctx.Err() != nil {
				return time.Time{}, false
			}
			h.log.Error("acting on rebalance recommendation", "err", err)
			return retry, true
		}
		h.rebalanceDone = true
		return time.Time{}, false
	}

	n := *h.interrupt
	stopAt := n.Deadline.Add(-h.cfg.StopMargin)
	err := h.handleInterrupt(ctx, n, !now.Before(stopAt))
	if err != nil && ctx.Err() != nil {
		return time.Time{}, false // shutting down
	}
	if err != nil {
		h.log.Error("acting on preemption notice", "err", err)
		if now.Before(stopAt) && stopAt.Before(retry) {
			return stopAt, true
		}
		return retry, true
	}
	switch {
	case now.Before(stopAt):
		return stopAt, true
	case now.Before(n.Deadline):
		// Sweep again for allocations placed while this one ran.
		return minTime(retry, n.Deadline), true
	}
	return time.Time{}, false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (h *Handler) applyRebalance(ctx context.Context) error {
	switch h.cfg.OnRebalance {
	case RebalanceIneligible:
		return h.ensureIneligible(ctx)
	case RebalanceDrain:
		node, err := h.nomad.Node(ctx, h.cfg.NodeID)
		if err != nil {
			return err
		}
		h.nodeName = node.Name
		if node.Draining {
			return nil
		}
		if err := h.nomad.Drain(ctx, h.cfg.NodeID, h.cfg.RebalanceDrainDeadline); err != nil {
			return err
		}
		h.log.Info("node draining after rebalance recommendation", "deadline", h.cfg.RebalanceDrainDeadline)
	}
	return nil
}

func (h *Handler) ensureIneligible(ctx context.Context) error {
	if h.ineligible {
		return nil
	}
	node, err := h.nomad.Node(ctx, h.cfg.NodeID)
	if err != nil {
		return err
	}
	h.nodeName = node.Name
	if node.Eligible {
		if err := h.nomad.SetIneligible(ctx, h.cfg.NodeID); err != nil {
			return err
		}
		h.log.Info("node marked ineligible", "node", node.Name)
	}
	h.ineligible = true
	return nil
}

// handleInterrupt runs the steps of an interruption; stop says the stop
// time has come.
func (h *Handler) handleInterrupt(ctx context.Context, n Notice, stop bool) error {
	errIneligible := h.ensureIneligible(ctx)
	allocs, err := h.nomad.NodeAllocs(ctx, h.cfg.NodeID)
	if err != nil {
		return errors.Join(errIneligible, err)
	}
	var errs []error
	var targets []allocInfo
	for _, a := range allocs {
		if !a.skynomad() || !a.active() {
			continue
		}
		targets = append(targets, a)
		if err := h.prepare(ctx, a, n); err != nil {
			errs = append(errs, err)
		}
	}
	if !stop {
		return errors.Join(append(errs, errIneligible)...)
	}
	if errIneligible != nil {
		// Stopping now would let Nomad place the allocations right back on
		// this node.
		return errors.Join(append(errs, fmt.Errorf("not stopping allocations while the node is eligible: %w", errIneligible))...)
	}
	for _, a := range targets {
		if h.stopped[a.ID] {
			continue
		}
		if err := h.nomad.Stop(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		h.stopped[a.ID] = true
		h.log.Info("allocation stopped", "alloc_id", a.ID, "job", a.JobID, "deadline", n.Deadline)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return h.acknowledge(ctx)
}

// prepare records the preemption of one allocation, writes its deadline
// file and signals its tasks, skipping what is already done.
func (h *Handler) prepare(ctx context.Context, a allocInfo, n Notice) error {
	if !h.recorded[a.ID] {
		exists, err := h.nomad.PreemptionRecorded(ctx, a.Namespace, a.ID)
		if err != nil {
			return err
		}
		if !exists {
			nodeName := a.NodeName
			if nodeName == "" {
				nodeName = h.nodeName
			}
			rec := preemptionRecord{
				Namespace: a.Namespace, AllocID: a.ID, NodeID: h.cfg.NodeID, NodeName: nodeName,
				NoticeTime: n.NoticeTime, Deadline: n.Deadline, Cloud: n.Cloud, Action: n.Action,
			}
			if err := h.nomad.RecordPreemption(ctx, rec); err != nil {
				return err
			}
			h.log.Info("preemption recorded", "alloc_id", a.ID, "job", a.JobID, "variable", naming.PreemptionVariable(a.ID))
		}
		h.recorded[a.ID] = true
	}

	if done, ok := h.deadlineFile[a.ID]; !ok || n.Deadline.Before(done) {
		wrote, err := writeDeadlineFile(h.cfg.AllocRoot, a.ID, n.Deadline)
		switch {
		case errors.Is(err, errNoAllocDir):
			h.log.Warn("no allocation directory here; deadline file skipped", "alloc_id", a.ID, "alloc_root", h.cfg.AllocRoot)
		case err != nil:
			return fmt.Errorf("allocation %s: %w", a.ID, err)
		case wrote:
			h.log.Info("deadline file written", "alloc_id", a.ID, "path", DeadlineFilePath(h.cfg.AllocRoot, a.ID))
		}
		h.deadlineFile[a.ID] = n.Deadline
	}

	for _, task := range []string{naming.SetupTaskName, naming.RunTaskName} {
		key := a.ID + "/" + task
		if h.signaled[key] || a.Signaled[task] || !slices.Contains(a.RunningTasks, task) {
			continue
		}
		if err := h.nomad.Signal(ctx, a, task, signalTerm); err != nil {
			return err
		}
		h.signaled[key] = true
		h.log.Info("sent SIGTERM", "alloc_id", a.ID, "job", a.JobID, "task", task,
			"since_notice", h.cfg.Now().Sub(n.NoticeTime))
	}
	return nil
}

func (h *Handler) acknowledge(ctx context.Context) error {
	ack, ok := h.watcher.(Acknowledger)
	if !ok {
		h.acks = nil
		return nil
	}
	for len(h.acks) > 0 {
		n := h.acks[0]
		if !h.acked[n.EventID] {
			if err := ack.Acknowledge(ctx, n); err != nil {
				return fmt.Errorf("acknowledge event %s: %w", n.EventID, err)
			}
			h.acked[n.EventID] = true
			h.log.Info("event acknowledged", "cloud", n.Cloud, "event_id", n.EventID)
		}
		h.acks = h.acks[1:]
	}
	return nil
}
