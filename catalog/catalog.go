package catalog

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
)

//go:embed data/offerings.csv
var embeddedOfferings []byte

// Catalog is a fixed set of offerings the optimizer chooses from. It is
// immutable once built; methods that add offerings return a new Catalog.
type Catalog struct {
	offerings    []Offering
	pricesReadOn string
}

// New returns a catalog of the given offerings (copied). Its PricesReadOn is
// empty.
func New(offerings []Offering) *Catalog {
	return &Catalog{offerings: cloneOfferings(offerings)}
}

// Default returns the catalog embedded in the binary: AWS and GCP offerings
// read from SkyPilot's public catalog (see data/README.md). It parses the
// embedded file on every call. The local host is not part of it; add it with
// With(local) where the local engine is in use.
func Default() *Catalog {
	offerings, readOn, err := readCSV(bytes.NewReader(embeddedOfferings))
	if err != nil {
		// The embedded file is checked by the package tests; a failure here
		// is a build defect, not a runtime condition.
		panic(fmt.Sprintf("catalog: embedded data/offerings.csv: %v", err))
	}
	return &Catalog{offerings: offerings, pricesReadOn: readOn}
}

// With returns a new catalog holding c's offerings followed by extra.
func (c *Catalog) With(extra ...Offering) *Catalog {
	all := make([]Offering, 0, len(c.offerings)+len(extra))
	all = append(all, cloneOfferings(c.offerings)...)
	all = append(all, cloneOfferings(extra)...)
	return &Catalog{offerings: all, pricesReadOn: c.pricesReadOn}
}

// Offerings returns a copy of the catalog's offerings in file order.
func (c *Catalog) Offerings() []Offering {
	return cloneOfferings(c.offerings)
}

// PricesReadOn is the date (YYYY-MM-DD) the embedded prices were read from
// their source, or "" for a catalog built with New.
func (c *Catalog) PricesReadOn() string {
	return c.pricesReadOn
}

// Source is the hook for refreshing prices from a cloud's own pricing API
// (for example the AWS Price List and EC2 spot price history, or the GCP
// Cloud Billing Catalog). A refresh command fetches every Source, merges the
// results and rewrites data/offerings.csv with WriteCSV, preceded by a
// "# prices-read-on: YYYY-MM-DD" comment line. No Source is implemented here
// yet; the embedded file is maintained by hand from SkyPilot's catalog.
type Source interface {
	// Name is the cloud the source covers ("aws", "gcp").
	Name() string
	// Fetch returns the cloud's offerings with current prices.
	Fetch(ctx context.Context) ([]Offering, error)
}

func cloneOfferings(in []Offering) []Offering {
	out := make([]Offering, len(in))
	for i, o := range in {
		o.Zones = append([]string(nil), o.Zones...)
		out[i] = o
	}
	return out
}
