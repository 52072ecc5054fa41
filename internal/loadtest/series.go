package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SeriesPoint is one reading of the daemon over the measured period, taken
// every Config.SampleEvery: its resident memory, and its CPU and disk
// writes over the interval that ended there.
type SeriesPoint struct {
	AtS          float64 `json:"t_s"`    // seconds into the measured period
	RSSMB        float64 `json:"rss_mb"` // VmRSS of the daemon
	CPUPct       float64 `json:"cpu_pct_one_core"`
	DiskWriteBps float64 `json:"disk_write_bytes_per_s"` // write_bytes of /proc/PID/io
}

// procIOWriteBytes returns write_bytes of /proc/PID/io (proc(5)): the bytes
// the process caused to be sent to the storage layer (page cache writes
// are counted when dirtied). Readable for one's own processes.
func procIOWriteBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("open io: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if ok && name == "write_bytes" {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read io: %w", err)
	}
	return 0, fmt.Errorf("io of %d: no write_bytes", pid)
}

// reading is one raw sample of the daemon.
type reading struct {
	at    time.Time
	rssKB int64   // -1 unknown
	cpu   float64 // seconds; -1 unknown
	wrote int64   // bytes; -1 unknown
}

func readDaemon(pid int) reading {
	r := reading{at: time.Now(), rssKB: -1, cpu: -1, wrote: -1}
	if kb, err := procStatusKB(pid, "VmRSS"); err == nil {
		r.rssKB = kb
	}
	if v, err := procCPUSeconds(pid); err == nil {
		r.cpu = v
	}
	if v, err := procIOWriteBytes(pid); err == nil {
		r.wrote = v
	}
	return r
}

// point turns two readings into a SeriesPoint at b.
func point(start time.Time, a, b reading) SeriesPoint {
	p := SeriesPoint{AtS: round1(b.at.Sub(start).Seconds()), RSSMB: -1, CPUPct: -1, DiskWriteBps: -1}
	if b.rssKB >= 0 {
		p.RSSMB = round1(float64(b.rssKB) / 1024)
	}
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return p
	}
	if a.cpu >= 0 && b.cpu >= 0 {
		p.CPUPct = round1((b.cpu - a.cpu) / secs * 100)
	}
	if a.wrote >= 0 && b.wrote >= 0 {
		p.DiskWriteBps = math.Round(float64(b.wrote-a.wrote) / secs)
	}
	return p
}

// series samples the daemon pid every interval from start until ctx ends,
// then once more; Wait returns the points (the first at start, whose CPU
// and disk figures cover nothing and are -1) and the first and last
// readings.
type series struct {
	wg          sync.WaitGroup
	points      []SeriesPoint
	first, last reading
}

func sampleSeries(ctx context.Context, pid int, start time.Time, every time.Duration) *series {
	s := &series{}
	s.wg.Go(func() {
		prev := readDaemon(pid)
		s.first = prev
		p := point(start, prev, prev)
		p.CPUPct, p.DiskWriteBps = -1, -1
		s.points = append(s.points, p)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				cur := readDaemon(pid)
				if cur.at.Sub(prev.at) >= time.Second {
					s.points = append(s.points, point(start, prev, cur))
				}
				s.last = cur
				return
			case <-t.C:
			}
			cur := readDaemon(pid)
			s.points = append(s.points, point(start, prev, cur))
			prev = cur
		}
	})
	return s
}

func (s *series) Wait() ([]SeriesPoint, reading, reading) {
	s.wg.Wait()
	return s.points, s.first, s.last
}

// dirBytes is the size of the regular files under dir (0 when absent).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
