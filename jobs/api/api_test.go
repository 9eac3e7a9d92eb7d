package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDurationsAreSeconds: every duration of the queue's JSON is a number
// of seconds (to the millisecond), which reads back as the same duration.
func TestDurationsAreSeconds(t *testing.T) {
	t.Parallel()
	res := QueueResponse{
		Jobs: []Job{{
			ID: 1, Name: "hello", Status: StatusRunning, SubmittedAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
			TotalDuration: Duration(2*time.Hour + 47*time.Minute + 18*time.Second), JobDuration: Duration(1500 * time.Millisecond),
			Tasks: []Task{{Name: "hello", Status: StatusRunning, TotalDuration: Duration(12345678 * time.Microsecond), JobDuration: 0}},
		}},
		InProgress: map[Status]int{StatusRunning: 1},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var fields struct {
		Jobs []struct {
			TotalDuration json.RawMessage `json:"total_duration"`
			JobDuration   json.RawMessage `json:"job_duration"`
			Tasks         []struct {
				TotalDuration json.RawMessage `json:"total_duration"`
				JobDuration   json.RawMessage `json:"job_duration"`
			} `json:"tasks"`
		} `json:"jobs"`
		InProgress json.RawMessage `json:"in_progress"`
	}
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	j, tk := fields.Jobs[0], fields.Jobs[0].Tasks[0]
	got := []string{string(j.TotalDuration), string(j.JobDuration), string(tk.TotalDuration), string(tk.JobDuration), string(fields.InProgress)}
	want := []string{"10038", "1.5", "12.346", "0", `{"RUNNING":1}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("total, job duration of the job, of the task, in progress (-want +got):\n%s\n%s", diff, b)
	}

	var back QueueResponse
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	res.Jobs[0].Tasks[0].TotalDuration = Duration(12346 * time.Millisecond) // sent to the millisecond
	if diff := cmp.Diff(res, back); diff != "" {
		t.Errorf("read back (-sent +read):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"job_duration": "1h"}`), &Job{}); err == nil {
		t.Error(`job_duration "1h" read without an error`)
	}
}
