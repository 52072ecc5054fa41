package app

import (
	"github.com/mpegflow/mpegflow/internal/ingest/srt"
	"github.com/mpegflow/mpegflow/internal/metrics"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// srtStats adapts the SRT ingest's statistics to the Prometheus metrics.
type srtStats struct{ m *metrics.Metrics }

var _ srt.StatsSink = srtStats{}

func (s srtStats) SessionStats(liveInput string, st srt.Stats) {
	s.m.SRTSession(liveInput, metrics.SRTSample{
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

func (s srtStats) TSErrors(liveInput, reason string, n int) { s.m.TSErrors(liveInput, reason, n) }

func (s srtStats) UnitsDropped(liveInput string, kind stream.Kind, n int) {
	s.m.UnitsDropped(liveInput, kind.String(), n)
}

func (s srtStats) SessionEnded(liveInput string) { s.m.SRTSessionEnded(liveInput) }
