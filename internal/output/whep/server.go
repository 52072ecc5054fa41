// Package whep is MpegFlow's WebRTC playback (WHEP, draft-ietf-wish-whep):
// a player POSTs an SDP offer to /whep/{live input id} and receives the
// live input's stream over WebRTC, whatever protocol it came in on, as
// long as its codecs pass through (H.264 without B-frames, H.265, VP8,
// Opus). A source with B-frames, which WebRTC cannot carry, is served
// from its top transcoded rung (no B-frames) when its live input is
// transcoded.
//
// Fan-out is built for many viewers: one hub Reader and one RTP
// packetization per track per stream (a feed), shared read-only by every
// session; each session has its own bounded queue and sequence numbers, so a
// slow viewer drops to the next key frame without holding up the others
// and without the gap looking like loss. NACKs are answered by pion's NACK
// responder and RTCP sender reports come from pion's report interceptor;
// PLI/FIR from viewers are rate-limited into one key-frame request
// upstream. ICE is the daemon's shared transport (internal/webrtcice).
package whep

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Defaults of Config.
const (
	DefaultConnectTimeout = 15 * time.Second
	DefaultQueueSize      = 128
	DefaultMaxSessions    = 2000
	DefaultCORSOrigin     = "*"
	DefaultStandinWait    = 10 * time.Second
)

// Inputs resolves live input ids (auth.ErrNotFound when absent).
type Inputs interface {
	ByID(ctx context.Context, id string) (auth.LiveInput, error)
}

// Gate authorizes a playback request the way LL-HLS does (signed
// playback, allowed origins, access rules, the play admission hook).
// idOrToken is the path element after /whep/; a bearer token of the
// request has been moved to ?token= before the call. On refusal the gate
// has written the response and ok is false.
type Gate interface {
	Authorize(w http.ResponseWriter, r *http.Request, idOrToken string) (id string, ok bool)
}

// KeyframeRequester asks the publisher of a live input for a key frame
// (the WHIP ingest sends a PLI); it reports whether one was asked.
type KeyframeRequester interface {
	RequestKeyframe(liveInput string) bool
}

// Standins finds the rendition that stands in for a live stream's video
// when WebRTC cannot carry it as it is (H.264 with B-frames): the top rung
// of its transcode ladder.
type Standins interface {
	// Standin returns the rendition name (Hub.Rendition) of src's top rung
	// once the ladder is planned, or an error saying why there is none and
	// what to change; its text is shown to the player.
	Standin(ctx context.Context, src *stream.Stream) (string, error)
}

// Config configures a Server.
type Config struct {
	// ICE is the shared ICE transport. Required.
	ICE *webrtcice.Mux
	// Hub is where the live streams are. Required.
	Hub *stream.Hub
	// Inputs tells an unknown live input (404) from one not live (409).
	// Required.
	Inputs Inputs
	// Gate authorizes each POST; nil lets every request through.
	Gate Gate
	// Keyframes, when set, receives the rate-limited key-frame requests
	// of new viewers and of viewers' PLI/FIR.
	Keyframes KeyframeRequester
	// Standins, when set, serves viewers of a source with B-frames from a
	// transcoded rung; nil refuses them (409 source_has_bframes).
	Standins Standins
	// StandinWait bounds how long an offer waits for the stand-in rung to
	// be planned and published. Default 10 s.
	StandinWait time.Duration
	// FFmpegPath is the ffmpeg that turns a stream's AAC into Opus, once
	// per stream for all its viewers; "" sends such streams video only.
	FFmpegPath string
	// Capacity is the daemon's ffmpeg account (the transcode is a live
	// job of ffmpeg.AudioUnits; no room: video only). nil: not counted.
	Capacity *ffmpeg.Account
	// ConnectTimeout is how long a session may take from the answer to
	// ICE and DTLS connected before it is reaped. Default 15 s.
	ConnectTimeout time.Duration
	// QueueSize is each viewer's queue, in frames. Default 128.
	QueueSize int
	// JoinMaxAge is how old the last key frame of a stream that cannot be
	// asked for one (RTMP, SRT, a transcoded rung) may be for a new viewer
	// to start at it, sent the frames since then at once, rather than wait
	// for the next (see join.go). Default DefaultJoinMaxAge (1 s); a
	// negative value turns it off.
	JoinMaxAge time.Duration
	// MaxSessions bounds the sessions of the server (503 past it).
	// Default 2000.
	MaxSessions int
	// CORSOrigin is the Access-Control-Allow-Origin of responses. Default "*".
	CORSOrigin string
	// Registerer receives the WHEP metrics; nil: a private registry.
	Registerer prometheus.Registerer
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Demand, when set, is told of every offer before the stream is
	// looked up, so that a source that runs only while watched starts (the
	// offer waits for it) and runs while the session lasts.
	Demand Demand
}

// Demand starts and keeps running the sources that run only while
// watched (hlsout.Demand has the same shape).
type Demand interface {
	// Demand marks live input id as watched and waits for a starting
	// source's stream; release (nil for inputs without such a source)
	// ends the hold.
	Demand(ctx context.Context, liveInputID string) (release func(), err error)
}

// demandRetryAfter is the Retry-After of a 503 for a source that did not
// start in time (RFC 9110 §10.2.3).
const demandRetryAfter = "5"

// Server is the WHEP endpoint: Handler on the HTTP side, sessions on the
// shared ICE transport.
type Server struct {
	cfg Config
	log *slog.Logger
	met *serverMetrics

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	feeds    map[*stream.Stream]*feed
	sessions map[string]*session
	wg       sync.WaitGroup // feeds and sessions
	once     sync.Once
}

// New validates cfg and registers the metrics.
func New(cfg Config) (*Server, error) {
	if cfg.ICE == nil || cfg.Hub == nil || cfg.Inputs == nil {
		return nil, errors.New("whep: config: ICE, Hub and Inputs are required")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.StandinWait <= 0 {
		cfg.StandinWait = DefaultStandinWait
	}
	if cfg.JoinMaxAge == 0 {
		cfg.JoinMaxAge = DefaultJoinMaxAge
	}
	if cfg.CORSOrigin == "" {
		cfg.CORSOrigin = DefaultCORSOrigin
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, log: cfg.Logger.With("protocol", "whep"), met: met,
		ctx: ctx, cancel: cancel,
		feeds: map[*stream.Stream]*feed{}, sessions: map[string]*session{},
	}, nil
}

// Handler serves the WHEP resources: POST /whep/{id} creates a session,
// DELETE /whep/{id}/{session} ends it, PATCH is answered 405, OPTIONS
// answers CORS preflights. Mount it at "/whep/" without stripping.
func (s *Server) Handler() http.Handler {
	return &webrtcice.Resources{Prefix: "/whep/", Name: "WHEP", CORSOrigin: s.cfg.CORSOrigin, SessionMethods: "DELETE, OPTIONS",
		Error: writeError, Post: s.post, Delete: s.delete, Patch: s.patch}
}

// Viewers is the number of connected WHEP sessions of a live input, on
// its source and on its renditions.
func (s *Server) Viewers(liveInput string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for st, f := range s.feeds {
		if src := st.Source(); st.ID() == liveInput || src != nil && src.ID() == liveInput {
			n += f.viewers()
		}
	}
	return n
}

// Close ends every session and feed and waits for their goroutines;
// idempotent. The ICE transport is the caller's.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// feedOf returns the feed of st, starting it on first use.
func (s *Server) feedOf(st *stream.Stream) (*feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errServerClosed
	}
	if f := s.feeds[st]; f != nil {
		return f, nil
	}
	f := newFeed(s, st)
	s.feeds[st] = f
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f.run(s.ctx)
		s.mu.Lock()
		if s.feeds[st] == f {
			delete(s.feeds, st)
		}
		s.mu.Unlock()
	}()
	return f, nil
}

// add registers ss unless the server is closed or full.
func (s *Server) add(ss *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errServerClosed
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		return errFull
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1)
	return nil
}

func (s *Server) remove(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
}

func (s *Server) lookup(liveID, sid string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[sid]
	if ss == nil || ss.liveID != liveID {
		return nil
	}
	return ss
}

// Errors that end or refuse sessions.
var (
	errServerClosed = errors.New("whep server closed")
	errFull         = errors.New("too many whep sessions")
	errStreamEnded  = errors.New("the stream ended")
	errBFrames      = errors.New("the source has B-frames")
	errDeleted      = errors.New("deleted by the player")
	errNeverUp      = errors.New("ice and dtls never connected")
	errPeerGone     = errors.New("peer connection failed or closed")
)

type serverMetrics struct {
	viewers     prometheus.Gauge
	sessions    *prometheus.CounterVec
	dropped     prometheus.Counter
	keyRequests prometheus.Counter
	reaped      prometheus.Counter
	pli         *prometheus.CounterVec
	joinReplays prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	m := &serverMetrics{
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpegflow_whep_viewers", Help: "WHEP sessions connected now.",
		}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_whep_requests_total", Help: "WHEP session requests (POST), by result (created, not_live, no_usable_codec, ...).",
		}, []string{"result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_whep_dropped_frames_total", Help: "Frames not sent to a slow WHEP viewer (it resumes at the next key frame).",
		}),
		keyRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_whep_keyframe_requests_total", Help: "Key-frame requests sent upstream for WHEP viewers.",
		}),
		reaped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_whep_reaped_total", Help: "WHEP sessions ended because ICE/DTLS never connected.",
		}),
		pli: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_whep_pli_total", Help: "PLI/FIR from WHEP viewers, by outcome: forwarded upstream, rate_limited (one went shortly before), next_key_frame (the source cannot be asked: RTMP, SRT, a transcoded rung).",
		}, []string{"outcome"}),
		joinReplays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_whep_join_replays_total", Help: "WHEP viewers started at the stream's last key frame, kept by the server, rather than waiting for the next.",
		}),
	}
	for _, c := range []prometheus.Collector{m.viewers, m.sessions, m.dropped, m.keyRequests, m.reaped, m.pli, m.joinReplays} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
