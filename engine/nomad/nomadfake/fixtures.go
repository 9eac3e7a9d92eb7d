package nomadfake

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"

	"github.com/hashicorp/nomad/api"
)

// recordings holds copies of responses recorded from a real Nomad v1.6.1
// agent (shared/fixtures/nomad-1.6.1). The fake takes its node shape, its
// task events and its error bodies from them.
//
//go:embed testdata/*.json testdata/*.txt testdata/*.ndjson
var recordings embed.FS

// Fixture returns the bytes of one recorded file by its name in
// shared/fixtures/nomad-1.6.1 (only the files copied into testdata/).
func Fixture(name string) ([]byte, error) {
	b, err := recordings.ReadFile("testdata/" + name)
	if err != nil {
		return nil, fmt.Errorf("nomadfake: no recording %q: %w", name, err)
	}
	return b, nil
}

// Fixtures lists the recorded files available to Fixture.
func Fixtures() []string {
	entries, err := fs.ReadDir(recordings, "testdata")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// templates are the recorded shapes the fake copies.
type templates struct {
	node   api.Node
	events map[string]api.TaskEvent // by Type
	errors map[string]string        // by recording name
}

func loadTemplates() (*templates, error) {
	t := &templates{events: map[string]api.TaskEvent{}, errors: map[string]string{}}
	b, err := Fixture("01-node.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &t.node); err != nil {
		return nil, fmt.Errorf("nomadfake: decode node template: %w", err)
	}
	// Task events: a failed prestart task and its sibling (scenario 4) and a
	// task killed after an alloc stop (scenario 5a) hold every type the fake
	// writes.
	for _, name := range []string{"04-alloc-setup-fail.failed.json", "05a-alloc-long-stop.after-stop-10s.json"} {
		b, err := Fixture(name)
		if err != nil {
			return nil, err
		}
		var a api.Allocation
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("nomadfake: decode %s: %w", name, err)
		}
		for _, ts := range a.TaskStates {
			for _, ev := range ts.Events {
				if _, ok := t.events[ev.Type]; !ok {
					t.events[ev.Type] = *ev
				}
			}
		}
	}
	for _, name := range []string{
		"09-error.alloc-not-found.txt", "09-error.alloc-stop-unknown.txt",
		"09-error.job-not-found.txt", "09-error.logs-unknown-alloc.txt",
		"09-error.job-invalid.register.txt", "04-logs-setup-fail.run.stdout.framed.404.txt",
	} {
		b, err := Fixture(name)
		if err != nil {
			return nil, err
		}
		t.errors[name] = string(b)
	}
	return t, nil
}

// event returns a copy of the recorded task event of that type, stamped
// with time now (unix nanoseconds) and with details merged in.
func (t *templates) event(typ string, now int64, details map[string]string) *api.TaskEvent {
	ev, ok := t.events[typ]
	if !ok {
		// Beyond the recordings (e.g. "Signaling"): same shape, no message.
		ev = api.TaskEvent{Type: typ}
	}
	out := ev
	out.Time = now
	out.Details = map[string]string{}
	for k, v := range ev.Details {
		out.Details[k] = v
	}
	for k, v := range details {
		out.Details[k] = v
	}
	return &out
}
