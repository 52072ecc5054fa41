package record

import (
	"runtime"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/store"
)

// The recorder keeps nothing per segment in memory (the index is in the
// store): the live heap after 4000 more segments of one recording is what
// it was after 1000.
func TestRecorderMemoryDoesNotGrowPerSegment(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 5000 segments")
	}
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	init := make([]byte, 700)
	part := make([]byte, 4096)
	send := func(from, to uint64) {
		for msn := from; msn < to; msn++ {
			s := hls.SegmentInfo{Rendition: "source", MSN: msn, Duration: 2 * time.Second, ProgramDateTime: time.Now(),
				Init: init, Parts: [][]byte{part, part}}
			for {
				before := r.Stats().SegmentsDropped
				r.Segment("li_1", s)
				if r.Stats().SegmentsDropped == before {
					break
				}
				time.Sleep(time.Millisecond) // the queue was full: offer it again
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for r.Stats().SegmentsWritten < to {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d segments written", r.Stats().SegmentsWritten, to)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	send(0, 1000)
	h1 := heap()
	send(1000, 5000)
	h2 := heap()
	t.Logf("live heap after 1000 segments %d KiB, after 5000 %d KiB", h1>>10, h2>>10)
	// a leak of even 128 bytes a segment would add 500 KiB
	if h2 > h1+256<<10 {
		t.Fatalf("the live heap grew by %d KiB over 4000 segments", (h2-h1)>>10)
	}
	if st := r.Stats(); st.SegmentsWritten != 5000 || st.WriteErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}
