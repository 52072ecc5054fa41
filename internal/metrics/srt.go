package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// SRTMetrics are the per-session SRT statistics (from the SRT library's
// counters), labelled by live input.
type SRTMetrics struct {
	rtt, recvBuf, bitrate                    *prometheus.GaugeVec
	received, lost, retrans, dropped, undecr *prometheus.CounterVec
	tsErrors                                 *prometheus.CounterVec
	unitsDropped                             *prometheus.CounterVec
}

func newSRT(r *prometheus.Registry) *SRTMetrics {
	g := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"live_input"})
		r.MustRegister(v)
		return v
	}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{"live_input"}, labels...))
		r.MustRegister(v)
		return v
	}
	return &SRTMetrics{
		rtt:          g("mpegflow_srt_rtt_seconds", "SRT round-trip time of the live publisher."),
		recvBuf:      g("mpegflow_srt_receive_buffer_seconds", "Media held in the SRT receive buffer."),
		bitrate:      g("mpegflow_srt_receive_bitrate_bits_per_second", "SRT receive rate including headers."),
		received:     c("mpegflow_srt_packets_received_total", "SRT data packets received."),
		lost:         c("mpegflow_srt_packets_lost_total", "SRT data packets detected lost (before retransmission)."),
		retrans:      c("mpegflow_srt_packets_retransmitted_total", "SRT data packets received as retransmissions."),
		dropped:      c("mpegflow_srt_packets_dropped_total", "SRT data packets dropped as too late or unrecoverable."),
		undecr:       c("mpegflow_srt_packets_undecrypted_total", "SRT data packets that failed to decrypt."),
		tsErrors:     c("mpegflow_ingest_ts_errors_total", "MPEG-TS errors in ingest, by reason (continuity, sync, transport_error, ...).", "reason"),
		unitsDropped: c("mpegflow_ingest_units_dropped_total", "Access units dropped after an ingest error (video until the next key frame), by kind.", "kind"),
	}
}

// SRTSample is one statistics sample of an SRT session; counters are deltas
// since the previous sample.
type SRTSample struct {
	RTTSeconds, ReceiveBufferSeconds, BitsPerSecond     float64
	Received, Lost, Retransmitted, Dropped, Undecrypted uint64
}

// SRTSession records a statistics sample of liveInput's publisher.
func (m *Metrics) SRTSession(liveInput string, s SRTSample) {
	x := m.srt
	x.rtt.WithLabelValues(liveInput).Set(s.RTTSeconds)
	x.recvBuf.WithLabelValues(liveInput).Set(s.ReceiveBufferSeconds)
	x.bitrate.WithLabelValues(liveInput).Set(s.BitsPerSecond)
	x.received.WithLabelValues(liveInput).Add(float64(s.Received))
	x.lost.WithLabelValues(liveInput).Add(float64(s.Lost))
	x.retrans.WithLabelValues(liveInput).Add(float64(s.Retransmitted))
	x.dropped.WithLabelValues(liveInput).Add(float64(s.Dropped))
	x.undecr.WithLabelValues(liveInput).Add(float64(s.Undecrypted))
}

// SRTSessionEnded forgets the gauges of liveInput's SRT session.
func (m *Metrics) SRTSessionEnded(liveInput string) {
	m.srt.rtt.DeleteLabelValues(liveInput)
	m.srt.recvBuf.DeleteLabelValues(liveInput)
	m.srt.bitrate.DeleteLabelValues(liveInput)
}

// TSErrors counts MPEG-TS errors of an ingest session.
func (m *Metrics) TSErrors(liveInput, reason string, n int) {
	m.srt.tsErrors.WithLabelValues(liveInput, reason).Add(float64(n))
}

// UnitsDropped counts access units an ingest session discarded after an
// error.
func (m *Metrics) UnitsDropped(liveInput, kind string, n int) {
	m.srt.unitsDropped.WithLabelValues(liveInput, kind).Add(float64(n))
}
