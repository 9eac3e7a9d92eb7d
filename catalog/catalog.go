package catalog

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The embedded copy of SkyPilot's catalog (see data/README.md).
//
//go:embed data/v7/aws/vms.csv.gz data/v7/gcp/vms.csv.gz
var embedded embed.FS

// embeddedReadOn is when the embedded copy was read from its source.
const embeddedReadOn = "2026-12-03"

// Catalog is a fixed set of offerings the optimizer chooses from. It is
// immutable once built (methods that change it return a new Catalog) and
// read lazily: nothing is parsed until a method needs the offerings, and
// then once.
type Catalog struct {
	load   func() ([]Offering, []Origin)
	refuse func(Offering) string

	once    sync.Once
	idx     *index
	origins []Origin
}

// New returns a catalog of the given offerings (copied).
func New(offerings []Offering) *Catalog {
	offs := cloneOfferings(offerings)
	return &Catalog{load: func() ([]Offering, []Origin) { return offs, nil }}
}

// Default returns the catalog embedded in the binary: SkyPilot's AWS and
// GCP offerings (see data/README.md), parsed on first use. The local host
// is not part of it; add it with With(local) where the local engine is in
// use.
func Default() *Catalog {
	return &Catalog{load: func() ([]Offering, []Origin) {
		var offs []Offering
		var origins []Origin
		for _, cloud := range Clouds() {
			o, err := readEmbedded(cloud)
			if err != nil {
				// The package tests read the embedded files: a failure
				// here is a build defect, not a runtime condition.
				panic(err)
			}
			offs = append(offs, o...)
			origins = append(origins, embeddedOrigin(cloud, ""))
		}
		return offs, origins
	}}
}

// Load returns the catalog of a cache directory (<home>/catalogs, see
// Cache): for each cloud its downloaded copy when there is one that reads,
// else the embedded one. Origins says which was used. Like Default, it
// reads nothing until first use.
func Load(dir string) *Catalog {
	return &Catalog{load: func() ([]Offering, []Origin) {
		var offs []Offering
		var origins []Origin
		for _, cloud := range Clouds() {
			o, origin := loadCloud(dir, cloud)
			offs = append(offs, o...)
			origins = append(origins, origin)
		}
		return offs, origins
	}}
}

// loadCloud reads one cloud's cached copy, else the embedded one.
func loadCloud(dir, cloud string) ([]Offering, Origin) {
	path := CachePath(dir, cloud)
	problem := ""
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		st, serr := f.Stat()
		offs, rerr := ReadV7(cloud, f)
		if serr == nil && rerr == nil {
			return offs, Origin{Cloud: cloud, Path: path, ReadOn: st.ModTime()}
		}
		problem = fmt.Sprintf("the cached copy %s does not read (%v): delete it or run skynomad catalog update", path, firstErr(serr, rerr))
	} else if !os.IsNotExist(err) {
		problem = fmt.Sprintf("the cached copy %s: %v", path, err)
	}
	offs, err := readEmbedded(cloud)
	if err != nil {
		panic(err)
	}
	return offs, embeddedOrigin(cloud, problem)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readEmbedded parses the embedded copy of one cloud's vms.csv.
func readEmbedded(cloud string) ([]Offering, error) {
	gz, err := embedded.ReadFile("data/" + SchemaVersion + "/" + cloud + "/vms.csv.gz")
	if err != nil {
		return nil, fmt.Errorf("catalog: embedded %s catalog: %w", cloud, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("catalog: embedded %s catalog: %w", cloud, err)
	}
	offs, err := ReadV7(cloud, zr)
	if err != nil {
		return nil, fmt.Errorf("catalog: embedded %s catalog: %w", cloud, err)
	}
	return offs, nil
}

func embeddedOrigin(cloud, problem string) Origin {
	readOn, _ := time.Parse(time.DateOnly, embeddedReadOn)
	return Origin{Cloud: cloud, ReadOn: readOn, Problem: problem}
}

// Origin says where a cloud's offerings come from.
type Origin struct {
	Cloud string
	// Path is the downloaded copy read; "" for the copy embedded in the
	// binary.
	Path string
	// ReadOn is when the prices were read: the embedded copy's date, or
	// when the cached copy was downloaded (its modification time).
	ReadOn time.Time
	// Problem says why a cached copy was not used, or is "".
	Problem string
}

// String reads "aws: downloaded copy /h/catalogs/v7/aws/vms.csv (2026-12-03
// 10:00 UTC)" or "gcp: embedded copy (read 2026-12-03)".
func (o Origin) String() string {
	if o.Path != "" {
		return fmt.Sprintf("%s: downloaded copy %s (%s)", o.Cloud, o.Path, o.ReadOn.UTC().Format("2006-01-02 15:04 MST"))
	}
	return fmt.Sprintf("%s: embedded copy (read %s)", o.Cloud, o.ReadOn.Format(time.DateOnly))
}

// get reads the catalog once.
func (c *Catalog) get() *index {
	c.once.Do(func() {
		offs, origins := c.load()
		c.idx = newIndex(offs)
		c.origins = origins
	})
	return c.idx
}

// With returns a new catalog holding c's offerings followed by extra.
func (c *Catalog) With(extra ...Offering) *Catalog {
	more := cloneOfferings(extra)
	return &Catalog{refuse: c.refuse, load: func() ([]Offering, []Origin) {
		idx := c.get()
		all := make([]Offering, 0, len(idx.offerings)+len(more))
		all = append(all, idx.offerings...)
		return append(all, more...), c.origins
	}}
}

// Refusing returns c where Plan never chooses an offering for which why
// returns a reason, and says that reason when nothing else fits: what an
// engine cannot start (TPU VMs where the capacity plugin provisions).
func (c *Catalog) Refusing(why func(Offering) string) *Catalog {
	return &Catalog{refuse: why, load: func() ([]Offering, []Origin) {
		return c.get().offerings, c.origins
	}}
}

// Offerings returns a copy of the catalog's offerings in file order.
func (c *Catalog) Offerings() []Offering {
	return cloneOfferings(c.get().offerings)
}

// Len is the number of offerings.
func (c *Catalog) Len() int { return len(c.get().offerings) }

// Origins says where each cloud's offerings come from (none for a catalog
// built with New).
func (c *Catalog) Origins() []Origin {
	c.get()
	return append([]Origin(nil), c.origins...)
}

// Find returns the first offering of an instance type in a region (the
// machine alone, before those with an attached accelerator).
func (c *Catalog) Find(cloud, region, instanceType string) (Offering, bool) {
	idx := c.get()
	for _, i := range idx.byType[instanceType] {
		o := idx.offerings[i]
		if o.Cloud == cloud && o.Region == region {
			return cloneOfferings([]Offering{o})[0], true
		}
	}
	return Offering{}, false
}

// CachePath is where a cache directory keeps a cloud's downloaded copy:
// <dir>/v7/<cloud>/vms.csv, as SkyPilot lays out ~/.sky/catalogs.
func CachePath(dir, cloud string) string {
	return filepath.Join(dir, SchemaVersion, cloud, "vms.csv")
}

// index is a catalog's offerings with the lookups Plan narrows by.
type index struct {
	offerings []Offering
	byGPU     map[string][]int32 // lower-case accelerator name
	byType    map[string][]int32
	noGPU     []int32
}

func newIndex(offs []Offering) *index {
	idx := &index{offerings: offs, byGPU: map[string][]int32{}, byType: map[string][]int32{}}
	for i, o := range offs {
		n := int32(i)
		idx.byType[o.InstanceType] = append(idx.byType[o.InstanceType], n)
		if o.GPU == "" {
			idx.noGPU = append(idx.noGPU, n)
		} else {
			k := strings.ToLower(o.GPU)
			idx.byGPU[k] = append(idx.byGPU[k], n)
		}
	}
	return idx
}

func cloneOfferings(in []Offering) []Offering {
	out := make([]Offering, len(in))
	for i, o := range in {
		o.Zones = append([]string(nil), o.Zones...)
		if o.ZoneSpotPrices != nil {
			m := make(map[string]float64, len(o.ZoneSpotPrices))
			for k, v := range o.ZoneSpotPrices {
				m[k] = v
			}
			o.ZoneSpotPrices = m
		}
		out[i] = o
	}
	return out
}

// readAllLimited reads at most limit bytes of r.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return b, nil
}
