package interrupt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	awsTokenPath     = "/latest/api/token"
	awsActionPath    = "/latest/meta-data/spot/instance-action"
	awsRebalancePath = "/latest/meta-data/events/recommendations/rebalance"
	awsTokenTTL      = 6 * time.Hour
	awsTokenTTLHdr   = "X-aws-ec2-metadata-token-ttl-seconds"
	awsTokenHdr      = "X-aws-ec2-metadata-token"
)

// AWSWatcher polls EC2 instance metadata (IMDSv2) for a spot interruption
// notice and, optionally, a rebalance recommendation. It is used by one
// goroutine at a time.
type AWSWatcher struct {
	o WatcherOptions

	token        string
	tokenExpires time.Time
	// What was already returned: the instance-action's action (its time
	// field may be recomputed on every read, so it is not part of the
	// identity) and the rebalance noticeTime.
	seenAction    Action
	seenRebalance string
}

var _ Watcher = (*AWSWatcher)(nil)

// NewAWSWatcher returns a watcher of the EC2 metadata service.
func NewAWSWatcher(o WatcherOptions) *AWSWatcher {
	return &AWSWatcher{o: o.withDefaults(DefaultAWSEndpoint, 5*time.Second)}
}

// Next polls until a new notice appears.
func (w *AWSWatcher) Next(ctx context.Context) (Notice, error) {
	for {
		n, ok, err := w.poll(ctx)
		if err != nil {
			return Notice{}, err
		}
		if ok {
			return n, nil
		}
		if err := sleepCtx(ctx, w.o.After, w.o.PollInterval); err != nil {
			return Notice{}, err
		}
	}
}

// poll reads the metadata once and returns a notice not returned before.
func (w *AWSWatcher) poll(ctx context.Context) (Notice, bool, error) {
	r, err := w.get(ctx, awsActionPath)
	if err != nil {
		return Notice{}, false, err
	}
	switch r.Status {
	case http.StatusOK:
		var doc struct {
			Action string `json:"action"`
			Time   string `json:"time"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			return Notice{}, false, newMetadataError(CloudAWS, w.url(awsActionPath), r.Status, fmt.Errorf("decode instance-action: %w", err))
		}
		action := Action(strings.ToLower(doc.Action))
		switch action {
		case ActionTerminate, ActionStop, ActionHibernate:
		default:
			return Notice{}, false, newMetadataError(CloudAWS, w.url(awsActionPath), r.Status, fmt.Errorf("unknown instance action %q", doc.Action))
		}
		deadline, err := time.Parse(time.RFC3339, doc.Time)
		if err != nil {
			return Notice{}, false, newMetadataError(CloudAWS, w.url(awsActionPath), r.Status, fmt.Errorf("instance-action time: %w", err))
		}
		if action != w.seenAction {
			w.seenAction = action
			return Notice{Cloud: CloudAWS, Action: action, NoticeTime: w.o.Now(), Deadline: deadline}, true, nil
		}
	case http.StatusNotFound:
	default:
		return Notice{}, false, unexpected(CloudAWS, w.url(awsActionPath), r)
	}

	if !w.o.Rebalance {
		return Notice{}, false, nil
	}
	r, err = w.get(ctx, awsRebalancePath)
	if err != nil {
		return Notice{}, false, err
	}
	switch r.Status {
	case http.StatusOK:
		var doc struct {
			NoticeTime string `json:"noticeTime"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			return Notice{}, false, newMetadataError(CloudAWS, w.url(awsRebalancePath), r.Status, fmt.Errorf("decode rebalance recommendation: %w", err))
		}
		if doc.NoticeTime == w.seenRebalance {
			return Notice{}, false, nil
		}
		t, err := time.Parse(time.RFC3339, doc.NoticeTime)
		if err != nil {
			return Notice{}, false, newMetadataError(CloudAWS, w.url(awsRebalancePath), r.Status, fmt.Errorf("rebalance noticeTime: %w", err))
		}
		w.seenRebalance = doc.NoticeTime
		return Notice{Cloud: CloudAWS, Action: ActionRebalance, NoticeTime: t}, true, nil
	case http.StatusNotFound:
		return Notice{}, false, nil
	}
	return Notice{}, false, unexpected(CloudAWS, w.url(awsRebalancePath), r)
}

// get reads one metadata path with a session token, refreshing the token
// once if IMDS says it is no longer valid.
func (w *AWSWatcher) get(ctx context.Context, path string) (metadataResponse, error) {
	for attempt := 0; ; attempt++ {
		if err := w.ensureToken(ctx); err != nil {
			return metadataResponse{}, err
		}
		r, err := doMetadata(ctx, w.o.HTTPClient, CloudAWS, http.MethodGet, w.url(path), map[string]string{awsTokenHdr: w.token}, nil)
		if err != nil {
			return r, err
		}
		if r.Status == http.StatusUnauthorized && attempt == 0 {
			w.token = ""
			continue
		}
		return r, nil
	}
}

func (w *AWSWatcher) ensureToken(ctx context.Context) error {
	if w.token != "" && w.o.Now().Before(w.tokenExpires) {
		return nil
	}
	hdr := map[string]string{awsTokenTTLHdr: fmt.Sprint(int(awsTokenTTL / time.Second))}
	r, err := doMetadata(ctx, w.o.HTTPClient, CloudAWS, http.MethodPut, w.url(awsTokenPath), hdr, nil)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(r.Body))
	if r.Status != http.StatusOK || token == "" {
		return unexpected(CloudAWS, w.url(awsTokenPath), r)
	}
	w.token = token
	// Renew a minute early so a request never carries an expired token.
	w.tokenExpires = w.o.Now().Add(awsTokenTTL - time.Minute)
	return nil
}

func (w *AWSWatcher) url(path string) string { return w.o.Endpoint + path }
