package taskdriver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/drivers/shared/eventer"
	"github.com/hashicorp/nomad/plugins/base"
	"github.com/hashicorp/nomad/plugins/drivers"
	"github.com/hashicorp/nomad/plugins/shared/hclspec"
	pstructs "github.com/hashicorp/nomad/plugins/shared/structs"

	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// fingerprintPeriod is how often the plugin reports its health.
const fingerprintPeriod = 30 * time.Second

// Driver is the skypilot task-driver plugin.
type Driver struct {
	drivers.DriverExecTaskNotSupported

	ctx    context.Context
	cancel context.CancelFunc
	logger hclog.Logger
	events *eventer.Eventer
	// runner is the binary started as `runner --phase P` (this plugin).
	runner string

	mu     sync.Mutex
	config PluginConfig
	offer  offering // from the metadata, once found
	tasks  map[string]*task
}

// New returns the plugin; runner is the executable that serves `runner`
// (cmd/skypilot's own path).
func New(logger hclog.Logger, runner string) *Driver {
	ctx, cancel := context.WithCancel(context.Background())
	logger = logger.Named(driver.PluginName)
	return &Driver{
		ctx:    ctx,
		cancel: cancel,
		logger: logger,
		events: eventer.NewEventer(ctx, logger),
		runner: runner,
		config: PluginConfig{Metadata: MetadataNone, Docker: "docker", DockerAllowCaps: DefaultAllowCaps},
		tasks:  map[string]*task{},
	}
}

func (d *Driver) PluginInfo() (*base.PluginInfoResponse, error) { return pluginInfo(), nil }
func (d *Driver) ConfigSchema() (*hclspec.Spec, error)          { return pluginConfigSpec, nil }
func (d *Driver) TaskConfigSchema() (*hclspec.Spec, error)      { return taskConfigSpec, nil }
func (d *Driver) Capabilities() (*drivers.Capabilities, error)  { return capabilities, nil }

// SetConfig takes the client's plugin block.
func (d *Driver) SetConfig(cfg *base.Config) error {
	c := PluginConfig{Metadata: MetadataAuto, AWSMetadataEndpoint: DefaultAWSMetadataEndpoint,
		GCPMetadataEndpoint: DefaultGCPMetadataEndpoint, Docker: "docker", DockerAllowCaps: DefaultAllowCaps}
	if len(cfg.PluginConfig) != 0 {
		if err := base.MsgPackDecode(cfg.PluginConfig, &c); err != nil {
			return err
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	if _, err := taskUser(c.User, ""); err != nil {
		return fmt.Errorf("plugin %q: %w", driver.PluginName, err)
	}
	d.mu.Lock()
	d.config = c
	d.mu.Unlock()
	return nil
}

func (d *Driver) pluginConfig() PluginConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.config
}

// Fingerprint reports the driver's health and the node's offering now and
// every fingerprintPeriod.
func (d *Driver) Fingerprint(ctx context.Context) (<-chan *drivers.Fingerprint, error) {
	ch := make(chan *drivers.Fingerprint)
	go func() {
		defer close(ch)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.ctx.Done():
				return
			case <-timer.C:
			}
			fp := d.fingerprint(ctx)
			select {
			case ch <- fp:
			case <-ctx.Done():
				return
			case <-d.ctx.Done():
				return
			}
			timer.Reset(fingerprintPeriod)
		}
	}()
	return ch, nil
}

func (d *Driver) fingerprint(ctx context.Context) *drivers.Fingerprint {
	cfg := d.pluginConfig()
	d.mu.Lock()
	found := d.offer
	d.mu.Unlock()
	if !found.known() {
		found = probeMetadata(ctx, cfg)
		d.mu.Lock()
		d.offer = found
		d.mu.Unlock()
	}
	user, _ := taskUser(cfg.User, "")
	attrs := map[string]*pstructs.Attribute{
		"driver." + driver.PluginName:           pstructs.NewBoolAttribute(true),
		"driver." + driver.PluginName + ".user": pstructs.NewStringAttribute(user.name),
	}
	for k, v := range found.merge(cfg).attributes() {
		attrs["driver."+driver.PluginName+"."+k] = v
	}
	return &drivers.Fingerprint{
		Attributes:        attrs,
		Health:            drivers.HealthStateHealthy,
		HealthDescription: drivers.DriverHealthy,
	}
}

// StartTask starts the runner for one phase of one node.
func (d *Driver) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, *drivers.DriverNetwork, error) {
	if _, ok := d.task(cfg.ID); ok {
		return nil, nil, fmt.Errorf("task %s already started", cfg.ID)
	}
	var tc TaskConfig
	if err := cfg.DecodeDriverConfig(&tc); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if err := tc.validate(); err != nil {
		return nil, nil, err
	}
	t, err := d.launch(cfg, &tc)
	if err != nil {
		return nil, nil, err
	}
	h := drivers.NewTaskHandle(taskHandleVersion)
	h.Config = cfg
	h.State = drivers.TaskStateRunning
	if err := h.SetDriverState(&t.state); err != nil {
		t.kill()
		return nil, nil, fmt.Errorf("saving the task state: %w", err)
	}
	d.setTask(cfg.ID, t)
	d.emit(cfg, fmt.Sprintf("SkyPilot %s started (runner pid %d, user %s)", phaseWords(t.state.Phase), t.state.PID, t.state.User),
		map[string]string{"phase": t.state.Phase, "pid": fmt.Sprint(t.state.PID)})
	go d.report(t)
	return h, nil, nil
}

// RecoverTask re-attaches to a runner after a client or plugin restart.
func (d *Driver) RecoverTask(h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil {
		return errors.New("recover: no task handle")
	}
	if _, ok := d.task(h.Config.ID); ok {
		return nil // still ours
	}
	var state TaskState
	if err := h.GetDriverState(&state); err != nil {
		return fmt.Errorf("recover %s: reading its state: %w", h.Config.ID, err)
	}
	t := newTask(h.Config, state)
	d.setTask(h.Config.ID, t)
	if proc.Alive(state.PID, state.StartTicks) {
		d.logger.Info("re-attached to a running task", "task", h.Config.Name, "alloc", h.Config.AllocID, "pid", state.PID)
		go t.waitAdopted()
	} else {
		t.finish(resultOf(state))
	}
	go d.report(t)
	return nil
}

// report emits the task event that says how the phase ended.
func (d *Driver) report(t *task) {
	select {
	case <-t.done:
	case <-d.ctx.Done():
		return
	}
	res, _ := t.exitResult()
	msg, ann := endEvent(t.state, res)
	d.emit(t.cfg, msg, ann)
}

// endEvent describes how a task ended, naming the phase that failed, so
// that FAILED_SETUP is read from Nomad.
func endEvent(s TaskState, res *drivers.ExitResult) (string, map[string]string) {
	ann := map[string]string{"exit_code": fmt.Sprint(res.ExitCode)}
	phase := s.Phase
	r, err := driver.ReadResult(s.resultFile())
	if err == nil {
		phase = string(r.Phase)
	}
	ann["phase"] = phase
	switch {
	case res.Err != nil:
		return fmt.Sprintf("SkyPilot %s: %v", phaseWords(phase), res.Err), ann
	case err == nil && r.Terminated:
		ann["terminated"] = "true"
		return fmt.Sprintf("SkyPilot %s terminated", phaseWords(phase)), ann
	case res.ExitCode == 0:
		return fmt.Sprintf("SkyPilot %s succeeded", phaseWords(phase)), ann
	case res.Signal != 0:
		ann["signal"] = fmt.Sprint(res.Signal)
		return fmt.Sprintf("SkyPilot %s killed by signal %d", phaseWords(phase), res.Signal), ann
	}
	return fmt.Sprintf("SkyPilot %s failed with exit code %d", phaseWords(phase), res.ExitCode), ann
}

func phaseWords(phase string) string {
	if phase == string(driver.PhaseAll) {
		return "setup and run"
	}
	return phase
}

func (d *Driver) emit(cfg *drivers.TaskConfig, msg string, ann map[string]string) {
	_ = d.events.EmitEvent(&drivers.TaskEvent{
		TaskID: cfg.ID, TaskName: cfg.Name, AllocID: cfg.AllocID,
		Timestamp: time.Now(), Message: msg, Annotations: ann,
	})
}

func (d *Driver) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	t, ok := d.task(taskID)
	if !ok {
		return nil, drivers.ErrTaskNotFound
	}
	ch := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(ch)
		select {
		case <-t.done:
			res, _ := t.exitResult()
			ch <- res
		case <-ctx.Done():
		case <-d.ctx.Done():
		}
	}()
	return ch, nil
}

// StopTask sends sig (SIGTERM by default) to the runner, which passes
// SIGTERM on to the user's processes and kills them after its grace; after
// timeout the plugin kills everything left.
func (d *Driver) StopTask(taskID string, timeout time.Duration, sig string) error {
	t, ok := d.task(taskID)
	if !ok {
		return drivers.ErrTaskNotFound
	}
	s := syscall.SIGTERM
	if sig != "" {
		var err error
		if s, err = signalByName(sig); err != nil {
			return err
		}
	}
	if err := t.signal(s); err != nil {
		return err
	}
	select {
	case <-t.done:
	case <-time.After(timeout):
		t.kill()
	}
	return nil
}

func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, ok := d.task(taskID)
	if !ok {
		return drivers.ErrTaskNotFound
	}
	if t.running() {
		if !force {
			return errors.New("cannot destroy a running task")
		}
		t.kill()
		select {
		case <-t.done:
		case <-time.After(10 * time.Second):
		}
	}
	d.cleanup(t)
	d.mu.Lock()
	delete(d.tasks, taskID)
	d.mu.Unlock()
	return nil
}

func (d *Driver) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	t, ok := d.task(taskID)
	if !ok {
		return nil, drivers.ErrTaskNotFound
	}
	return t.status(), nil
}

func (d *Driver) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	t, ok := d.task(taskID)
	if !ok {
		return nil, drivers.ErrTaskNotFound
	}
	return statsLoop(ctx, d.ctx, t, interval), nil
}

func (d *Driver) TaskEvents(ctx context.Context) (<-chan *drivers.TaskEvent, error) {
	return d.events.TaskEvents(ctx)
}

// SignalTask passes SIGTERM and SIGINT to the runner (which ends the task
// with its grace) and every other signal to the user's processes.
func (d *Driver) SignalTask(taskID string, sig string) error {
	t, ok := d.task(taskID)
	if !ok {
		return drivers.ErrTaskNotFound
	}
	s, err := signalByName(sig)
	if err != nil {
		return err
	}
	if s == syscall.SIGTERM || s == syscall.SIGINT {
		return t.signal(s)
	}
	return t.signalTask(s)
}

// Shutdown ends the plugin process's watchers; the tasks keep running.
func (d *Driver) Shutdown() { d.cancel() }

func (d *Driver) task(id string) (*task, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tasks[id]
	return t, ok
}

func (d *Driver) setTask(id string, t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks[id] = t
}
