// Package recordstest is the conformance suite of bucket.Records: every
// place records live (Consul KV, the controller's store) passes the same
// tests. Only tests import it.
package recordstest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/skynomad/skynomad/bucket"
)

// Run runs the suite. open returns empty records for one subtest; it is
// called from parallel subtests and cleans up with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) bucket.Records) {
	tests := []struct {
		name string
		run  func(t *testing.T, rs bucket.Records)
	}{
		{"get missing", getMissing},
		{"create only once", createOnlyOnce},
		{"update with current version", updateCurrent},
		{"stale version conflicts", staleVersion},
		{"round trip", roundTrip},
		{"list in name order", listInOrder},
		{"one of many cleans", oneCleans},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// sample is a record with every field set (roundTrip checks that none is
// left zero).
func sample(name string) bucket.Record {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))
	return bucket.Record{
		Name: name, Job: 42, Store: "s3://skynomad-files/team", Temporary: true,
		Owner: "controller-a", State: bucket.StateReady,
		Units: []bucket.Unit{
			{Key: name + "/workdir", Source: "/home/ada/proj", Dest: "~/sky_workdir", Dir: true,
				Files: 3, Bytes: 1200, Hash: "sha256:0a1b", Modes: name + "/tmp-files/workdir-modes"},
			{Key: name + "/local-file-mounts/0", Source: "/home/ada/data.csv", Dest: "/data/data.csv",
				Files: 1, Bytes: 34, Hash: "sha256:2c3d"},
			// A local source synced into a named bucket mount.
			{Store: "s3://team-data", Source: "/home/ada/shared", Dest: "/shared", Dir: true,
				Files: 5, Bytes: 500, Hash: "sha256:4e5f"},
		},
		Drop:  []string{"skynomad-scratch-42"},
		Files: 9, Bytes: 1734, Uploaded: at, Updated: at.Add(time.Second),
		Error: "cleaning: 403 from the store",
	}
}

// minimal is a record as first written, before anything is uploaded.
func minimal(name string) bucket.Record {
	return bucket.Record{Name: name, Job: 7, Store: "file:///var/lib/skynomad/files", Owner: "controller-a",
		State: bucket.StateUploading, Updated: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

var sameTime = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func mustPut(t *testing.T, rs bucket.Records, r bucket.Record, version uint64) uint64 {
	t.Helper()
	v, err := rs.Put(t.Context(), r, version)
	if err != nil {
		t.Fatalf("Put(%s, version %d): %v", r.Name, version, err)
	}
	if v == 0 {
		t.Fatalf("Put(%s, version %d) returned version 0", r.Name, version)
	}
	return v
}

// wantStored fails t unless name holds want at version.
func wantStored(t *testing.T, rs bucket.Records, want bucket.Record, version uint64) {
	t.Helper()
	got, v, found, err := rs.Get(t.Context(), want.Name)
	if err != nil || !found {
		t.Fatalf("Get(%s) = found %v, %v; want the record", want.Name, found, err)
	}
	if v != version {
		t.Errorf("Get(%s) version = %d, want %d", want.Name, v, version)
	}
	if diff := cmp.Diff(want, got, sameTime); diff != "" {
		t.Errorf("Get(%s) (-want +got):\n%s", want.Name, diff)
	}
}

func getMissing(t *testing.T, rs bucket.Records) {
	if _, v, found, err := rs.Get(t.Context(), "job-missing"); found || v != 0 || err != nil {
		t.Errorf("Get(missing) = version %d, found %v, %v; want not found", v, found, err)
	}
}

func createOnlyOnce(t *testing.T, rs bucket.Records) {
	first := minimal("job-1")
	v := mustPut(t, rs, first, 0)
	second := first
	second.Owner = "controller-b"
	if _, err := rs.Put(t.Context(), second, 0); !errors.Is(err, bucket.ErrConflict) {
		t.Errorf("second create-only Put = %v, want ErrConflict", err)
	}
	wantStored(t, rs, first, v)
}

func updateCurrent(t *testing.T, rs bucket.Records) {
	r := minimal("job-1")
	v1 := mustPut(t, rs, r, 0)
	r.State = bucket.StateReady
	v2 := mustPut(t, rs, r, v1)
	if v2 == v1 {
		t.Errorf("update returned the version it was given (%d)", v1)
	}
	wantStored(t, rs, r, v2)
}

func staleVersion(t *testing.T, rs bucket.Records) {
	r := minimal("job-1")
	v1 := mustPut(t, rs, r, 0)
	r.State = bucket.StateReady
	v2 := mustPut(t, rs, r, v1)
	stale := r
	stale.State = bucket.StateCleaning
	stale.Owner = "controller-b"
	if _, err := rs.Put(t.Context(), stale, v1); !errors.Is(err, bucket.ErrConflict) {
		t.Errorf("Put with the stale version %d = %v, want ErrConflict", v1, err)
	}
	wantStored(t, rs, r, v2)

	// A version for a record that does not exist is stale too.
	if _, err := rs.Put(t.Context(), minimal("job-2"), v2); !errors.Is(err, bucket.ErrConflict) {
		t.Errorf("Put(job-2, version %d) with no job-2 = %v, want ErrConflict", v2, err)
	}
	if _, _, found, err := rs.Get(t.Context(), "job-2"); found || err != nil {
		t.Errorf("Get(job-2) after a conflicting Put = found %v, %v; want not found", found, err)
	}
}

func roundTrip(t *testing.T, rs bucket.Records) {
	full := sample("job-full")
	nonZero(t, "Record", full)
	nonZero(t, "Unit", full.Units...)
	for _, r := range []bucket.Record{full, minimal("job-min")} {
		wantStored(t, rs, r, mustPut(t, rs, r, 0))
	}
}

// nonZero fails t for a field left zero in every one of vs: a field added
// to Record or Unit must be set in sample, so its round trip is tested.
func nonZero[T any](t *testing.T, what string, vs ...T) {
	t.Helper()
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		set := false
		for _, v := range vs {
			set = set || !reflect.ValueOf(v).Field(i).IsZero()
		}
		if !set {
			t.Errorf("sample %s.%s is zero: set it, so its round trip is tested", what, typ.Field(i).Name)
		}
	}
}

func listInOrder(t *testing.T, rs bucket.Records) {
	got, err := rs.List(t.Context())
	if err != nil || len(got) != 0 {
		t.Fatalf("List of empty records = %d records, %v; want none", len(got), err)
	}
	// Byte order: job-a10 before job-a2.
	names := []string{"job-b", "job-a2", "job-c", "job-a10"}
	want := map[string]bucket.Versioned{}
	for i, name := range names {
		r := sample(name)
		r.Job = int64(i)
		v := mustPut(t, rs, r, 0)
		if i%2 == 0 { // some records at a later version
			r.State = bucket.StateCleaning
			v = mustPut(t, rs, r, v)
		}
		want[name] = bucket.Versioned{Record: r, Version: v}
	}
	got, err = rs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, g := range got {
		order = append(order, g.Name)
		if diff := cmp.Diff(want[g.Name], g, sameTime); diff != "" {
			t.Errorf("List: %s (-want +got):\n%s", g.Name, diff)
		}
	}
	if diff := cmp.Diff([]string{"job-a10", "job-a2", "job-b", "job-c"}, order); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
}

// oneCleans: controllers that read the same ready record all try to move
// it to cleaning; exactly one wins, so a prefix is never cleaned twice.
func oneCleans(t *testing.T, rs bucket.Records) {
	const n = 8
	ready := sample("job-1")
	mustPut(t, rs, ready, 0)

	var read, wrote sync.WaitGroup
	start := make(chan struct{})
	versions := make([]uint64, n)
	results := make([]error, n)
	won := make([]uint64, n)
	read.Add(n)
	wrote.Add(n)
	for i := range n {
		go func() {
			defer wrote.Done()
			r, v, found, err := rs.Get(t.Context(), ready.Name)
			read.Done()
			if err != nil || !found {
				results[i] = fmt.Errorf("get: found %v, %v", found, err)
				return
			}
			versions[i] = v
			<-start // every controller has read before any writes
			r.State = bucket.StateCleaning
			r.Owner = fmt.Sprintf("controller-%d", i)
			won[i], results[i] = rs.Put(t.Context(), r, v)
		}()
	}
	read.Wait()
	close(start)
	wrote.Wait()

	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("controllers %d and %d both moved the record to cleaning", winner, i)
		case err == nil:
			winner = i
		case errors.Is(err, bucket.ErrConflict):
		default:
			t.Errorf("controller %d: %v, want success or ErrConflict", i, err)
		}
		if versions[i] != versions[0] {
			t.Errorf("controller %d read version %d, controller 0 read %d", i, versions[i], versions[0])
		}
	}
	if winner < 0 {
		t.Fatalf("no controller moved the record to cleaning: %v", results)
	}
	want := ready
	want.State = bucket.StateCleaning
	want.Owner = fmt.Sprintf("controller-%d", winner)
	wantStored(t, rs, want, won[winner])
}
