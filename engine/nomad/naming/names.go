// Package naming holds every name the parts of skynomad that meet in Nomad
// must agree on: the Nomad job IDs of managed tasks (a pool's workers among
// them), the node classes and the worker port of pools, the task group and
// task names, the job and node meta keys, and the paths of the
// Nomad Variables skynomad reads and writes.
//
// The renderer (engine/nomad/render) writes these names into jobs, the
// Nomad engine (engine/nomad) reads them back from allocations and
// Variables, and the spot-interruption handler (interrupt) finds
// skynomad's allocations and records preemptions by them. Each name is
// spelled here once. The runner's SKYNOMAD_* variables belong to the
// runner: see package driver.
//
// The package imports nothing of skynomad's, so every side may use it.
package naming

import (
	"fmt"
	"strings"
)

// JobPrefix starts the ID of every Nomad job skynomad registers: the job of
// a managed task (JobID), a pool's worker being one.
const JobPrefix = "sky-"

// JobID is the Nomad job of task taskIndex of managed job jobID:
// sky-<jobid>-<task>. Every attempt of the task re-registers it.
func JobID(jobID int64, taskIndex int) string {
	return fmt.Sprintf("%s%d-%d", JobPrefix, jobID, taskIndex)
}

const poolPrefix = JobPrefix + "pool-"

// PoolNodeClass is the node class of a pool's workers: sky-pool-<name>.
// The pool's autoscaler policy keeps one node of it per worker.
func PoolNodeClass(pool string) string { return poolPrefix + pool }

// A pool's worker reserves the static port PoolWorkerPort, labelled
// PoolWorkerPortLabel, in its group's network block. Nothing listens on it:
// static ports are per node, so Nomad places at most one worker (of any
// pool) on a node, and a node's worker holds the whole node for the jobs
// it runs. Keep it out of the clients' reserved ports and out of other
// jobs' static ports. It sits below Nomad's default dynamic range
// (20000-32000), so Nomad never hands it to a dynamic port.
const (
	PoolWorkerPort      = 19646
	PoolWorkerPortLabel = "sky_pool_worker"
)

// Task group and tasks of a rendered job.
const (
	// GroupName is the only task group of a rendered job.
	GroupName = "main"
	// SetupTaskName runs the task's setup: a prestart task.
	SetupTaskName = "setup"
	// RunTaskName runs the task's run script.
	RunTaskName = "run"
)

// Job meta keys. The renderer sets them all; the Nomad engine reads
// MetaAttempt, the spot handler MetaJobID.
const (
	MetaJobID    = "sky.job_id"
	MetaTask     = "sky.task"
	MetaTaskName = "sky.task_name"
	// MetaAttempt is the attempt the job version runs: a new value makes a
	// new version.
	MetaAttempt  = "sky.attempt"
	MetaJobName  = "sky.job_name"
	MetaPipeline = "sky.pipeline"
	// MetaCapacity is also a node meta key (NodeMetaCapacity).
	MetaCapacity = "sky.capacity"
	MetaOffering = "sky.offering"
	// MetaPool is the pool of a worker's job and of a job submitted to it.
	MetaPool = "sky.pool"
	// MetaPoolWorker is "true" on a pool worker's job.
	MetaPoolWorker = "sky.pool_worker"
	// MetaGroup names the job group a job runs (one task group per task);
	// on each task group, MetaPrimary says whether the task is primary and
	// MetaTerminationDelay how long it runs on once the primaries are done.
	MetaGroup            = "sky.group"
	MetaPrimary          = "sky.primary"
	MetaTerminationDelay = "sky.termination_delay"
)

// Node meta keys of the nodes skynomad places on when node classes are
// not used (and sky.capacity always).
const (
	NodeMetaCloud        = "sky.cloud"
	NodeMetaRegion       = "sky.region"
	NodeMetaInstanceType = "sky.instance_type"
	NodeMetaCapacity     = "sky.capacity"
	// NodeMetaZone is the node's zone, set by the bootstrap.
	NodeMetaZone = "sky.zone"
	// NodeMetaInstanceID names the node's cloud instance as the target
	// plugin's provider does (EC2 instance ID; "<zone>/<name>" on GCE); the
	// plugin maps nodes to instances by it when it scales in.
	NodeMetaInstanceID = "sky.instance_id"
)

// Nomad Variable paths.
const (
	// SecretsVarPrefix + the Nomad job ID holds an attempt's secrets. The
	// Nomad engine writes it before registering the job; the job's
	// template reads it under Nomad's default workload-identity policy,
	// which grants a job nomad/jobs/<its id>.
	SecretsVarPrefix = "nomad/jobs/"
	// PreemptionVarPrefix + an alloc ID is written by the spot
	// interruption handler before it stops the alloc; the Nomad engine
	// reads it to tell a preemption from a failure. Items: the Preemption*
	// keys below.
	PreemptionVarPrefix = "skynomad/preemptions/"
	// StopVarPrefix + the Nomad job ID records that skynomad itself
	// stopped the job (items attempt, reason, time), to tell its stops
	// from an operator's `nomad job stop` after a controller restart.
	StopVarPrefix = "skynomad/stops/"
	// AttemptVarPrefix + the Nomad job ID records the attempts the Nomad
	// engine adopted from replacements Nomad placed by itself.
	AttemptVarPrefix = "skynomad/attempts/"
	// CapacityVarPrefix + a node class records the last time a cloud
	// refused capacity for that offering (items: the Capacity* keys). The
	// autoscaler target plugin writes it, deletes it once a launch
	// succeeds, and the Nomad engine gives up a waiting attempt for it.
	CapacityVarPrefix = "skynomad/capacity/"
)

// CapacityNamespace is the Nomad namespace of the capacity Variables: node
// classes are cluster-wide, whatever namespace the jobs run in.
const CapacityNamespace = "default"

// CapacityVariable is the Variable holding an offering's last refusal.
// Variable paths allow no '.', which AWS types have (m6i.large): it is
// written '_', which no node class holds.
func CapacityVariable(nodeClass string) string {
	return CapacityVarPrefix + strings.ReplaceAll(nodeClass, ".", "_")
}

// Items of a capacity Variable.
const (
	CapacityCloud   = "cloud"
	CapacityKind    = "kind" // stockout, quota, price, unsupported
	CapacityCode    = "code" // the cloud's error code
	CapacityZone    = "zone"
	CapacityMessage = "message"
	CapacityTime    = "time" // RFC 3339, when the cloud refused
)

// SecretsVariable is the Variable holding the secrets of a Nomad job.
func SecretsVariable(nomadJobID string) string { return SecretsVarPrefix + nomadJobID }

// PreemptionVariable is the Variable recording the preemption of an alloc.
func PreemptionVariable(allocID string) string { return PreemptionVarPrefix + allocID }

// StopVariable is the Variable recording skynomad's stop of a Nomad job.
func StopVariable(nomadJobID string) string { return StopVarPrefix + nomadJobID }

// AttemptVariable is the Variable recording a Nomad job's adopted attempts.
func AttemptVariable(nomadJobID string) string { return AttemptVarPrefix + nomadJobID }

// Items of a preemption Variable.
const (
	PreemptionNodeID     = "node_id"
	PreemptionNodeName   = "node_name"
	PreemptionNoticeTime = "notice_time" // RFC 3339
	PreemptionDeadline   = "deadline"    // RFC 3339
	PreemptionCloud      = "cloud"
	PreemptionAction     = "action"
)

// Job meta the capacity plugin (autoscaler-plugin/target) reads of a job
// waiting for nodes: on the job, or on a job group's task group.
const (
	// MetaLabels is a JSON object: the labels (EC2 tags, GCE labels) of
	// the instances started for the job.
	MetaLabels = "sky.labels"
	// MetaAcceleratorArgs is a JSON object: resources.accelerator_args.
	MetaAcceleratorArgs = "sky.accelerator_args"
)
