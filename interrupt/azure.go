package interrupt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const azureEventsPath = "/metadata/scheduledevents?api-version=2020-07-01"

// azureMinNotice is the least notice Azure gives a Preempt event; used when
// an event carries no NotBefore (it has already started).
const azureMinNotice = 30 * time.Second

// AzureWatcher polls Azure Scheduled Events for a Preempt event naming this
// VM, and acknowledges it on request. Next is used by one goroutine at a
// time; Acknowledge may be called concurrently with it.
type AzureWatcher struct {
	o    WatcherOptions
	seen map[string]bool // EventIds already returned
}

var (
	_ Watcher      = (*AzureWatcher)(nil)
	_ Acknowledger = (*AzureWatcher)(nil)
)

// NewAzureWatcher returns a watcher of the Azure Instance Metadata Service.
func NewAzureWatcher(o WatcherOptions) *AzureWatcher {
	return &AzureWatcher{o: o.withDefaults(DefaultAzureEndpoint, 10*time.Second), seen: map[string]bool{}}
}

type azureDocument struct {
	DocumentIncarnation int          `json:"DocumentIncarnation"`
	Events              []azureEvent `json:"Events"`
}

type azureEvent struct {
	EventID      string   `json:"EventId"`
	EventType    string   `json:"EventType"`
	ResourceType string   `json:"ResourceType"`
	Resources    []string `json:"Resources"`
	EventStatus  string   `json:"EventStatus"`
	NotBefore    string   `json:"NotBefore"`
}

// Next polls until a Preempt event for this VM appears.
func (w *AzureWatcher) Next(ctx context.Context) (Notice, error) {
	u := w.o.Endpoint + azureEventsPath
	for {
		r, err := doMetadata(ctx, w.o.HTTPClient, CloudAzure, http.MethodGet, u, map[string]string{"Metadata": "true"}, nil)
		if err != nil {
			return Notice{}, err
		}
		if r.Status != http.StatusOK {
			return Notice{}, unexpected(CloudAzure, u, r)
		}
		var doc azureDocument
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			return Notice{}, newMetadataError(CloudAzure, u, r.Status, fmt.Errorf("decode scheduled events: %w", err))
		}
		for _, ev := range doc.Events {
			if ev.EventType != "Preempt" || w.seen[ev.EventID] || !w.forThisVM(ev) {
				continue
			}
			w.seen[ev.EventID] = true
			now := w.o.Now()
			deadline := now.Add(azureMinNotice)
			if ev.NotBefore != "" {
				t, err := time.Parse(time.RFC1123, ev.NotBefore)
				if err != nil {
					return Notice{}, newMetadataError(CloudAzure, u, r.Status, fmt.Errorf("event %s NotBefore: %w", ev.EventID, err))
				}
				deadline = t
			}
			return Notice{Cloud: CloudAzure, Action: ActionPreempt, NoticeTime: now, Deadline: deadline, EventID: ev.EventID}, nil
		}
		if err := sleepCtx(ctx, w.o.After, w.o.PollInterval); err != nil {
			return Notice{}, err
		}
	}
}

func (w *AzureWatcher) forThisVM(ev azureEvent) bool {
	if w.o.VMName == "" {
		return true
	}
	for _, r := range ev.Resources {
		if strings.EqualFold(r, w.o.VMName) {
			return true
		}
	}
	return false
}

// Acknowledge approves the event so the platform may proceed without
// waiting for NotBefore.
func (w *AzureWatcher) Acknowledge(ctx context.Context, n Notice) error {
	if n.EventID == "" {
		return nil
	}
	type startRequest struct {
		EventID string `json:"EventId"`
	}
	body, err := json.Marshal(struct {
		StartRequests []startRequest `json:"StartRequests"`
	}{[]startRequest{{n.EventID}}})
	if err != nil {
		return err
	}
	u := w.o.Endpoint + azureEventsPath
	hdr := map[string]string{"Metadata": "true", "Content-Type": "application/json"}
	r, err := doMetadata(ctx, w.o.HTTPClient, CloudAzure, http.MethodPost, u, hdr, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return unexpected(CloudAzure, u, r)
	}
	return nil
}
