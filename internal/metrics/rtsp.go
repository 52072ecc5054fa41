package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// rtspMetrics are the RTP receive statistics of RTSP sessions (publishers
// and pulled cameras), labelled by live input (and kind for the jitter),
// and the last sample of each live session for the API.
type rtspMetrics struct {
	lost, received *prometheus.CounterVec
	jitter         *prometheus.GaugeVec
	bitrate        *prometheus.GaugeVec

	mu   sync.Mutex
	last map[string]ingest.RTPStats // live input → the live session's last sample
}

func newRTSP(r *prometheus.Registry) *rtspMetrics {
	x := &rtspMetrics{
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_rtsp_packets_lost_total",
			Help: "RTP packets missing from RTSP sessions (sequence number gaps), by live input.",
		}, []string{"live_input"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_rtsp_packets_received_total",
			Help: "RTP packets received by live RTSP sessions, by live input.",
		}, []string{"live_input"}),
		jitter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_rtsp_jitter_seconds",
			Help: "RTP interarrival jitter (RFC 3550 §6.4.1) of the live RTSP session, by live input and kind (video|audio).",
		}, []string{"live_input", "kind"}),
		bitrate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_rtsp_receive_bitrate_bits_per_second",
			Help: "RTP payload rate of the live RTSP session over the last interval, by live input.",
		}, []string{"live_input"}),
		last: map[string]ingest.RTPStats{},
	}
	r.MustRegister(x.lost, x.received, x.jitter, x.bitrate)
	return x
}

// RTPPacketsLost counts RTP packets an RTSP session of liveInput missed.
func (m *Metrics) RTPPacketsLost(liveInput string, n int) {
	m.rtsp.lost.WithLabelValues(liveInput).Add(float64(n))
}

// RTPSession records a sample of the live RTSP session of liveInput
// (totals so far).
func (m *Metrics) RTPSession(liveInput string, st ingest.RTPStats) {
	x := m.rtsp
	x.mu.Lock()
	prev, had := x.last[liveInput]
	x.last[liveInput] = st
	x.mu.Unlock()
	delta := st.PacketsReceived
	if had && prev.PacketsReceived <= st.PacketsReceived {
		delta -= prev.PacketsReceived
	}
	x.received.WithLabelValues(liveInput).Add(float64(delta))
	x.jitter.WithLabelValues(liveInput, stream.KindVideo.String()).Set(st.VideoJitter.Seconds())
	x.jitter.WithLabelValues(liveInput, stream.KindAudio.String()).Set(st.AudioJitter.Seconds())
	x.bitrate.WithLabelValues(liveInput).Set(st.BitsPerSecond)
}

// RTPSessionEnded forgets the gauges and last sample of liveInput's RTSP
// session.
func (m *Metrics) RTPSessionEnded(liveInput string) {
	x := m.rtsp
	x.mu.Lock()
	delete(x.last, liveInput)
	x.mu.Unlock()
	x.jitter.DeleteLabelValues(liveInput, stream.KindVideo.String())
	x.jitter.DeleteLabelValues(liveInput, stream.KindAudio.String())
	x.bitrate.DeleteLabelValues(liveInput)
}

// RTPStats returns the last sample of the live RTSP session of liveInput.
func (m *Metrics) RTPStats(liveInput string) (ingest.RTPStats, bool) {
	x := m.rtsp
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.last[liveInput]
	return st, ok
}

// RTSPStats is the rtsp.StatsSink of the RTSP ingest: its loss counts and
// session statistics as the daemon's metrics.
type RTSPStats struct{ M *Metrics }

// UnitsDropped counts access units an RTSP session dropped after a loss.
func (s RTSPStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.M.UnitsDropped(liveInput, kind.String(), n)
}

// PacketsLost counts RTP packets an RTSP session of liveInput missed.
func (s RTSPStats) PacketsLost(liveInput string, n int) { s.M.RTPPacketsLost(liveInput, n) }

// RTPSession records a sample of a live RTSP session.
func (s RTSPStats) RTPSession(liveInput string, st ingest.RTPStats) { s.M.RTPSession(liveInput, st) }

// RTPSessionEnded forgets a live RTSP session's gauges.
func (s RTSPStats) RTPSessionEnded(liveInput string) { s.M.RTPSessionEnded(liveInput) }
