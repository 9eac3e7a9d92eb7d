package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// csvColumns is the header of the offerings file, in the order WriteCSV
// writes it. ReadCSV finds columns by name, so their order may change.
var csvColumns = [...]string{
	"cloud", "region", "instance_type", "vcpus", "memory_gb",
	"gpu", "gpu_count", "on_demand_price", "spot_price", "zones",
}

// readOnPrefix marks the comment line that records when prices were read.
const readOnPrefix = "prices-read-on:"

// WriteCSV writes offerings as the catalog file format: a header row, then
// one row per offering. Zones are joined with ";"; a zero spot price is
// written as an empty field. Comment lines (such as the provenance header
// of data/offerings.csv) are the caller's to write before it.
func WriteCSV(w io.Writer, offerings []Offering) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns[:]); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for _, o := range offerings {
		spot := ""
		if o.SpotPrice > 0 {
			spot = formatNumber(o.SpotPrice)
		}
		count := ""
		if o.GPU != "" {
			count = formatNumber(o.GPUCount)
		}
		rec := []string{
			o.Cloud, o.Region, o.InstanceType,
			formatNumber(o.VCPUs), formatNumber(o.MemoryGB),
			o.GPU, count, formatNumber(o.OnDemandPrice), spot,
			strings.Join(o.Zones, ";"),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write %s/%s/%s: %w", o.Cloud, o.Region, o.InstanceType, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV parses the catalog file format written by WriteCSV. Lines starting
// with "#" are comments. Errors name the line and the field.
func ReadCSV(r io.Reader) ([]Offering, error) {
	offerings, _, err := readCSV(r)
	return offerings, err
}

// readCSV also returns the date from a "# prices-read-on:" comment, if any.
func readCSV(r io.Reader) ([]Offering, string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("read catalog: %w", err)
	}
	readOn := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			if v, ok := strings.CutPrefix(strings.TrimSpace(rest), readOnPrefix); ok {
				readOn = strings.TrimSpace(v)
			}
		}
	}

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, readOn, errors.New("read catalog: no header row")
	}
	if err != nil {
		return nil, readOn, fmt.Errorf("read catalog header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[strings.TrimSpace(name)] = i
	}
	for _, name := range csvColumns {
		if _, ok := col[name]; !ok && name != "zones" {
			return nil, readOn, fmt.Errorf("read catalog header: missing column %q", name)
		}
	}

	var out []Offering
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readOn, fmt.Errorf("read catalog: %w", err)
		}
		line, _ := cr.FieldPos(0)
		o, err := parseRecord(rec, col)
		if err != nil {
			return nil, readOn, fmt.Errorf("read catalog line %d: %w", line, err)
		}
		out = append(out, o)
	}
	return out, readOn, nil
}

func parseRecord(rec []string, col map[string]int) (Offering, error) {
	field := func(name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	num := func(name string, required bool) (float64, error) {
		s := field(name)
		if s == "" {
			if required {
				return 0, fmt.Errorf("field %s: empty", name)
			}
			return 0, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("field %s: %q is not a number", name, s)
		}
		if v < 0 {
			return 0, fmt.Errorf("field %s: %q is negative", name, s)
		}
		return v, nil
	}

	o := Offering{
		Cloud:        strings.ToLower(field("cloud")),
		Region:       field("region"),
		InstanceType: field("instance_type"),
		GPU:          field("gpu"),
	}
	for _, f := range []struct{ name, value string }{
		{"cloud", o.Cloud}, {"region", o.Region}, {"instance_type", o.InstanceType},
	} {
		if f.value == "" {
			return Offering{}, fmt.Errorf("field %s: empty", f.name)
		}
	}
	var err error
	if o.VCPUs, err = num("vcpus", true); err != nil {
		return Offering{}, err
	}
	if o.MemoryGB, err = num("memory_gb", true); err != nil {
		return Offering{}, err
	}
	if o.GPUCount, err = num("gpu_count", o.GPU != ""); err != nil {
		return Offering{}, err
	}
	if o.GPU == "" && o.GPUCount != 0 {
		return Offering{}, errors.New("field gpu_count: set without gpu")
	}
	if o.OnDemandPrice, err = num("on_demand_price", true); err != nil {
		return Offering{}, err
	}
	if o.SpotPrice, err = num("spot_price", false); err != nil {
		return Offering{}, err
	}
	if z := field("zones"); z != "" {
		for _, zone := range strings.Split(z, ";") {
			if zone = strings.TrimSpace(zone); zone != "" {
				o.Zones = append(o.Zones, zone)
			}
		}
	}
	return o, nil
}

// formatNumber writes v without trailing zeros ("8", "0.384", "5.38327").
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
