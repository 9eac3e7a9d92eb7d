package target

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// The instances the plugin starts carry the labels of the jobs they are
// started for: each job skynomad renders names, in its meta (on a job
// group's task group), its node class (naming.MetaOffering) and the labels
// of its instances (naming.MetaLabels: config.<cloud>.labels and
// resources.labels). A scale-out gives each waiting job of the class, in
// Nomad's placement order (priority, then submission), as many instances
// as it waits for, tagged with its labels under the policy's own tags
// (which win, so an operator's tags and skynomad's stay). Instances
// outlive the job: a node later placed another job keeps the labels of
// the one it was started for.

// jobLister is the part of Nomad's Jobs API the plugin reads.
type jobLister interface {
	List(q *api.QueryOptions) ([]*api.JobListStub, *api.QueryMeta, error)
	Info(jobID string, q *api.QueryOptions) (*api.Job, *api.QueryMeta, error)
}

var _ jobLister = (*api.Jobs)(nil)

// waitingJob is a job (or a job group's task group) waiting for nodes of
// a policy's class.
type waitingJob struct {
	nodes    int
	labels   map[string]string
	priority int
	submit   int64
}

// waitingJobs lists the jobs waiting for nodes of pol's class: their
// allocations Nomad could not place yet (queued).
func waitingJobs(ctx context.Context, jobs jobLister, pol *policy) ([]waitingJob, error) {
	q := (&api.QueryOptions{Namespace: "*"}).WithContext(ctx)
	stubs, _, err := jobs.List(q)
	if err != nil {
		return nil, err
	}
	var out []waitingJob
	for _, s := range stubs {
		if s.Stop || s.JobSummary == nil || s.Meta[naming.MetaJobID] == "" {
			continue // not a job of skynomad's, or ended
		}
		add := func(group string, meta map[string]string) {
			queued := s.JobSummary.Summary[group].Queued
			if queued == 0 || !forClass(meta, s.Meta, pol) {
				return
			}
			out = append(out, waitingJob{nodes: queued, labels: parseLabels(meta[naming.MetaLabels]), priority: s.Priority, submit: s.SubmitTime})
		}
		if s.Meta[naming.MetaGroup] == "" {
			add(naming.GroupName, s.Meta)
			continue
		}
		job, _, err := jobs.Info(s.ID, (&api.QueryOptions{Namespace: s.Namespace}).WithContext(ctx))
		if err != nil {
			return nil, err
		}
		for _, tg := range job.TaskGroups {
			if tg.Name != nil {
				add(*tg.Name, tg.Meta)
			}
		}
	}
	return out, nil
}

// forClass reports whether a job (meta, and its job's meta jobMeta) waits
// for nodes of pol's class: its offering's, or a pool worker of pol's pool.
func forClass(meta, jobMeta map[string]string, pol *policy) bool {
	if pol.pool != "" {
		return jobMeta[naming.MetaPool] == pol.pool && jobMeta[naming.MetaPoolWorker] == "true"
	}
	return meta[naming.MetaOffering] == pol.class && jobMeta[naming.MetaPool] == ""
}

func parseLabels(s string) map[string]string {
	if s == "" {
		return nil
	}
	var labels map[string]string
	if json.Unmarshal([]byte(s), &labels) != nil {
		return nil // not skynomad's: no labels
	}
	return labels
}

// launchPlan splits a launch of n instances of pol's offering into
// requests, one per run of waiting jobs with the same labels; instances no
// job waits for carry the policy's tags alone.
func launchPlan(pol *policy, n int, waiting []waitingJob) []cloud.LaunchRequest {
	waiting = slices.Clone(waiting)
	slices.SortStableFunc(waiting, func(a, b waitingJob) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(a.submit, b.submit))
	})
	request := func(count int, labels map[string]string) cloud.LaunchRequest {
		tags := maps.Clone(labels)
		if tags == nil {
			tags = map[string]string{}
		}
		maps.Copy(tags, pol.tags)
		return cloud.LaunchRequest{Offering: pol.offering, NodeClass: pol.class, Count: count, Zones: pol.zones,
			Bootstrap: pol.bootstrap, Tags: tags}
	}
	var out []cloud.LaunchRequest
	for _, w := range waiting {
		count := min(w.nodes, n)
		if count == 0 {
			break
		}
		n -= count
		if last := len(out) - 1; last >= 0 && maps.Equal(out[last].Tags, request(0, w.labels).Tags) {
			out[last].Count += count
			continue
		}
		out = append(out, request(count, w.labels))
	}
	if n > 0 {
		if last := len(out) - 1; last >= 0 && maps.Equal(out[last].Tags, pol.tags) {
			out[last].Count += n
		} else {
			out = append(out, request(n, nil))
		}
	}
	return out
}
