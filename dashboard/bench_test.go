package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkJobsPage10k renders the jobs page of a 10,000-job queue: the
// default page (newest 50), and a filtered, sorted second page.
func BenchmarkJobsPage10k(b *testing.B) {
	d := newDashboard(newFake(manyJobs(10000)...), "")
	for _, bc := range []struct{ name, target string }{
		{"default", "/"},
		{"filtered_sorted", "/?status=active&status=failed&q=TRAIN&user=alice&sort=cost&page=2"},
		{"sorted_by_name", "/?sort=name&size=500"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bc.target, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<tr data-job-id=`) {
					b.Fatalf("GET %s: %d, no rows", bc.target, rec.Code)
				}
			}
		})
	}
}
