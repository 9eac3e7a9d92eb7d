package interrupt

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	gcpPreemptedPath = "/computeMetadata/v1/instance/preempted"
	// gcpNotice is how long a preempted GCE instance has before it stops.
	gcpNotice = 30 * time.Second
)

// GCPWatcher long-polls the GCE metadata server's instance/preempted value.
// It is used by one goroutine at a time.
type GCPWatcher struct {
	o WatcherOptions

	etag      string
	value     string
	read      bool // value and etag hold a first answer
	delivered bool
}

var _ Watcher = (*GCPWatcher)(nil)

// NewGCPWatcher returns a watcher of the GCE metadata server.
func NewGCPWatcher(o WatcherOptions) *GCPWatcher {
	if o.LongPollTimeout <= 0 {
		o.LongPollTimeout = defaultGCPLongPoll
	}
	return &GCPWatcher{o: o.withDefaults(DefaultGCPEndpoint, o.LongPollTimeout+10*time.Second)}
}

// Next returns once the instance is marked preempted. The first read is
// immediate (a value already TRUE is reported at once); later reads use
// wait_for_change with the last ETag so that no change is missed between
// two long polls.
func (w *GCPWatcher) Next(ctx context.Context) (Notice, error) {
	for {
		if w.read && !w.delivered && w.value == "TRUE" {
			w.delivered = true
			now := w.o.Now()
			return Notice{Cloud: CloudGCP, Action: ActionPreempt, NoticeTime: now, Deadline: now.Add(gcpNotice)}, nil
		}
		before, waited := w.etag, w.read
		if err := w.fetch(ctx); err != nil {
			return Notice{}, err
		}
		// A long poll that ended with nothing changed (its timeout): pause,
		// so a server that does not hold the request is not hammered. The
		// next request carries the ETag, so a change meanwhile is not missed.
		if waited && w.etag == before {
			if err := sleepCtx(ctx, w.o.After, w.o.PollInterval); err != nil {
				return Notice{}, err
			}
		}
	}
}

func (w *GCPWatcher) fetch(ctx context.Context) error {
	q := url.Values{}
	if w.read {
		q.Set("wait_for_change", "true")
		q.Set("timeout_sec", fmt.Sprint(int(w.o.LongPollTimeout/time.Second)))
		if w.etag != "" {
			q.Set("last_etag", w.etag)
		}
	}
	u := w.o.Endpoint + gcpPreemptedPath
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r, err := doMetadata(ctx, w.o.HTTPClient, CloudGCP, http.MethodGet, u, map[string]string{"Metadata-Flavor": "Google"}, nil)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return unexpected(CloudGCP, u, r)
	}
	v := strings.ToUpper(strings.TrimSpace(string(r.Body)))
	if v != "TRUE" && v != "FALSE" {
		return unexpected(CloudGCP, u, r)
	}
	w.value, w.etag, w.read = v, r.Header.Get("ETag"), true
	return nil
}
