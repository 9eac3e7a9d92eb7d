package translator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skynomad/skynomad/task"
)

// TestSubstitutionAsSkyPilot: references are read with SkyPilot's
// pattern (each brace optional), from envs then secrets (a secret wins),
// after --env/--secret; an unknown variable is left as written.
func TestSubstitutionAsSkyPilot(t *testing.T) {
	t.Parallel()
	vars := newSubstVars(
		[]task.EnvVar{{Name: "A", Value: "x"}, {Name: "A_B", Value: "ab"}, {Name: "S", Value: "env"}},
		[]task.EnvVar{{Name: "S", Value: "secret"}},
	)
	for written, want := range map[string]string{
		"$A":         "x",
		"${A}":       "x",
		"${A}_B":     "x_B",
		"$A_B":       "ab",
		"${A":        "x", // SkyPilot's braces are optional on each side
		"$A}":        "x",
		"/d/${A}/$A": "/d/x/x",
		"$UNSET/$A":  "$UNSET/x",
		"${UNSET}":   "${UNSET}",
		"$1A":        "$1A",
		"$$A":        "$x",
		"$S":         "secret",
		"no refs":    "no refs",
	} {
		if got := vars.expand(written); got.value != want {
			t.Errorf("expand(%q) = %q, want %q", written, got.value, want)
		}
	}
	if got := vars.expand("${S}-${UNSET}-$A-$A").quoted(); got != `"${S}-${UNSET}-$A-$A" (S=<secret>, UNSET is not set in envs or secrets, A=x)` {
		t.Errorf("quoted = %s", got)
	}
}

// TestFileMountsFromFlags: --env and --secret values are substituted,
// not only the file's envs.
func TestFileMountsFromFlags(t *testing.T) {
	t.Parallel()
	const file = "envs:\n  BUCKET:\nsecrets:\n  STORE:\nfile_mounts:\n  /ckpt:\n    name: $BUCKET\n    store: $STORE\nrun: ls\n"
	dag, err := Load("task.yaml", []byte(file), LoadOptions{
		Env:     []task.EnvVar{{Name: "BUCKET", Value: "flag-bucket"}},
		Secrets: []task.EnvVar{{Name: "STORE", Value: "GCS"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []task.Mount{{Dest: "/ckpt", BucketName: "flag-bucket", Store: "gcs", Mode: task.MountModeMount}}
	if diff := cmp.Diff(want, dag.Tasks[0].Mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
}

// TestSourceListIsResolvedHere: each path of a source list is the
// caller's, resolved before the job leaves this machine, and keeps the
// base name it is uploaded under; a missing one is refused where it is
// written.
func TestSourceListIsResolvedHere(t *testing.T) {
	t.Parallel()
	proj, home := pathsFixture(t)
	lp := &LocalPaths{Dir: proj, Home: home, Stat: os.Stat}
	const file = "envs:\n  DIR: data\nfile_mounts:\n  /in:\n    name: my-inputs\n    source: [./$DIR, ~/.netrc, .]\nrun: ls\n"
	dag, err := Load("task.yaml", []byte(file), LoadOptions{LocalPaths: lp})
	if err != nil {
		t.Fatal(err)
	}
	want := []task.ListedSource{
		{Path: filepath.Join(proj, "data"), Name: "data"},
		{Path: filepath.Join(home, ".netrc"), Name: ".netrc"},
		{Path: proj, Name: "proj"},
	}
	if diff := cmp.Diff(want, dag.Tasks[0].Mounts[0].Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if got := dag.LocalPaths(); len(got) != 3 {
		t.Errorf("DAG.LocalPaths lists %d paths, want the 3 of the list", len(got))
	}

	_, err = Load("task.yaml", []byte("envs:\n  DIR: gone\nfile_mounts:\n  /in:\n    name: my-inputs\n    source:\n      - ./data\n      - ./$DIR\nrun: ls\n"),
		LoadOptions{LocalPaths: lp})
	wantErr := "task.yaml:8:9: file_mounts./in.source[1]: ./$DIR (DIR=gone) does not exist (looked for " + filepath.Join(proj, "gone") + ")"
	if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
		t.Errorf("error = %v, want it to start with %q", err, wantErr)
	}
}

// TestOldSpellingsWarn: each key SkyPilot reads under an old name, or
// that means nothing here, gives one warning located at it, worded like
// SkyPilot's; cloud/region/zone give none (SkyPilot warns of none).
const portsHaveNoEffect = "has no effect in skynomad: the task listens on its node's ports as any process there does, and skynomad opens none to the outside (open them in the cloud's firewall)"

func TestOldSpellingsWarn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string
	}{
		{"good/old-spellings.yaml", []string{
			"good/old-spellings.yaml:12:1: inputs: ignored: SkyPilot uses it only to estimate the cost of moving the data between clouds, which skynomad's optimizer does not price",
			"good/old-spellings.yaml:14:1: outputs: ignored: SkyPilot uses it only to estimate the cost of moving the data between clouds, which skynomad's optimizer does not price",
			"good/old-spellings.yaml:17:1: event_callback: ignored: skynomad's controller runs no event callback; the task runs without it",
			"good/old-spellings.yaml:18:1: api_server_access: has no effect on skynomad: a task gets no SkyPilot API server credentials, so it cannot launch SkyPilot operations of its own",
			"good/old-spellings.yaml:8:3: resources.spot_recovery: spot_recovery is deprecated. Use job_recovery instead (the system is defaulting to that for you).",
		}},
		{"good/experimental-config.yaml", []string{
			"good/experimental-config.yaml:9:3: experimental.config_overrides: field is deprecated in the task YAML. Use the `config` field to set config overrides.",
		}},
		{"good/cloud-region-zone.yaml", nil},
		{"good/api-server-access-off.yaml", nil},
		{"good/file-mounts-subst.yaml", nil},
		{"good/any-of-partial.yaml", []string{
			"good/any-of-partial.yaml:9:3: resources.ports: " + portsHaveNoEffect,
			"good/any-of-partial.yaml:20:7: resources.any_of[4].ports: " + portsHaveNoEffect,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)
			opts := caseOptions(t, path)
			var got []string
			opts.Warn = func(s string) { got = append(got, s) }
			dag, err := loadCase(t, path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if tt.file == "good/old-spellings.yaml" && dag.Tasks[0].Resources.JobRecovery.Strategy != task.StrategyFailover {
				t.Errorf("spot_recovery: FAILOVER became job_recovery %+v", dag.Tasks[0].Resources.JobRecovery)
			}
		})
	}
}

// TestAnyOfEntriesMergeOverTheTask: an any_of/ordered entry that sets
// some fields takes every other field from the task's resources, as
// SkyPilot's dict update does, except labels, which merge.
func TestAnyOfEntriesMergeOverTheTask(t *testing.T) {
	t.Parallel()
	dag, err := loadCase(t, filepath.Join("testdata", "good", "any-of-partial.yaml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := dag.Tasks[0].Resources
	cands := dag.Tasks[0].Candidates
	changed := []func(r *task.Resources){
		func(r *task.Resources) { r.Infra = task.Infra{Cloud: "gcp", Region: "us-central1"} },
		func(r *task.Resources) { r.Accelerators = []task.Accelerator{{Name: "A10G", Count: 1}} },
		func(r *task.Resources) { r.Accelerators = []task.Accelerator{{Name: "T4", Count: 1}} },
		func(r *task.Resources) { r.UseSpot = false },
		func(r *task.Resources) { r.Ports = []task.PortRange{{From: 8080, To: 8080}, {From: 9000, To: 9001}} },
		func(r *task.Resources) { r.Labels = map[string]string{"team": "ml", "tier": "gold"} },
		func(*task.Resources) {}, // the same job_recovery as the task's
	}
	if len(cands) != len(changed) {
		t.Fatalf("%d candidates, want %d", len(cands), len(changed))
	}
	for i, change := range changed {
		want := base
		want.Labels = map[string]string{"team": "ml"}
		change(&want)
		if diff := cmp.Diff(want, cands[i]); diff != "" {
			t.Errorf("candidate %d (-want +got):\n%s", i, diff)
		}
	}
}
