package taskdriver

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/bucket/node"
	"github.com/skynomad/skynomad/driver"
	"github.com/skynomad/skynomad/driver/proc"
)

// runnerInImage is where an image task sees the runner binary.
const runnerInImage = "/opt/skypilot/runner"

// account is the user a task runs as.
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
	// switch_ says the runner must change to it (the plugin is root and it
	// is another user).
	switch_ bool
}

// taskUser resolves the task's user: the task's own, else the plugin's,
// else nobody when the plugin runs as root, else the plugin's own user.
// A task may name only the plugin's user or one of allowed.
func taskUser(pluginUser, taskUserName string, allowed ...string) (account, error) {
	if taskUserName != "" && taskUserName != pluginUser && !slices.Contains(allowed, taskUserName) {
		return account{}, fmt.Errorf("task user %q is not allowed on this node: the skypilot driver runs tasks as %q, and its plugin config allowed_users lists %q",
			taskUserName, cmp.Or(pluginUser, "its default user"), allowed)
	}
	name := taskUserName
	if name == "" {
		name = pluginUser
	}
	root := os.Geteuid() == 0
	if name == "" && root {
		name = DefaultUser
	}
	var u *user.User
	var err error
	if name == "" {
		u, err = user.Current()
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		return account{}, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return account{}, fmt.Errorf("user %q: uid %q / gid %q are not numbers", u.Username, u.Uid, u.Gid)
	}
	a := account{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	if uint32(os.Geteuid()) != a.uid {
		if !root {
			return account{}, fmt.Errorf("user %q: the Nomad client runs as uid %d, not root, and cannot run tasks as another user", name, os.Geteuid())
		}
		a.switch_ = true
		ids, _ := u.GroupIds()
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(n))
			}
		}
	}
	return a, nil
}

// launch prepares the task's directories and environment and starts the
// runner.
func (d *Driver) launch(cfg *drivers.TaskConfig, tc *TaskConfig) (*task, error) {
	pc := d.pluginConfig()
	acct, err := taskUser(pc.User, cfg.User, pc.AllowedUsers...)
	if err != nil {
		return nil, err
	}
	dir := cfg.TaskDir()
	state := TaskState{Phase: tc.Phase, User: acct.name, StateDir: filepath.Join(dir.LocalDir, ".skypilot")}
	if err := os.MkdirAll(state.StateDir, 0o755); err != nil {
		return nil, err
	}
	// A fresh start: nothing of an earlier run of this task may be read as
	// this one's.
	_ = os.Remove(state.resultFile())
	_ = os.Remove(state.pgidFile())

	// A job of a pool runs in its worker's alloc dir: a workdir under its
	// own shared alloc dir is the worker's.
	var worker string
	if tc.WorkerAlloc != "" {
		if worker, err = d.workerDir(cfg, tc.WorkerAlloc); err != nil {
			return nil, err
		}
		if rel, ok := below(dir.SharedAllocDir, tc.Workdir); ok {
			tc.Workdir = filepath.Join(worker, rel)
		}
	}
	env := withNomadAddr(runnerEnv(cfg, tc, state), pc.NomadAddr)
	// The plugin is root where it can switch users: it creates and hands
	// over only directories of the allocation; a workdir elsewhere must
	// exist and is the task user's business.
	workdir := driver.LookupEnv(env, driver.EnvWorkdir)
	ownWorkdir := within(cfg.AllocDir, workdir)
	if ownWorkdir {
		if err := os.MkdirAll(workdir, 0o755); err != nil {
			return nil, fmt.Errorf("workdir %s: %w", workdir, err)
		}
	} else if fi, err := os.Stat(workdir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("config %s = %q: not a directory of the allocation, and not an existing directory", driver.ConfigWorkdir, workdir)
	}
	if acct.switch_ {
		home := acct.home
		if !usableHome(home, acct) {
			home = filepath.Join(dir.SharedAllocDir, "home")
			if worker != "" {
				// The worker's HOME, with what its setup put there.
				home = filepath.Join(worker, "home")
				if err := workerHome(home, acct); err != nil {
					return nil, err
				}
			}
			if err := os.MkdirAll(home, 0o700); err != nil {
				return nil, err
			}
			env = append(env, "HOME="+home)
		}
		env = append(env, "USER="+acct.name, "LOGNAME="+acct.name)
		mine := []string{state.StateDir}
		if ownWorkdir {
			mine = append(mine, workdir)
		}
		if within(cfg.AllocDir, home) {
			mine = append(mine, home)
		}
		for _, p := range mine {
			if err := chownTree(p, acct); err != nil {
				return nil, fmt.Errorf("giving %s to user %s: %w", p, acct.name, err)
			}
		}
	}

	var cmd *exec.Cmd
	if image := tc.image(); image != "" {
		opts, err := dockerOptionArgs(tc, pc, cfg.Mounts)
		if err != nil {
			return nil, err
		}
		state.Container, state.Docker = containerName(cfg), pc.Docker
		if cmd, err = dockerCommand(pc.Docker, image, state.Container, d.runner, cfg, tc, env, workdir, worker, opts); err != nil {
			return nil, err
		}
	} else {
		if state.VolumeLinks, err = d.linkVolumes(cfg); err != nil {
			return nil, err
		}
		cmd = exec.Command(d.runner, "runner", "--phase", tc.Phase)
		cmd.Env = env
	}
	cmd.Dir = dir.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if acct.switch_ && state.Container == "" {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}
	}
	if cg, fd, ok := d.cgroupFor(cfg); ok {
		defer unix.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		state.Cgroup = cg
	}

	stdout, err := os.OpenFile(cfg.StdoutPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the stdout log: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(cfg.StderrPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the stderr log: %w", err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	err = cmd.Start()
	if err != nil && state.Cgroup != "" {
		// A cgroup the kernel will not start a process in (a delegation it
		// lacks): run without it rather than not at all.
		d.logger.Warn("cannot start the task in its cgroup; it runs without one", "path", state.Cgroup, "error", err)
		_ = os.Remove(state.Cgroup)
		state.Cgroup = ""
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir, Stdout: cmd.Stdout, Stderr: cmd.Stderr,
			SysProcAttr: &syscall.SysProcAttr{Setsid: true, Credential: cmd.SysProcAttr.Credential}}
		err = cmd.Start()
	}
	if err != nil {
		d.unlinkVolumes(state.VolumeLinks, "")
		return nil, fmt.Errorf("starting the runner: %w", err)
	}
	if state.Container == "" {
		state.Mounts = bucketMounts(env, workdir)
	}
	state.PID, state.StartedAt = cmd.Process.Pid, time.Now()
	if info, err := proc.Stat(state.PID); err == nil {
		state.StartTicks = info.StartTicks
	}
	t := newTask(cfg, state)
	go t.waitChild(cmd)
	return t, nil
}

// runnerEnv is the runner's environment: the task's, then the runner's
// own variables from the task config.
func runnerEnv(cfg *drivers.TaskConfig, tc *TaskConfig, state TaskState) []string {
	env := cfg.EnvList()
	for _, k := range sortedKeys(tc.Env) {
		env = append(env, k+"="+tc.Env[k])
	}
	dir := cfg.TaskDir()
	inTaskDir := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir.Dir, p)
	}
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	set(driver.EnvSetupFile, inTaskDir(tc.SetupFile))
	set(driver.EnvRunFile, inTaskDir(tc.RunFile))
	set(driver.EnvTaskName, tc.TaskName)
	set(driver.EnvNumNodes, strconv.Itoa(tc.NumNodes))
	if tc.NodeRank >= 0 {
		set(driver.EnvNodeRank, strconv.Itoa(tc.NodeRank))
	}
	set(driver.EnvNodeIPs, strings.Join(tc.NodeIPs, ","))
	workdir := inTaskDir(tc.Workdir)
	if workdir == "" {
		workdir = dir.Dir
	}
	set(driver.EnvWorkdir, workdir)
	set(driver.EnvGrace, tc.Grace)
	set(driver.EnvClusterInfo, tc.ClusterInfo)
	set(driver.EnvResultFile, state.resultFile())
	set(driver.EnvPGIDFile, state.pgidFile())
	return env
}

// defaultNomadAddr is where a client's own agent serves the HTTP API, as
// the Nomad CLI assumes.
const defaultNomadAddr = "http://127.0.0.1:4646"

// withNomadAddr gives the runner a Nomad API to find its peers through
// when the task's environment names none: the plugin config's, else the
// plugin's own NOMAD_ADDR, else this client's agent.
func withNomadAddr(env []string, configured string) []string {
	if driver.LookupEnv(env, driver.EnvNomadAddr) != "" {
		return env
	}
	addr := configured
	if addr == "" {
		addr = os.Getenv(driver.EnvNomadAddr)
	}
	if addr == "" {
		addr = defaultNomadAddr
	}
	return append(env, driver.EnvNomadAddr+"="+addr)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// usableHome reports whether home is a directory the account owns.
func usableHome(home string, a account) bool {
	fi, err := os.Stat(home)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == a.uid
}

// workerDir is the shared alloc dir of the pool worker alloc id, beside
// the task's own alloc dir on this node, if the worker still runs there: a
// task of this plugin of that alloc is running. Otherwise the error starts
// with driver.WorkerGone, which the Nomad engine reads.
func (d *Driver) workerDir(cfg *drivers.TaskConfig, id string) (string, error) {
	if id == cfg.AllocID {
		return "", fmt.Errorf("config %s = %q: the task's own allocation, not a pool worker's", driver.ConfigWorkerAlloc, id)
	}
	dir := filepath.Join(filepath.Dir(cfg.AllocDir), id, "alloc")
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s: allocation %s (config %s) has no directory on node %s: the worker ended, or runs elsewhere",
			driver.WorkerGone, id, driver.ConfigWorkerAlloc, cfg.NodeName)
	}
	if !d.allocRunning(id) {
		return "", fmt.Errorf("%s: allocation %s (config %s) runs no task on node %s: the worker ended",
			driver.WorkerGone, id, driver.ConfigWorkerAlloc, cfg.NodeName)
	}
	return dir, nil
}

// allocRunning reports whether a task of allocation id runs under this
// plugin.
func (d *Driver) allocRunning(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.tasks {
		if t.cfg.AllocID == id && t.running() {
			return true
		}
	}
	return false
}

// workerHome makes sure the worker's alloc-local HOME exists for the
// account: the worker's tasks made it unless they ran as someone with a
// home of their own; one made now is the account's (only the directory:
// what is in it is the worker's business).
func workerHome(home string, a account) error {
	if _, err := os.Stat(home); err == nil {
		return nil
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	return os.Lchown(home, int(a.uid), int(a.gid))
}

// below returns path relative to dir when path is dir or below it.
func below(dir, path string) (string, bool) {
	if path == "" || !filepath.IsAbs(path) || !within(dir, path) {
		return "", false
	}
	rel, err := filepath.Rel(dir, filepath.Clean(path))
	return rel, err == nil
}

// within reports whether path is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// chownTree gives path and everything under it to the account.
func chownTree(path string, a account) error {
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(a.uid), int(a.gid))
	})
}

// containerName names an image task's container after its allocation and
// task, as Nomad's docker driver does.
func containerName(cfg *drivers.TaskConfig) string {
	return "skypilot-" + cfg.Name + "-" + cfg.AllocID
}

// dockerCommand runs the runner inside image: the plugin's own binary
// (static) mounted read-only, the allocation directory at the same path
// (and a pool worker's shared alloc dir, for a job of its pool), the
// host's network (peers reach each other as on the host), the task's
// variables passed by name from the docker CLI's environment. The CLI stays
// attached and passes signals on to the runner.
func dockerCommand(docker, image, name, runner string, cfg *drivers.TaskConfig, tc *TaskConfig, env []string, workdir, worker string, opts []string) (*exec.Cmd, error) {
	path, err := exec.LookPath(docker)
	if err != nil {
		return nil, fmt.Errorf("task %q runs in image %q, but Docker is not available on node %s: %v; install Docker there, or run the task without image_id", cfg.Name, image, cfg.NodeName, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, path, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("task %q runs in image %q, but Docker on node %s does not answer: %s; start the Docker daemon, or run the task without image_id", cfg.Name, image, cfg.NodeName, strings.TrimSpace(string(out)))
	}
	args := []string{"run", "--rm", "--name", name, "--network", "host", "--init=false",
		"-v", runner + ":" + runnerInImage + ":ro",
		"-v", cfg.AllocDir + ":" + cfg.AllocDir}
	if worker != "" {
		args = append(args, "-v", worker+":"+worker)
	}
	args = append(args, "-w", workdir)
	args = append(args, opts...)
	var cliEnv []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if hostOnly[k] {
			continue
		}
		args = append(args, "-e", k)
		cliEnv = append(cliEnv, kv)
	}
	args = append(args, image, runnerInImage, "runner", "--phase", tc.Phase)
	cmd := exec.Command(path, args...)
	cmd.Env = append(cliEnv, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	return cmd, nil
}

// hostOnly are host variables an image keeps its own values of.
var hostOnly = map[string]bool{"PATH": true, "HOME": true, "HOSTNAME": true, "SHELL": true,
	"USER": true, "LOGNAME": true, "PWD": true, "TMPDIR": true, "LD_LIBRARY_PATH": true}

// cleanup removes what the task left outside its directories.
func (d *Driver) cleanup(t *task) {
	if t.state.Container != "" {
		_ = exec.Command(d.pluginConfig().Docker, "rm", "-f", t.state.Container).Run()
	}
	if t.state.Cgroup != "" {
		_ = os.Remove(t.state.Cgroup)
	}
	if err := node.Sweep(t.state.Mounts); err != nil {
		d.logger.Warn("cannot end a bucket mount of a task", "error", err)
	}
	d.unlinkVolumes(t.state.VolumeLinks, t.cfg.ID)
}

// bucketMounts lists where the runner will mount the task's buckets.
func bucketMounts(env []string, workdir string) []string {
	raw := driver.LookupEnv(env, node.EnvFiles)
	if raw == "" {
		return nil
	}
	var f node.Files
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil // the runner says so
	}
	paths, _ := node.MountPaths(f, node.Options{Workdir: workdir, Env: env})
	return paths
}
