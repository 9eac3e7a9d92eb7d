package taskdriver

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/plugins/drivers"

	"github.com/skynomad/skynomad/driver/proc"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc (100 on Linux).
const clockTicks = 100

// sample is the task's cumulative CPU time and its memory at one moment.
type sample struct {
	at          time.Time
	user, sys   time.Duration
	rss         uint64 // bytes
	fromCgroup  bool
	measureable bool
}

// takeSample measures the task: from its cgroup when it has one, else from
// the processes of the runner's session.
func takeSample(s TaskState) sample {
	if s.Cgroup != "" {
		if smp, ok := cgroupSample(s.Cgroup); ok {
			return smp
		}
	}
	smp := sample{at: time.Now(), measureable: true}
	procs, err := proc.List()
	if err != nil {
		return sample{at: time.Now()}
	}
	page := uint64(os.Getpagesize())
	for _, p := range procs {
		if !s.owns(p) {
			continue
		}
		smp.user += time.Duration(p.UserTicks) * time.Second / clockTicks
		smp.sys += time.Duration(p.SystemTicks) * time.Second / clockTicks
		smp.rss += p.RSSPages * page
	}
	return smp
}

// cgroupSample reads a cgroup v2 directory's memory.current and cpu.stat.
func cgroupSample(dir string) (sample, bool) {
	smp := sample{at: time.Now(), fromCgroup: true, measureable: true}
	b, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return sample{}, false
	}
	if smp.rss, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
		return sample{}, false
	}
	f, err := os.Open(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return sample{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "user_usec":
			smp.user = time.Duration(n) * time.Microsecond
		case "system_usec":
			smp.sys = time.Duration(n) * time.Microsecond
		}
	}
	return smp, true
}

// usage turns two samples into Nomad's figures: CPU as a share of one
// core over the interval, and as MHz ("ticks") of this host's cores.
func usage(prev, cur sample) *drivers.TaskResourceUsage {
	mem := &drivers.MemoryStats{Measured: []string{"RSS"}}
	cpu := &drivers.CpuStats{Measured: []string{"System Mode", "User Mode", "Percent", "Total Ticks"}}
	if cur.fromCgroup {
		mem.Usage, mem.Measured = cur.rss, []string{"RSS", "Usage"}
	}
	mem.RSS = cur.rss
	if elapsed := cur.at.Sub(prev.at); prev.measureable && elapsed > 0 {
		share := func(now, before time.Duration) float64 {
			return max(0, float64(now-before)) / float64(elapsed) * 100
		}
		cpu.UserMode = share(cur.user, prev.user)
		cpu.SystemMode = share(cur.sys, prev.sys)
		cpu.Percent = cpu.UserMode + cpu.SystemMode
		cpu.TotalTicks = cpu.Percent / 100 * cpuMHz()
	}
	return &drivers.TaskResourceUsage{
		ResourceUsage: &drivers.ResourceUsage{MemoryStats: mem, CpuStats: cpu},
		Timestamp:     cur.at.UnixNano(),
	}
}

// statsLoop sends the task's usage every interval until either context
// ends or the task has exited.
func statsLoop(ctx, pluginCtx context.Context, t *task, interval time.Duration) <-chan *drivers.TaskResourceUsage {
	ch := make(chan *drivers.TaskResourceUsage)
	if interval <= 0 {
		interval = time.Second
	}
	go func() {
		defer close(ch)
		prev := takeSample(t.state)
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-pluginCtx.Done():
				return
			case <-t.done:
				return
			case <-timer.C:
			}
			cur := takeSample(t.state)
			u := usage(prev, cur)
			prev = cur
			select {
			case ch <- u:
			case <-ctx.Done():
				return
			case <-pluginCtx.Done():
				return
			}
			timer.Reset(interval)
		}
	}()
	return ch
}

var cpuMHz = sync.OnceValue(func() float64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return mhz
		}
	}
	return 0
})
