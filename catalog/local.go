package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Names of the local offering's cloud, region and instance type.
const (
	LocalCloud = "local"
	localName  = "local"
)

// Local describes this host as an offering: cloud, region and instance type
// "local", runtime.NumCPU() vCPUs, MemTotal from /proc/meminfo, no GPU,
// price 0. Plan treats it as shared (any request up to its size fits) and
// as spot-capable: the local engine's fault injection preempts it.
func Local() (Offering, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return Offering{}, fmt.Errorf("local host memory: %w", err)
	}
	defer f.Close()
	return LocalFrom(runtime.NumCPU(), f)
}

// LocalFrom builds the local offering from a CPU count and the text of
// /proc/meminfo (its MemTotal line, in kB). Memory is reported in GiB,
// rounded to one decimal.
func LocalFrom(numCPU int, meminfo io.Reader) (Offering, error) {
	if numCPU < 1 {
		return Offering{}, fmt.Errorf("local host: %d CPUs", numCPU)
	}
	kb, err := memTotalKB(meminfo)
	if err != nil {
		return Offering{}, fmt.Errorf("local host memory: %w", err)
	}
	gib := math.Round(kb/(1024*1024)*10) / 10
	return Offering{
		Cloud:        LocalCloud,
		Region:       localName,
		InstanceType: localName,
		VCPUs:        float64(numCPU),
		MemoryGB:     gib,
	}, nil
}

func memTotalKB(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, errors.New("MemTotal has no value")
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("MemTotal %q is not a positive number", fields[0])
		}
		if len(fields) > 1 && !strings.EqualFold(fields[1], "kB") {
			return 0, fmt.Errorf("MemTotal unit %q, want kB", fields[1])
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no MemTotal line")
}
