package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// rtspMetrics count what RTSP sessions (publishers and pulled cameras)
// lose, labelled by live input.
type rtspMetrics struct {
	lost *prometheus.CounterVec
}

func newRTSP(r *prometheus.Registry) *rtspMetrics {
	lost := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_rtsp_packets_lost_total",
		Help: "RTP packets missing from RTSP sessions (sequence number gaps), by live input.",
	}, []string{"live_input"})
	r.MustRegister(lost)
	return &rtspMetrics{lost: lost}
}

// RTPPacketsLost counts RTP packets an RTSP session of liveInput missed.
func (m *Metrics) RTPPacketsLost(liveInput string, n int) {
	m.rtsp.lost.WithLabelValues(liveInput).Add(float64(n))
}

// RTSPStats is the rtsp.StatsSink of the RTSP ingest: its loss counts as
// the daemon's metrics.
type RTSPStats struct{ M *Metrics }

// UnitsDropped counts access units an RTSP session dropped after a loss.
func (s RTSPStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.M.UnitsDropped(liveInput, kind.String(), n)
}

// PacketsLost counts RTP packets an RTSP session of liveInput missed.
func (s RTSPStats) PacketsLost(liveInput string, n int) { s.M.RTPPacketsLost(liveInput, n) }
