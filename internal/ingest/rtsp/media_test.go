package rtsp

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

type lossSink struct {
	mu            sync.Mutex
	lost, dropped int
	last          ingest.RTPStats
	ended         int
}

func (l *lossSink) UnitsDropped(_ string, _ stream.Kind, n int) {
	l.mu.Lock()
	l.dropped += n
	l.mu.Unlock()
}
func (l *lossSink) PacketsLost(_ string, n int) { l.mu.Lock(); l.lost += n; l.mu.Unlock() }

func (l *lossSink) RTPSession(_ string, st ingest.RTPStats) { l.mu.Lock(); l.last = st; l.mu.Unlock() }

func (l *lossSink) RTPSessionEnded(string) { l.mu.Lock(); l.ended++; l.mu.Unlock() }

// TestCountersReportDeltas: loss reaches the metrics while a session is
// live, each packet once.
func TestCountersReportDeltas(t *testing.T) {
	var c counters
	sink := &lossSink{}
	c.lost.Add(3)
	c.unitsDropped.Add(2)
	c.report(sink, "x", false)
	c.report(sink, "x", false)
	c.lost.Add(4)
	c.packets.Add(100)
	c.report(sink, "x", true)
	if sink.lost != 7 || sink.dropped != 2 {
		t.Fatalf("reported lost %d dropped %d, want 7 and 2", sink.lost, sink.dropped)
	}
	if sink.last.PacketsReceived != 100 || sink.last.PacketsLost != 7 {
		t.Fatalf("session stats %+v", sink.last)
	}
	c.ended(sink, "x")
	if sink.ended != 1 {
		t.Fatal("the end of a live session was not reported")
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

// TestJitter: packets arriving exactly on their RTP clock have no jitter;
// a packet 10 ms late moves the estimate by 10ms/16 (RFC 3550 §A.8).
func TestJitter(t *testing.T) {
	var (
		x   jitter
		out atomic.Uint64
	)
	t0 := time.Now()
	for i := range 10 {
		x.update(&rtp.Packet{Header: rtp.Header{SSRC: 1, Timestamp: uint32(i * 3000)}}, 90000, t0.Add(time.Duration(i)*time.Second/30), &out)
	}
	if j := math.Float64frombits(out.Load()); j > 1e-6 {
		t.Fatalf("jitter %v for packets on time", j)
	}
	x.update(&rtp.Packet{Header: rtp.Header{SSRC: 1, Timestamp: 10 * 3000}}, 90000, t0.Add(10*time.Second/30+10*time.Millisecond), &out)
	if j := math.Float64frombits(out.Load()); math.Abs(j-0.010/16) > 1e-6 {
		t.Fatalf("jitter %v after a 10 ms late packet, want %v", j, 0.010/16)
	}
}
