// Package ingest holds what the ingest protocols (rtmp, srt, whip) share:
// the metrics they report and the one throttle of failed publish attempts.
package ingest

import (
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// Metrics receives what ingest sessions report. Implementations must be safe
// for concurrent use and cheap; label values are protocol names, live input
// ids and fixed reason strings, never peer addresses or keys.
type Metrics interface {
	// SessionOpened counts a publishing session that was admitted.
	SessionOpened(protocol, liveInput string)
	// SessionClosed counts the end of an admitted session.
	SessionClosed(protocol, liveInput string)
	// Rejected counts a refused connection; reason is a fixed word such as
	// "unknown_key", "bad_passphrase", "busy", "protocol_error".
	Rejected(protocol, reason string)
	// Input returns the counters of one publishing session of liveInput,
	// resolved once: a session calls it when it knows its live input and
	// keeps the result, so that the per-read and per-access-unit paths do
	// no label lookups.
	Input(protocol, liveInput string) InputMetrics
}

// InputMetrics counts the traffic of one publishing session. It must be
// safe for concurrent use (a session may read media on more than one
// goroutine) and cheap: it is called on every network read and access unit.
type InputMetrics interface {
	// Received counts one access unit (its payload bytes).
	Received(kind stream.Kind, bytes int, key bool)
	// WireBytes counts bytes read from the network.
	WireBytes(n int)
}

// RTPStats are the receive statistics of an RTP session (an RTSP
// publisher or pulled camera) so far.
type RTPStats struct {
	PacketsReceived uint64 // RTP packets received
	PacketsLost     uint64 // RTP packets missing (sequence number gaps, RFC 3550 §A.3)
	// VideoJitter and AudioJitter are the interarrival jitter of the
	// video and audio track (RFC 3550 §6.4.1, computed as in §A.8); 0
	// without such a track.
	VideoJitter, AudioJitter time.Duration
	// BitsPerSecond is the RTP payload rate over the last report interval.
	BitsPerSecond float64
}

// NopMetrics discards everything.
type NopMetrics struct{}

var (
	_ Metrics      = NopMetrics{}
	_ InputMetrics = NopMetrics{}
)

// SessionOpened implements Metrics.
func (NopMetrics) SessionOpened(string, string) {}

// SessionClosed implements Metrics.
func (NopMetrics) SessionClosed(string, string) {}

// Rejected implements Metrics.
func (NopMetrics) Rejected(string, string) {}

// Input implements Metrics.
func (NopMetrics) Input(string, string) InputMetrics { return NopMetrics{} }

// Received implements InputMetrics.
func (NopMetrics) Received(stream.Kind, int, bool) {}

// WireBytes implements InputMetrics.
func (NopMetrics) WireBytes(int) {}
