package catalog

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"testing"

	"github.com/skynomad/skynomad/task"
)

// gpuTask is a typical GPU task: any_of A100:8 / H100:8, spot or
// on-demand (examples/any-of.yaml's shape).
func gpuTask() task.Task {
	var cands []task.Resources
	for _, g := range []string{"A100", "H100"} {
		for _, spot := range []bool{true, false} {
			cands = append(cands, task.Resources{Accelerators: []task.Accelerator{{Name: g, Count: 8}}, UseSpot: spot})
		}
	}
	return task.Task{Name: "bench", NumNodes: 1, Candidates: cands}
}

// BenchmarkLoadEmbedded reads the embedded catalog as a first use does:
// decompress, parse, aggregate, index.
func BenchmarkLoadEmbedded(b *testing.B) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = Default().Len()
	}
	b.ReportMetric(float64(n), "offerings")
}

// BenchmarkPlan plans a typical GPU task over the embedded catalog; the
// target is under 5 ms.
func BenchmarkPlan(b *testing.B) {
	cat := Default()
	cat.Len()
	tk := gpuTask()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cat.Plan(tk, Constraints{}); err != nil {
			b.Fatal(err)
		}
	}
}

// fullSizeBytes is about the size of SkyPilot's whole v7 AWS and GCP
// files (2.5 MB and 1.5 MB at the commits data/README.md names). Grown
// from the embedded rows, whose GPU rows are long, it holds fewer
// offerings than the real files (about 20,000): the plans run over twice
// as many bytes, which holds more.
const fullSizeBytes = 4 << 20

// fullSizeFiles returns each cloud's vms.csv, gzipped, grown to about
// size bytes with copies of the embedded rows in made-up regions
// (<region>-copyN).
func fullSizeFiles(b *testing.B, size int) map[string][]byte {
	b.Helper()
	files := map[string][]byte{}
	share := map[string]int{AWS: size * 5 / 8, GCP: size * 3 / 8}
	for _, cloud := range Clouds() {
		gz, err := embedded.ReadFile("data/" + SchemaVersion + "/" + cloud + "/vms.csv.gz")
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			b.Fatal(err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			b.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil {
			b.Fatal(err)
		}
		col := map[string]int{}
		for i, name := range recs[0] {
			col[name] = i
		}
		var out bytes.Buffer
		w := csv.NewWriter(&out)
		w.Write(recs[0])
		for i := 0; out.Len() < share[cloud]; i++ {
			for _, rec := range recs[1:] {
				rec = append([]string(nil), rec...)
				rec[col[colRegion]] += fmt.Sprintf("-copy%d", i)
				rec[col[colZone]] += fmt.Sprintf("-copy%d", i)
				w.Write(rec)
			}
			w.Flush()
		}
		csvText := out.Bytes()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(csvText)
		zw.Close()
		files[cloud] = buf.Bytes()
	}
	return files
}

func readGzipped(b *testing.B, cloud string, gz []byte) []Offering {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	offs, err := ReadV7(cloud, zr)
	if err != nil {
		b.Fatal(err)
	}
	return offs
}

// BenchmarkLoadFullSize reads a catalog of the whole catalog's size.
func BenchmarkLoadFullSize(b *testing.B) {
	files := fullSizeFiles(b, fullSizeBytes)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var offs []Offering
		for _, cloud := range Clouds() {
			offs = append(offs, readGzipped(b, cloud, files[cloud])...)
		}
		n = len(newIndex(offs).offerings)
	}
	b.ReportMetric(float64(n), "offerings")
}

// BenchmarkPlanFullSize plans the typical GPU task, and SkyPilot's
// default CPU request (the most choices), over a catalog with more
// offerings than the whole catalog.
func BenchmarkPlanFullSize(b *testing.B) {
	files := fullSizeFiles(b, 2*fullSizeBytes)
	var offs []Offering
	for _, cloud := range Clouds() {
		offs = append(offs, readGzipped(b, cloud, files[cloud])...)
	}
	cat := New(offs)
	cat.Len()
	for name, tk := range map[string]task.Task{
		"gpu":         gpuTask(),
		"default-cpu": {Name: "bench", NumNodes: 1, Candidates: []task.Resources{{}}},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			choices := 0
			for b.Loop() {
				cs, err := cat.Plan(tk, Constraints{})
				if err != nil {
					b.Fatal(err)
				}
				choices = len(cs)
			}
			b.ReportMetric(float64(len(offs)), "offerings")
			b.ReportMetric(float64(choices), "choices")
		})
	}
}
