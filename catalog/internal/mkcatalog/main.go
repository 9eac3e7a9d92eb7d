// Command mkcatalog builds the catalog package's embedded copy of
// SkyPilot's catalog, data/v7/<cloud>/vms.csv.gz, from part files: rows of
// catalogs/v7/<cloud>/vms.csv copied verbatim, without header, in files
// named <cloud>-*.csv (aws-cpu-1.csv, gcp-hosts.csv, ...).
//
//	go run ./catalog/internal/mkcatalog -parts /tmp/catalog-parts -out catalog/data
//
// Each output is the cloud's header, then every row of its parts in the
// order SkyPilot's file has them: AWS by instance type, region and zone;
// GCP machine types the same way, then accelerators by name, count,
// region and zone (TPU slices by size). Rows are checked against the
// header (field count, numbers) and the result must read as a catalog.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/skynomad/skynomad/catalog"
)

// headers are the v7 files' first lines.
var headers = map[string]string{
	catalog.AWS: "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone",
	catalog.GCP: "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice",
}

func main() {
	parts := flag.String("parts", "/tmp/catalog-parts", "directory of the part files (<cloud>-*.csv)")
	out := flag.String("out", "catalog/data", "the catalog package's data directory")
	flag.Parse()
	for _, cloud := range catalog.Clouds() {
		summary, err := build(cloud, *parts, *out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mkcatalog:", err)
			os.Exit(1)
		}
		fmt.Println(summary)
	}
}

// row is one line of a part, with the fields it sorts by.
type row struct {
	line   string
	fields map[string]string
}

func build(cloud, partsDir, outDir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(partsDir, cloud+"-*.csv"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no %s-*.csv in %s", cloud, partsDir)
	}
	slices.Sort(files)
	header := headers[cloud]
	names := strings.Split(header, ",")
	var rows []row
	for _, f := range files {
		rs, err := readPart(f, header, names)
		if err != nil {
			return "", err
		}
		rows = append(rows, rs...)
	}
	key := awsKey
	if cloud == catalog.GCP {
		key = gcpKey
	}
	slices.SortStableFunc(rows, func(a, b row) int { return compareKeys(key(a), key(b)) })

	var csvText bytes.Buffer
	csvText.WriteString(header + "\n")
	for _, r := range rows {
		csvText.WriteString(r.line + "\n")
	}
	offs, err := catalog.ReadV7(cloud, bytes.NewReader(csvText.Bytes()))
	if err != nil {
		return "", fmt.Errorf("%s: the rows do not read as a catalog: %w", cloud, err)
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(csvText.Bytes()); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(outDir, catalog.SchemaVersion, cloud, "vms.csv.gz")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
		return "", err
	}
	regions, types, families, accs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, o := range offs {
		regions[o.Region] = true
		types[o.InstanceType] = true
		if o.TPU {
			accs[o.GPU] = true
			continue
		}
		families[catalog.Family(o.InstanceType)] = true
		if o.GPU != "" {
			accs[o.GPU] = true
		}
	}
	return fmt.Sprintf("%s: %d rows from %d parts, %d offerings, %d instance types -> %s (%d bytes)\n  regions: %s\n  families: %s\n  accelerators: %s",
		cloud, len(rows), len(files), len(offs), len(types), path, gz.Len(),
		sorted(regions), sorted(families), sorted(accs)), nil
}

func sorted(set map[string]bool) string {
	var s []string
	for k := range set {
		s = append(s, k)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// readPart reads a part's rows; a header line, should a part have one, is
// skipped.
func readPart(path, header string, names []string) ([]row, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []row
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || line == header {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if len(rec) != len(names) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d (%s)", path, n, len(rec), len(names), header)
		}
		fields := map[string]string{}
		for i, name := range names {
			fields[name] = rec[i]
		}
		rows = append(rows, row{line: line, fields: fields})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n == 0 {
		return nil, errors.New(path + ": empty")
	}
	return rows, nil
}

// A key part is a string, or a number compared as one.
type part struct {
	s   string
	n   float64
	num bool
}

func str(s string) part { return part{s: s} }

func num(s string) part {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return part{s: s}
	}
	return part{n: v, num: true}
}

func compareKeys(a, b []part) int {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		switch {
		case x.num && y.num && x.n != y.n:
			if x.n < y.n {
				return -1
			}
			return 1
		case !(x.num && y.num) && x.s != y.s:
			return strings.Compare(x.s, y.s)
		}
	}
	return len(a) - len(b)
}

// awsKey is fetch_aws.py's order: instance type, region, zone.
func awsKey(r row) []part {
	f := r.fields
	return []part{str(f["InstanceType"]), str(f["Region"]), str(f["AvailabilityZone"])}
}

// gcpKey: machine types first, then accelerators by name (a TPU slice by
// its version, then size) and count.
func gcpKey(r row) []part {
	f := r.fields
	if f["InstanceType"] != "" {
		return []part{num("0"), str(f["InstanceType"]), str(f["Region"]), str(f["AvailabilityZone"])}
	}
	name, size := f["AcceleratorName"], num("0")
	if strings.HasPrefix(name, "tpu-") {
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name, size = name[:i], num(name[i+1:])
		}
	}
	return []part{num("1"), str(name), size, num(f["AcceleratorCount"]), str(f["Region"]), str(f["AvailabilityZone"])}
}
