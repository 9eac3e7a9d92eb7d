package bucket_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skynomad/skynomad/bucket"
	"github.com/skynomad/skynomad/internal/s3fake"
)

const (
	benchFiles = 10_000
	benchBytes = 200_000_000
)

// benchTree writes a workdir of benchFiles files in 100 directories whose
// sizes (skewed: many small, a few of some MB) total benchBytes.
func benchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]float64, benchFiles)
	var sum float64
	for i := range weights {
		weights[i] = math.Exp(rng.NormFloat64() * 1.5)
		sum += weights[i]
	}
	content := rand.NewChaCha8([32]byte{7})
	buf := make([]byte, 1<<20)
	var written int64
	for i, w := range weights {
		size := int64(w / sum * benchBytes)
		if i == benchFiles-1 {
			size = benchBytes - written
		}
		written += size
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%04d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			content.Read(buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				b.Fatal(err)
			}
			left -= n
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// benchStore is an s3 store on gofakes3 (in memory) with its bucket.
func benchStore(b *testing.B) bucket.Store {
	b.Helper()
	cfg := s3fake.New(b, s3fake.Options{}).Config()
	s, err := bucket.OpenWith(context.Background(), bucket.URL{Scheme: "s3", Bucket: "bench"}, bucket.Options{AWS: &cfg})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Ensure(context.Background(), true); err != nil {
		b.Fatal(err)
	}
	return s
}

// timedScan scans dir and adds the time it took to total.
func timedScan(b *testing.B, dir string, total *time.Duration) bucket.Tree {
	b.Helper()
	start := time.Now()
	tr, err := bucket.Scan(dir)
	if err != nil {
		b.Fatal(err)
	}
	*total += time.Since(start)
	return tr
}

// BenchmarkUpload200MB: a launch's upload of a new workdir (Scan, then
// UploadTree) to S3 (gofakes3).
func BenchmarkUpload200MB(b *testing.B) {
	ctx := context.Background()
	dir := benchTree(b)
	s := benchStore(b)
	var scan time.Duration
	b.ResetTimer()
	for i := range b.N {
		tr := timedScan(b, dir, &scan)
		key := fmt.Sprintf("job-%d/workdir", i)
		if _, err := bucket.UploadTree(ctx, s, tr, key, "", bucket.UploadOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := bucket.DeletePrefix(ctx, s, fmt.Sprintf("job-%d", i)); err != nil { // keep memory flat
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)*benchBytes/1e6/sec, "MB/s")
	b.ReportMetric(float64(b.N)*benchFiles/sec, "files/s")
	b.ReportMetric(scan.Seconds()/float64(b.N), "scan-s/op")
}

// BenchmarkUploadUnchanged: the second launch of the same workdir: Scan,
// then UploadTree reusing the first job's objects (server-side copies).
func BenchmarkUploadUnchanged(b *testing.B) {
	ctx := context.Background()
	dir := benchTree(b)
	s := benchStore(b)
	first, err := bucket.Scan(dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bucket.UploadTree(ctx, s, first, "job-0/workdir", "", bucket.UploadOptions{}); err != nil {
		b.Fatal(err)
	}
	var scan time.Duration
	b.ResetTimer()
	for i := range b.N {
		tr := timedScan(b, dir, &scan)
		if tr.Hash != first.Hash {
			b.Fatalf("the unchanged tree hashes %s, first %s", tr.Hash, first.Hash)
		}
		key := fmt.Sprintf("job-%d/workdir", i+1)
		if _, err := bucket.UploadTree(ctx, s, tr, key, "", bucket.UploadOptions{Reuse: "job-0/workdir", Parallel: bucket.ReuseParallel}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := bucket.DeletePrefix(ctx, s, fmt.Sprintf("job-%d", i+1)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)*benchFiles/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(scan.Seconds()/float64(b.N), "scan-s/op")
}
