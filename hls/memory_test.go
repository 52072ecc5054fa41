package hls

import (
	"runtime"
	"testing"
	"time"
)

// memSpec is a synthetic live stream like the load tool's: 720p30 H.264 at
// about 2.37 Mb/s with a 2 s GOP (keyframes 5x the size of other frames) plus
// 128 kb/s AAC at 48 kHz, about 2.5 Mb/s in all.
const (
	memVideoRate = 2_370_000 // bits/s
	memAudioRate = 128_000
	memFPS       = 30
	memGOP       = 60 // frames
)

// feedLive writes d of that stream to r as fast as possible.
func feedLive(tb testing.TB, r *Rendition, d time.Duration) {
	tb.Helper()
	perGOP := memVideoRate / 8 * memGOP / memFPS // bytes
	delta := perGOP / (memGOP - 1 + 5)
	key := 5 * delta
	keyNALU := make([]byte, key)
	keyNALU[0] = 0x65
	deltaNALU := make([]byte, delta)
	deltaNALU[0] = 0x41
	params := testH264(tb)
	keyAU := [][]byte{params.SPS, params.PPS, keyNALU}
	deltaAU := [][]byte{deltaNALU}
	aDur := time.Second * 1024 / 48000
	frame := make([]byte, memAudioRate/8*1024/48000)
	fd := time.Second / memFPS
	var vi, ai int
	for {
		vt := time.Duration(vi) * fd
		at := time.Duration(ai) * aDur
		if min(vt, at) >= d {
			return
		}
		if vt <= at {
			u := VideoUnit{DTS: vt, PTS: vt, Wall: testWall.Add(vt), Key: vi%memGOP == 0, NALUs: deltaAU}
			if u.Key {
				u.NALUs = keyAU
			}
			if err := r.WriteVideo(u); err != nil {
				tb.Fatal(err)
			}
			vi++
		} else {
			if err := r.WriteAudio(AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: frame}); err != nil {
				tb.Fatal(err)
			}
			ai++
		}
	}
}

// waitStored waits until the storage worker has written every complete
// segment of r (the feed runs far faster than real time).
func waitStored(tb testing.TB, m *Muxer, r *Rendition) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m.mu.Lock()
		done := len(m.storeQ) == 0
		for _, s := range r.segments {
			if s.complete && !s.stored {
				done = false
			}
		}
		m.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("storage worker did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamHeap feeds d of a 2.5 Mb/s stream into a new muxer and returns the
// heap it holds then (runtime.MemStats.HeapInuse after a GC, minus before).
func streamHeap(tb testing.TB, cfg MuxerConfig, d time.Duration) (heap int64, segs int) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := NewMuxer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	r, err := m.AddRendition(RenditionConfig{Name: "source", Video: testH264(tb), Audio: testAAC()})
	if err != nil {
		tb.Fatal(err)
	}
	feedLive(tb, r, d)
	if cfg.Storage != nil {
		waitStored(tb, m, r)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	m.mu.Lock()
	segs = len(r.segments)
	m.mu.Unlock()
	runtime.KeepAlive(m)
	return int64(after.HeapInuse) - int64(before.HeapInuse), segs
}

// TestStreamMemory checks the heap a live stream holds after 3 minutes (and
// one second, half a segment in progress) of
// 2.5 Mb/s media with the default 10 s target duration (a 68 s playlist
// window): with a spill directory only the segment in progress stays in
// memory.
func TestStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds 3 minutes of media")
	}
	ds, err := NewDiskStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	disk, segs := streamHeap(t, MuxerConfig{Storage: ds}, 3*time.Minute+time.Second)
	mem, _ := streamHeap(t, MuxerConfig{}, 3*time.Minute+time.Second)
	t.Logf("heap per 2.5 Mb/s stream after 3 min: %.2f MB in memory, %.2f MB with a spill directory (%d segments listed)",
		float64(mem)/1e6, float64(disk)/1e6, segs)
	if disk > 6e6 {
		t.Errorf("heap per stream with a spill directory: %.2f MB, want at most 6 MB", float64(disk)/1e6)
	}
}

// BenchmarkStreamMemory reports the heap one 2.5 Mb/s live stream holds
// after 3 minutes of media fed as fast as possible (heap-MB/stream), in
// memory and with a spill directory (DiskStorage).
func BenchmarkStreamMemory(b *testing.B) {
	for _, tc := range []struct {
		name  string
		spill bool
	}{{"memory", false}, {"spill", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var sum int64
			for i := 0; i < b.N; i++ {
				cfg := MuxerConfig{}
				if tc.spill {
					ds, err := NewDiskStorage(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					cfg.Storage = ds
				}
				h, _ := streamHeap(b, cfg, 3*time.Minute+time.Second)
				sum += h
			}
			b.ReportMetric(float64(sum)/float64(b.N)/1e6, "heap-MB/stream")
		})
	}
}
