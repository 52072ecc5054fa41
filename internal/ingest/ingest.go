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
	// Received counts one access unit (its payload bytes) of a live input.
	Received(protocol, liveInput string, kind stream.Kind, bytes int, key bool)
	// WireBytes counts bytes read from the network for a live input.
	WireBytes(protocol, liveInput string, n int)
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

var _ Metrics = NopMetrics{}

// SessionOpened implements Metrics.
func (NopMetrics) SessionOpened(string, string) {}

// SessionClosed implements Metrics.
func (NopMetrics) SessionClosed(string, string) {}

// Rejected implements Metrics.
func (NopMetrics) Rejected(string, string) {}

// Received implements Metrics.
func (NopMetrics) Received(string, string, stream.Kind, int, bool) {}

// WireBytes implements Metrics.
func (NopMetrics) WireBytes(string, string, int) {}
