package loadtest

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestPoint(t *testing.T) {
	start := time.Unix(1000, 0)
	a := reading{at: start, rssKB: 100 * 1024, cpu: 10, wrote: 1000}
	b := reading{at: start.Add(2 * time.Second), rssKB: 150 * 1024, cpu: 11, wrote: 5000}
	p := point(start, a, b)
	if p.AtS != 2 || p.RSSMB != 150 || p.CPUPct != 50 || p.DiskWriteBps != 2000 {
		t.Fatalf("point %+v", p)
	}
	b.cpu, b.wrote, b.rssKB = -1, -1, -1
	if p := point(start, a, b); p.CPUPct != -1 || p.DiskWriteBps != -1 || p.RSSMB != -1 {
		t.Fatalf("unknown readings: %+v", p)
	}
}

func TestSampleSeriesOfSelf(t *testing.T) {
	if _, err := procIOWriteBytes(os.Getpid()); err != nil {
		t.Skipf("/proc/PID/io unreadable here: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	start := time.Now()
	s := sampleSeries(ctx, os.Getpid(), start, time.Second)
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for range 4 {
		_, _ = f.Write(buf)
	}
	_ = f.Sync()
	_ = f.Close()
	time.Sleep(2200 * time.Millisecond)
	cancel()
	pts, first, last := s.Wait()
	if len(pts) < 3 {
		t.Fatalf("%d points: %+v", len(pts), pts)
	}
	if pts[0].AtS < 0 || pts[0].CPUPct != -1 || pts[0].RSSMB <= 0 {
		t.Errorf("first point %+v", pts[0])
	}
	if first.rssKB <= 0 || last.rssKB <= 0 || !last.at.After(first.at) {
		t.Errorf("readings %+v %+v", first, last)
	}
	if last.wrote < first.wrote {
		t.Errorf("write_bytes went back: %d -> %d", first.wrote, last.wrote)
	}
}

func TestDirBytes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/a/b", 0o750); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x", "a/y", "a/b/z"} {
		if err := os.WriteFile(dir+"/"+p, make([]byte, 10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n := dirBytes(dir); n != 30 {
		t.Fatalf("dirBytes = %d", n)
	}
	if n := dirBytes(dir + "/missing"); n != 0 {
		t.Fatalf("dirBytes of a missing dir = %d", n)
	}
}
