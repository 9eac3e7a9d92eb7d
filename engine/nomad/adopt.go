package nomad

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/skynomad/skynomad/engine/nomad/naming"
)

// adoptions is the decoded Variable naming.AttemptVariable(jobID): the
// attempts that run as a replacement Nomad placed by itself and the engine
// adopted (see the package doc). Items:
//
//	registered   sky.attempt of the job version the adopted attempts run in
//	attempt      the latest adopted attempt
//	alloc        its alloc
//	alloc_<n>    the alloc of every adopted attempt n (logs of older ones)
//	node_<n>     where attempt n was preempted before it was replaced
//	reason_<n>   why
//
// The record counts only while the job's current version carries
// sky.attempt = registered: registering a new attempt makes it history.
type adoptions struct {
	registered int
	latest     int
	allocs     map[int]string // adopted attempt → its alloc
	nodes      map[int]string // replaced attempt → node it was preempted on
	reasons    map[int]string // replaced attempt → why
}

func newAdoptions() *adoptions {
	return &adoptions{allocs: map[int]string{}, nodes: map[int]string{}, reasons: map[int]string{}}
}

// current is the job's running attempt: the latest adopted one if the
// record belongs to the registered version, else the registered one.
func (a *adoptions) current(registered int) int {
	if a != nil && a.registered == registered && a.latest > registered {
		return a.latest
	}
	return registered
}

// allocOf returns the alloc of an adopted attempt, or "" if the attempt
// was not adopted. Attempt numbers are never reused within a task, so the
// history answers for older versions too.
func (a *adoptions) allocOf(attempt int) string {
	if a == nil {
		return ""
	}
	return a.allocs[attempt]
}

func (a *adoptions) items() api.VariableItems {
	it := api.VariableItems{
		"registered": strconv.Itoa(a.registered),
		"attempt":    strconv.Itoa(a.latest),
		"alloc":      a.allocs[a.latest],
	}
	for n, id := range a.allocs {
		it["alloc_"+strconv.Itoa(n)] = id
	}
	for n, s := range a.nodes {
		it["node_"+strconv.Itoa(n)] = s
	}
	for n, s := range a.reasons {
		it["reason_"+strconv.Itoa(n)] = s
	}
	return it
}

func adoptionsOf(items api.VariableItems) *adoptions {
	a := newAdoptions()
	a.registered, _ = strconv.Atoi(items["registered"])
	a.latest, _ = strconv.Atoi(items["attempt"])
	for k, v := range items {
		key, num, ok := strings.Cut(k, "_")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		switch key {
		case "alloc":
			a.allocs[n] = v
		case "node":
			a.nodes[n] = v
		case "reason":
			a.reasons[n] = v
		}
	}
	if id := items["alloc"]; id != "" && a.latest > 0 {
		a.allocs[a.latest] = id
	}
	return a
}

// readAdoptions returns the job's record; an empty one if there is none.
func (e *Engine) readAdoptions(ctx context.Context, jobID string) (*adoptions, error) {
	v, _, err := e.client.Variables().Read(naming.AttemptVariable(jobID), qo(ctx))
	if errors.Is(err, api.ErrVariablePathNotFound) {
		return newAdoptions(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("nomad: read adopted attempts of %s: %w", jobID, err)
	}
	return adoptionsOf(v.Items), nil
}

// recordAdoption persists that attempt w.ref.Attempt+1 is Nomad's
// replacement alloc allocID, before any event says so: a restarted engine
// must find the attempt the controller was told about. The caller holds
// the job lock.
func (e *Engine) recordAdoption(ctx context.Context, w *watch, allocID string) error {
	rec, err := e.readAdoptions(ctx, w.jobID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	from, node, reason := w.ref.Attempt, w.preemptedNode, w.preemptedBy
	rec.registered, rec.latest = w.version, from+1
	rec.allocs[from+1] = allocID
	rec.nodes[from], rec.reasons[from] = node, reason
	e.mu.Unlock()
	v := &api.Variable{Path: naming.AttemptVariable(w.jobID), Items: rec.items()}
	if _, _, err := e.client.Variables().Create(v, wo(ctx)); err != nil {
		return fmt.Errorf("nomad: record adopted attempt %d of %s: %w", from+1, w.jobID, err)
	}
	e.log.Info("adopted Nomad's replacement", "job", w.jobID, "preempted", from, "attempt", from+1, "alloc", allocID)
	e.mu.Lock()
	w.recorded = allocID
	e.mu.Unlock()
	return nil
}

// current reads the job and, if it exists, its adoption record.
func (e *Engine) current(ctx context.Context, jobID string) (*api.Job, *adoptions, error) {
	cur, err := e.jobInfo(ctx, jobID)
	if err != nil || cur == nil {
		return nil, nil, err
	}
	rec, err := e.readAdoptions(ctx, jobID)
	if err != nil {
		return nil, nil, err
	}
	return cur, rec, nil
}
