package interrupt

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkNoticeToSIGTERM measures the time from a spot notice appearing
// in (fake) IMDS to the first SIGTERM request reaching the Nomad fake,
// through the AWS watcher and the api-backed handler. One op is one
// notice; it includes waiting for the next poll (interval 5 ms here, 5 s
// in production, where the wait dominates). Reported:
//
//	ms/notice-to-sigterm  appearance → SIGTERM (what ns/op also measures)
//	ms/seen-to-sigterm    watcher returned the notice → SIGTERM (the handler's own part)
func BenchmarkNoticeToSIGTERM(b *testing.B) {
	const poll = 5 * time.Millisecond
	var total, handling time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := newCluster(b, nil)
		imds := &fakeIMDS{tokens: map[string]bool{}, action: "terminate", noticeAfter: 1 << 30,
			actionTime: func() string { return time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339) }}
		srv := newUnstartedLocalServer(b, imds)
		srv.Start()
		tw := &timedWatcher{w: NewAWSWatcher(WatcherOptions{Endpoint: srv.URL, PollInterval: poll})}
		h, err := NewHandler(HandlerConfig{NodeID: c.nodeID, AllocRoot: b.TempDir(), StopMargin: 5 * time.Second,
			Logger: slog.New(slog.DiscardHandler)}, tw, c.client)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		waitFor(b, "the first poll", 5*time.Second, func() bool {
			imds.mu.Lock()
			defer imds.mu.Unlock()
			return imds.polls > 0
		})

		b.StartTimer()
		imds.mu.Lock()
		imds.noticeAfter = 0
		appeared := time.Now()
		imds.mu.Unlock()
		var sigAt time.Time
		for {
			if t, ok := c.log.First("PUT /v1/client/allocation/"); ok {
				sigAt = t
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		b.StopTimer()

		_, seenAt, _ := tw.First()
		total += sigAt.Sub(appeared)
		handling += sigAt.Sub(seenAt)
		cancel()
		<-done
		srv.Close()
		c.close()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/notice-to-sigterm")
	b.ReportMetric(float64(handling.Microseconds())/1000/float64(b.N), "ms/seen-to-sigterm")
}
