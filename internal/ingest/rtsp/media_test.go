package rtsp

import (
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

type lossSink struct {
	mu            sync.Mutex
	lost, dropped int
}

func (l *lossSink) UnitsDropped(_ string, _ stream.Kind, n int) {
	l.mu.Lock()
	l.dropped += n
	l.mu.Unlock()
}
func (l *lossSink) PacketsLost(_ string, n int) { l.mu.Lock(); l.lost += n; l.mu.Unlock() }

// TestCountersReportDeltas: loss reaches the metrics while a session is
// live, each packet once.
func TestCountersReportDeltas(t *testing.T) {
	var c counters
	sink := &lossSink{}
	c.lost.Add(3)
	c.unitsDropped.Add(2)
	c.report(sink, "x")
	c.report(sink, "x")
	c.lost.Add(4)
	c.report(sink, "x")
	if sink.lost != 7 || sink.dropped != 2 {
		t.Fatalf("reported lost %d dropped %d, want 7 and 2", sink.lost, sink.dropped)
	}
}

func TestSeqState(t *testing.T) {
	var s seqState
	for _, tc := range []struct {
		seq  uint16
		want int
	}{{65534, 0}, {65535, 0}, {0, 0}, {3, 2}, {2, -1}, {3, -1}, {4, 0}} {
		if got := s.next(tc.seq); got != tc.want {
			t.Errorf("next(%d) = %d, want %d", tc.seq, got, tc.want)
		}
	}
}
