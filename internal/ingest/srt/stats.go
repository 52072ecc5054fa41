package srt

import (
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// Stats is one sample of an SRT publishing session's statistics, taken from
// the SRT connection (libsrt docs/API/statistics.md, which gosrt follows).
//
// Gauges describe the moment of the sample. Counters are deltas since the
// previous sample of the same session (the first sample counts from the
// start of the session), so that a sink adds them to monotonic counters
// that survive reconnects.
type Stats struct {
	// RTT is the smoothed round-trip time to the publisher (msRTT). Gauge.
	RTT time.Duration
	// ReceiveBuffer is the time span of the packets held in the receive
	// buffer waiting for their TSBPD delivery time (msRcvBuf). Gauge.
	ReceiveBuffer time.Duration
	// Latency is the negotiated receiver TSBPD latency (msRcvTsbPdDelay).
	// Gauge.
	Latency time.Duration
	// Bitrate is the received bitrate over the sample interval, in bits per
	// second, SRT and UDP headers included (byteRecv). Gauge.
	Bitrate float64

	// PacketsReceived counts received data packets, retransmissions
	// included (pktRecv). Delta.
	PacketsReceived uint64
	// PacketsLost counts data packets detected missing, from gaps in the
	// sequence numbers (pktRcvLoss); most are recovered by retransmission.
	// Delta.
	PacketsLost uint64
	// PacketsRetransmitted counts retransmitted data packets received
	// (pktRcvRetrans). Delta.
	PacketsRetransmitted uint64
	// PacketsDropped counts data packets given up as too late and never
	// delivered (pktRcvDrop): these are the losses the stream sees. Delta.
	PacketsDropped uint64
	// PacketsUndecrypted counts packets that failed to decrypt
	// (pktRcvUndecrypt). Delta.
	PacketsUndecrypted uint64
}

// StatsSink receives per-session SRT statistics and the MPEG-TS error
// counts of SRT publishers. The application implements it with Prometheus
// metrics labelled by live input. Implementations must be safe for
// concurrent use and cheap: TSErrors and UnitsDropped are called from a
// session's data path as errors happen.
type StatsSink interface {
	// SessionStats reports a sample of an SRT session of liveInput, every
	// Config.StatsInterval and once more when the session ends.
	SessionStats(liveInput string, s Stats)
	// TSErrors counts n MPEG-TS errors of liveInput's stream. reason is a
	// fixed word: "continuity" (continuity_counter gap: TS packets lost,
	// ISO/IEC 13818-1 §2.4.3.3), "sync" (bytes skipped to find a sync
	// byte), "transport_error" (transport_error_indicator or a malformed
	// packet header), "scrambled", "psi" (bad PAT/PMT section), "pes"
	// (malformed, oversized or untimed PES packet) or "es" (malformed
	// H.264/H.265/ADTS/Opus data).
	TSErrors(liveInput, reason string, n int)
	// UnitsDropped counts n units of kind that liveInput's stream lost
	// after an error: the unit hit and, on video, every unit until the next
	// key frame.
	UnitsDropped(liveInput string, kind stream.Kind, n int)
	// SessionEnded says liveInput's SRT session is over; the sink may
	// remove its gauges.
	SessionEnded(liveInput string)
}

// NopStats discards everything.
type NopStats struct{}

var _ StatsSink = NopStats{}

// SessionStats implements StatsSink.
func (NopStats) SessionStats(string, Stats) {}

// TSErrors implements StatsSink.
func (NopStats) TSErrors(string, string, int) {}

// UnitsDropped implements StatsSink.
func (NopStats) UnitsDropped(string, stream.Kind, int) {}

// SessionEnded implements StatsSink.
func (NopStats) SessionEnded(string) {}

// statsSampler turns gosrt's accumulated statistics into Stats deltas.
type statsSampler struct {
	st     gosrt.Statistics
	prev   gosrt.StatisticsAccumulated
	prevAt time.Time
}

// sample reads the connection's statistics at now.
func (s *statsSampler) sample(c gosrt.Conn, now time.Time) Stats {
	c.Stats(&s.st)
	a, p, in := s.st.Accumulated, s.prev, s.st.Instantaneous
	delta := func(cur, prev uint64) uint64 {
		if cur < prev {
			return 0
		}
		return cur - prev
	}
	out := Stats{
		RTT:                  time.Duration(in.MsRTT * float64(time.Millisecond)),
		ReceiveBuffer:        time.Duration(in.MsRecvBuf) * time.Millisecond,
		Latency:              time.Duration(in.MsRecvTsbPdDelay) * time.Millisecond,
		PacketsReceived:      delta(a.PktRecv, p.PktRecv),
		PacketsLost:          delta(a.PktRecvLoss, p.PktRecvLoss),
		PacketsRetransmitted: delta(a.PktRecvRetrans, p.PktRecvRetrans),
		PacketsDropped:       delta(a.PktRecvDrop, p.PktRecvDrop),
		PacketsUndecrypted:   delta(a.PktRecvUndecrypt, p.PktRecvUndecrypt),
	}
	if el := now.Sub(s.prevAt); !s.prevAt.IsZero() && el > 0 {
		out.Bitrate = float64(delta(a.ByteRecv, p.ByteRecv)*8) / el.Seconds()
	}
	s.prev, s.prevAt = a, now
	return out
}
