// Package rtsp is MpegFlow's RTSP ingest: a publish server for cameras,
// encoders and ffmpeg (ANNOUNCE/RECORD, RFC 2326 §10.3 and §10.11) at
// rtsp://HOST:PORT/live/STREAM_KEY over TCP (interleaved, RFC 2326 §10.12)
// and UDP, and RTSPS over TLS; and a puller that plays a camera's RTSP URL
// into a live input (pull.go).
//
// The RTSP and RTP machinery is github.com/bluenviron/gortsplib/v4; this
// package decides who may publish (the stream key in the path, the shared
// bad-key throttle, the admission hook behind the Directory), which tracks
// the stream gets (H.264 or H.265 video, AAC or Opus audio) and turns the RTP
// packets into access units in the hub (media.go).
package rtsp

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Protocol names used in metrics, logs and the sessions of the API.
const (
	ProtocolRTSP  = "rtsp"
	ProtocolRTSPS = "rtsps"
)

// Defaults of Config's zero fields.
const (
	DefaultLookupTimeout = 5 * time.Second
	DefaultStartTimeout  = 20 * time.Second
	DefaultReadTimeout   = 10 * time.Second
	// DefaultStatsInterval is how often a live session's statistics
	// reach the StatsSink.
	DefaultStatsInterval = 5 * time.Second
)

// Rejection reasons reported to ingest.Metrics.Rejected.
const (
	reasonUnknownKey  = "unknown_key"
	reasonRefused     = "refused"
	reasonBusy        = "busy"
	reasonUnavailable = "unavailable"
	reasonUnsupported = "unsupported"
	reasonProtocol    = "protocol_error"
	reasonTimeout     = "timeout"
)

// Errors that end a session.
var (
	// ErrRejected wraps the reasons a publisher was refused.
	ErrRejected = errors.New("rtsp publish rejected")

	errKicked = errors.New("publisher replaced by another or hub closing")
)

// StatsSink receives what an RTSP session counts beyond ingest.Metrics.
// Implementations must be safe for concurrent use.
type StatsSink interface {
	// UnitsDropped counts access units discarded after packet loss (video
	// until the next key frame).
	UnitsDropped(liveInput string, kind stream.Kind, n int)
	// PacketsLost counts RTP packets missing from a live input's session
	// (sequence number gaps, RFC 3550 §A.1).
	PacketsLost(liveInput string, n int)
	// RTPSession reports the statistics so far of the live session of
	// liveInput (once its stream is in the hub): every stats interval and
	// at its end.
	RTPSession(liveInput string, st ingest.RTPStats)
	// RTPSessionEnded tells that the live session of liveInput ended.
	RTPSessionEnded(liveInput string)
}

// NopStats discards statistics.
type NopStats struct{}

var _ StatsSink = NopStats{}

// UnitsDropped implements StatsSink.
func (NopStats) UnitsDropped(string, stream.Kind, int) {}

// PacketsLost implements StatsSink.
func (NopStats) PacketsLost(string, int) {}

// RTPSession implements StatsSink.
func (NopStats) RTPSession(string, ingest.RTPStats) {}

// RTPSessionEnded implements StatsSink.
func (NopStats) RTPSessionEnded(string) {}

// Config configures a publish Server. Zero durations take the defaults
// above.
type Config struct {
	// Address is the TCP address of RTSP requests and interleaved media,
	// e.g. ":8554" or "127.0.0.1:0". Required.
	Address string
	// UDPRTPAddress and UDPRTCPAddress, both set, enable the UDP transport
	// (RFC 2326 §12.39): RTP on an even port, RTCP on the next one. Not
	// used with TLSConfig.
	UDPRTPAddress, UDPRTCPAddress string
	// TLSConfig, when set, makes the server RTSPS (TCP only).
	TLSConfig *tls.Config
	// Directory resolves stream keys to live inputs; the publish admission
	// hook decorates it. Required.
	Directory auth.Directory
	// Hub receives the published streams. Required.
	Hub *stream.Hub
	// Takeover is the duplicate publisher policy: false refuses the
	// newcomer (409), true replaces the live publisher.
	Takeover bool
	// Throttle is the bad-key throttle shared with the other ingest
	// protocols. Required.
	Throttle *ingest.Throttle
	// Metrics receives ingest metrics; nil means ingest.NopMetrics{}.
	Metrics ingest.Metrics
	// Stats receives loss counts and session statistics; nil means
	// NopStats{}.
	Stats StatsSink
	// StatsInterval is how often a live session's statistics reach Stats.
	// Default 5 s.
	StatsInterval time.Duration
	// Audio, when set, transcodes G.711 audio to AAC; nil drops it.
	Audio *AudioTranscode
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	// LookupTimeout bounds the stream key lookup (with the admission
	// hook). Default 5 s.
	LookupTimeout time.Duration
	// StartTimeout closes a session whose stream has not started (no key
	// frame) this long after ANNOUNCE. Default 20 s.
	StartTimeout time.Duration
	// ReadTimeout closes a recording TCP connection silent for this long.
	// Default 10 s.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection that has not started recording and
	// sends nothing for this long. Default 30 s.
	IdleTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Metrics == nil {
		c.Metrics = ingest.NopMetrics{}
	}
	if c.Stats == nil {
		c.Stats = NopStats{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.LookupTimeout, DefaultLookupTimeout)
	def(&c.StartTimeout, DefaultStartTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.StatsInterval, DefaultStatsInterval)
}
