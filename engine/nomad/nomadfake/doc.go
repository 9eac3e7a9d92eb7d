// Package nomadfake is an in-memory fake of a Nomad 1.6.1 cluster (one
// server and its client nodes) behind Nomad's HTTP API.
//
// It exists only for the faults a real Nomad agent on one machine cannot
// be made to show: `make test` starts one cluster (a server and two
// raw_exec clients on loopback) that every real-agent test shares, so a
// fault that takes a node away, or needs a node the cluster does not have,
// would disturb the tests running beside it or need a second cluster. The
// scenarios kept here are:
//
//   - a client node going down (missed heartbeats): its allocs become lost,
//     Nomad places a linked replacement when another node is ready (5c-2),
//     and the lost alloc's processes run on until the client returns and
//     kills them (engine/nomad TestAdoptReplacementOfLostAlloc,
//     TestMultiNodeNeverAdopts with a third node);
//   - no node fits: a blocked eval after the only node went down (5c), or
//     after an alloc stop with every node ineligible (5b), and the unlinked
//     alloc it places once capacity returns (TestLostAllocNotReplaced,
//     TestAllocStoppedNotReplaced);
//   - the event stream dropping and replaying from ?index, with the job's
//     events already out of Nomad's bounded buffer (7)
//     (TestStreamDropAndReplay);
//   - recorded corner cases of alloc and task records (Fixture), which
//     engine/nomad TestDecideOnRecordedAllocs classifies as Nomad served
//     them;
//   - for the spot handler's tests (interrupt): a spot node with cloud
//     attributes and meta no client of the test cluster has, which the
//     handler marks ineligible.
//
// Everything else is tested against the real Nomad agent `make test`
// starts: task outcomes, setup failures, Stop, logs, multi-node failure,
// re-registration per attempt, resume after a restart, our own stop told
// from an operator's `nomad job stop`, a spot handler's SIGTERM, and the
// adoption of Nomad's linked replacement of a stopped alloc (engine/nomad
// real_*_test.go, the conformance suite in conformance_test.go, and the
// e2e suite). A test the real agent can run belongs there, not here.
//
// The fake follows what a real Nomad v1.6.1 did in the recordings of
// shared/fixtures/nomad-1.6.1 (copies of the ones it uses are in testdata/,
// read with Fixture): batch jobs with restart and reschedule off, versions on
// re-registration and none for an identical body (8, 8b), failed allocs
// with the Terminated exit code and the prestart "Sibling Task Failed"
// shape (3, 4), alloc stop with a linked replacement or a blocked eval that
// places nothing once the stopped alloc completed (5a, 5b), lost allocs on a
// down node with a linked replacement when another node is ready and an
// unlinked one after the node returns (5c, 5c-2), `nomad job stop` (6),
// the event stream with `{}` heartbeats, inclusive ?index replay, job
// filters and a bounded buffer (7), logs plain and framed with the 404s
// (2, 4, 9), and the plain-text error bodies (9).
//
// Use it with httptest:
//
//	fake := nomadfake.New(nomadfake.Options{})
//	srv := httptest.NewServer(fake)
//	defer srv.Close()
//	defer fake.Close() // ends open event streams first
//	node := fake.AddNode(nomadfake.NodeSpec{Name: "n1", Class: "sky-test"})
//	client, _ := api.NewClient(&api.Config{Address: srv.URL})
//
// Nothing runs by itself on a fake client: a test moves allocs with
// StartTasks, Run, ExitTask, Exit, FailSetup, StartPending, and the cluster
// with NodeDown, NodeUp, SetEligibility, StopAlloc, StopJob, Kill and
// DropEventStreams; MaxRunning and MaxAlive tell how many copies of a job
// ran at once. What Nomad does on its own in reaction (marking allocs
// lost, placing replacements, killing stopped allocs, re-running blocked
// evals) the fake does at once, in separate raft indexes as Nomad does.
//
// Beyond the recordings (Nomad's documented behaviour, not recorded; each
// place says so in a comment): the Variables API (/v1/var, /v1/vars), the
// client signal endpoint, log follow (which, as on a 1.6.1 dev agent, does
// not end when the task dies), blocking queries (a GET with ?index=N
// answers once its X-Nomad-Index is above N, or after ?wait), purge on
// deregister, EnforceIndex on register, stopping older-version allocs when
// a changed version is registered while they run ("alloc is being updated
// due to job update"), a linked replacement that does not start before the
// alloc it replaces is terminal (Nomad's client waits for it; checked on a
// 1.6.1 dev agent), constraint operands, node drivers (docker is on by
// default), and the Job/Evaluation/Node event types for changes the
// recordings did not stream. Not modelled: resources (a node fits any
// number of allocs), namespaces and ACLs (one namespace, no tokens),
// deployments, service jobs, restarts in place and reschedules.
package nomadfake
