package rtsp

import (
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestPullStatsUDP: a camera served over UDP that loses every 40th packet
// gives a session with packets received and lost, jitter and a bitrate,
// in the StatsSink and in the Prometheus metrics; the gauges go when the
// session ends.
func TestPullStatsUDP(t *testing.T) {
	base0 := runtime.NumGoroutine()
	cam, err := rtsptest.StartUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	cam.DropEvery = 40
	feedCamera(t, cam, 30)
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	m := metrics.New("test")
	sink := &lossSink{}
	ps, err := NewPullers(PullConfig{Hub: hub, Stats: teeStats{sink, metrics.RTSPStats{M: m}}, StatsInterval: 200 * time.Millisecond,
		MinBackoff: 100 * time.Millisecond, ReadTimeout: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.Set(auth.LiveInput{ID: "cam"}, Source{URL: cam.URL("", ""), Transport: TransportUDP}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "packets lost, jitter and bitrate", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		st := sink.last
		return st.PacketsReceived > 200 && st.PacketsLost > 0 && st.VideoJitter > 0 && st.AudioJitter > 0 && st.BitsPerSecond > 10_000
	})
	sink.mu.Lock()
	st := sink.last
	sink.mu.Unlock()
	t.Logf("session stats: %+v", st)
	if lost := st.PacketsLost; lost*25 < st.PacketsReceived/40 || lost > st.PacketsReceived/10 {
		t.Errorf("lost %d of %d received, want about 1 in 40", lost, st.PacketsReceived)
	}
	if got, ok := m.RTPStats("cam"); !ok || got.PacketsReceived == 0 {
		t.Errorf("metrics RTPStats = %+v, %v", got, ok)
	}
	if v := gathered(t, m, "mpegflow_rtsp_packets_lost_total"); v <= 0 {
		t.Errorf("mpegflow_rtsp_packets_lost_total = %v", v)
	}
	ps.Remove("cam")
	if _, ok := m.RTPStats("cam"); ok {
		t.Error("the session's stats outlive it")
	}
	if n := gathered(t, m, "mpegflow_rtsp_jitter_seconds"); n != 0 {
		t.Errorf("jitter series after the session ended (sum %v)", n)
	}
	ps.Close()
	hub.Close()
	cam.Close()
	goroutinesSettle(t, base0+2) // the ffmpeg waiters of exec
}

// teeStats passes everything to two sinks.
type teeStats [2]StatsSink

func (s teeStats) UnitsDropped(li string, k stream.Kind, n int) {
	s[0].UnitsDropped(li, k, n)
	s[1].UnitsDropped(li, k, n)
}
func (s teeStats) PacketsLost(li string, n int) { s[0].PacketsLost(li, n); s[1].PacketsLost(li, n) }
func (s teeStats) RTPSession(li string, st ingest.RTPStats) {
	s[0].RTPSession(li, st)
	s[1].RTPSession(li, st)
}
func (s teeStats) RTPSessionEnded(li string) { s[0].RTPSessionEnded(li); s[1].RTPSessionEnded(li) }

// gathered sums the series of a metric family (-1 when it has none).
func gathered(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		v := 0.0
		for _, x := range mf.GetMetric() {
			v += x.GetCounter().GetValue() + x.GetGauge().GetValue()
		}
		return v
	}
	return 0
}
