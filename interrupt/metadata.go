package interrupt

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Default metadata service addresses.
const (
	DefaultAWSEndpoint   = "http://169.254.169.254"
	DefaultGCPEndpoint   = "http://metadata.google.internal"
	DefaultAzureEndpoint = "http://169.254.169.254"
)

// DefaultPollInterval is how often AWS and Azure are polled; AWS recommends
// every 5 seconds.
const DefaultPollInterval = 5 * time.Second

// defaultGCPLongPoll is the timeout_sec asked of the GCP metadata server.
const defaultGCPLongPoll = 60 * time.Second

// maxMetadataBody bounds what is read from a metadata answer.
const maxMetadataBody = 64 << 10

// WatcherOptions configures a Watcher. Zero values take defaults.
type WatcherOptions struct {
	// Endpoint is the metadata service's base URL (scheme and host, no
	// path); tests point it at a simulator.
	Endpoint string
	// HTTPClient talks to the metadata service. The default never uses a
	// proxy and times out requests.
	HTTPClient *http.Client
	// PollInterval is the pause between polls (AWS, Azure) and between
	// retries after an error (GCP).
	PollInterval time.Duration
	// Now and After are the clock; tests may inject them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time

	// Rebalance makes the AWS watcher also report rebalance
	// recommendations.
	Rebalance bool
	// LongPollTimeout is the GCP wait_for_change timeout_sec.
	LongPollTimeout time.Duration
	// VMName restricts Azure events to those whose Resources name this VM.
	// Empty accepts every Preempt event in the document.
	VMName string
}

func (o WatcherOptions) withDefaults(endpoint string, timeout time.Duration) WatcherOptions {
	if o.Endpoint == "" {
		o.Endpoint = endpoint
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.LongPollTimeout <= 0 {
		o.LongPollTimeout = defaultGCPLongPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.HTTPClient == nil {
		o.HTTPClient = metadataHTTPClient(timeout)
	}
	return o
}

// metadataHTTPClient talks to a link-local metadata service: never through
// a proxy.
func metadataHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: timeout}
}

// NewWatcher returns the watcher for cloud c.
func NewWatcher(c Cloud, o WatcherOptions) (Watcher, error) {
	switch c {
	case CloudAWS:
		return NewAWSWatcher(o), nil
	case CloudGCP:
		return NewGCPWatcher(o), nil
	case CloudAzure:
		return NewAzureWatcher(o), nil
	}
	return nil, fmt.Errorf("no watcher for cloud %q (want aws, gcp or azure)", c)
}

// metadataResponse is a read metadata answer.
type metadataResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func doMetadata(ctx context.Context, client *http.Client, cloud Cloud, method, url string, header map[string]string, body io.Reader) (metadataResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return metadataResponse{}, newMetadataError(cloud, url, 0, err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return metadataResponse{}, newMetadataError(cloud, url, 0, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if err != nil {
		return metadataResponse{}, newMetadataError(cloud, url, resp.StatusCode, fmt.Errorf("read body: %w", err))
	}
	return metadataResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// unexpected is the error for a status the protocol does not allow.
func unexpected(cloud Cloud, url string, r metadataResponse) error {
	body := strings.TrimSpace(string(r.Body))
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return newMetadataError(cloud, url, r.Status, fmt.Errorf("unexpected answer %q", body))
}
