package metrics

import (
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// SRTStats adapts the SRT ingest's statistics to the Prometheus metrics.
type SRTStats struct{ M *Metrics }

var _ srt.StatsSink = SRTStats{}

// SessionStats implements srt.StatsSink.
func (s SRTStats) SessionStats(liveInput string, st srt.Stats) {
	s.M.SRTSession(liveInput, SRTSample{
		RTTSeconds:           st.RTT.Seconds(),
		ReceiveBufferSeconds: st.ReceiveBuffer.Seconds(),
		BitsPerSecond:        st.Bitrate,
		Received:             st.PacketsReceived,
		Lost:                 st.PacketsLost,
		Retransmitted:        st.PacketsRetransmitted,
		Dropped:              st.PacketsDropped,
		Undecrypted:          st.PacketsUndecrypted,
	})
}

// TSErrors implements srt.StatsSink.
func (s SRTStats) TSErrors(liveInput, reason string, n int) { s.M.TSErrors(liveInput, reason, n) }

// UnitsDropped implements srt.StatsSink.
func (s SRTStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.M.UnitsDropped(liveInput, kind.String(), n)
}

// SessionEnded implements srt.StatsSink.
func (s SRTStats) SessionEnded(liveInput string) { s.M.SRTSessionEnded(liveInput) }
