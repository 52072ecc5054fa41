// Package srt is MpegFlow's SRT ingest: a listener for caller-mode
// publishers (ffmpeg, OBS, hardware encoders) that authenticates the stream
// key carried in the SRT stream id during the handshake, enforces the live
// input's passphrase (AES-128/192/256), demuxes the MPEG-TS the publisher
// sends (H.264, H.265, AAC, Opus) and publishes it into the stream hub.
//
// The SRT transport is github.com/datarhei/gosrt (SRT RFC draft
// draft-sharabayko-srt); the MPEG-TS demuxer (ISO/IEC 13818-1) is
// MpegFlow's own (internal/mpegts), so that continuity errors can be
// detected and handled.
package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ProtocolSRT is the protocol name used in metrics and logs.
const ProtocolSRT = "srt"

// Defaults of Config's zero fields.
const (
	// DefaultLatency is the receiver TSBPD latency, as in libsrt and ffmpeg.
	DefaultLatency          = 120 * time.Millisecond
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultIdleTimeout      = 15 * time.Second
	DefaultTrackWait        = 10 * time.Second
	DefaultStartTimeout     = 20 * time.Second
	DefaultMaxJump          = 10 * time.Second
	DefaultStatsInterval    = 5 * time.Second
	DefaultMaxHandshakes    = 64
	maxPendingUnits         = 1024
)

// Rejection reasons reported to ingest.Metrics.Rejected.
const (
	reasonUnknownKey       = "unknown_key"
	reasonBusy             = "busy"
	reasonUnavailable      = "unavailable"
	reasonUnsupported      = "unsupported"
	reasonProtocol         = "protocol_error"
	reasonBadPassphrase    = "bad_passphrase"
	reasonEncryptionNeeded = "encryption_required"
	reasonEncryptionRefuse = "encryption_unexpected"
	reasonOverload         = "overload"
	reasonTimeout          = "timeout"
)

// Errors that end a session.
var (
	// ErrProtocol means the publisher sent something this server cannot
	// take (no decodable media, a codec change mid-stream).
	ErrProtocol = errors.New("srt protocol error")
	// ErrRejected wraps the reasons a session was refused.
	ErrRejected = errors.New("srt publish rejected")

	errShuttingDown = errors.New("server shutting down")
	errKicked       = errors.New("publisher replaced by another or hub closing")
	errIdle         = errors.New("idle timeout")
)

// Config configures a Server. Zero durations and limits take the defaults
// above.
type Config struct {
	// Address is the UDP address to listen on, e.g. ":8890" or
	// "127.0.0.1:0".
	Address string
	// Latency is the receiver TSBPD latency (SRT RFC draft §4.5); the larger
	// of it and the publisher's is used. Default 120 ms.
	Latency time.Duration
	// Directory resolves stream keys to live inputs. Required.
	Directory auth.Directory
	// Hub receives the published streams. Required.
	Hub *stream.Hub
	// Takeover is the duplicate publisher policy: false rejects the
	// newcomer (REJX_CONFLICT during the handshake when the other publisher
	// is on SRT), true replaces the live publisher.
	Takeover bool
	// Metrics receives ingest metrics; nil means ingest.NopMetrics{}.
	Metrics ingest.Metrics
	// Stats receives per-session SRT statistics and MPEG-TS error counts;
	// nil means NopStats{}.
	Stats StatsSink
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	// HandshakeTimeout bounds the stream key lookup of one handshake.
	// Default 5 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a session that delivers no data for this long
	// (gosrt itself drops a peer silent for 2 s). Default 15 s.
	IdleTimeout time.Duration
	// TrackWait is how long, after the first decodable unit, the stream
	// waits for the other track the PMT announces (video waits for a key
	// frame with its parameter sets) before it starts without it.
	// Default 10 s.
	TrackWait time.Duration
	// StartTimeout closes a session that has no decodable unit this long
	// after the handshake. Default 20 s.
	StartTimeout time.Duration
	// MaxJump is the largest forward timestamp step taken as continuous;
	// larger steps (and backward steps) start a discontinuity. Default 10 s.
	MaxJump time.Duration
	// StatsInterval is the period of StatsSink.SessionStats. Default 5 s.
	StatsInterval time.Duration
	// MaxHandshakes bounds the handshakes being decided at once (key
	// lookups; a refusal held by the throttle frees its slot); more are
	// refused with REJ_BACKLOG.
	// Default 64.
	MaxHandshakes int
	// Throttle holds back the refusals of failed attempts; the daemon
	// shares one between every ingest protocol. Default: a Throttle of
	// this server alone, with the ingest defaults.
	Throttle *ingest.Throttle
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
	def(&c.Latency, DefaultLatency)
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.TrackWait, DefaultTrackWait)
	def(&c.StartTimeout, DefaultStartTimeout)
	def(&c.MaxJump, DefaultMaxJump)
	def(&c.StatsInterval, DefaultStatsInterval)
	if c.Throttle == nil {
		c.Throttle = ingest.NewThrottle(ingest.ThrottleConfig{})
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = DefaultMaxHandshakes
	}
}

// Server is an SRT ingest server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	ln       gosrt.Listener
	throttle *ingest.Throttle
	sem      chan struct{} // handshakes being decided

	mu       sync.Mutex
	cancel   context.CancelFunc
	closed   bool
	running  bool
	sessions map[string]*session // admitted sessions by live input id
	done     chan struct{}       // closed when Run returned
	wg       sync.WaitGroup      // handshake and session goroutines
}

// New validates cfg and binds the UDP socket, so Addr works at once. Serve
// with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Directory == nil {
		return nil, errors.New("srt: config: Directory is required")
	}
	if cfg.Hub == nil {
		return nil, errors.New("srt: config: Hub is required")
	}
	cfg.setDefaults()
	sc := gosrt.DefaultConfig()
	sc.Latency = -1 // per direction below
	sc.ReceiverLatency = cfg.Latency
	sc.PeerLatency = cfg.Latency
	ln, err := gosrt.Listen("srt", cfg.Address, sc)
	if err != nil {
		return nil, fmt.Errorf("srt: listen %s: %w", cfg.Address, err)
	}
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("protocol", ProtocolSRT),
		ln:       ln,
		throttle: cfg.Throttle,
		sem:      make(chan struct{}, cfg.MaxHandshakes),
		sessions: map[string]*session{},
		done:     make(chan struct{}),
	}, nil
}

// Addr is the UDP address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done or Close is called, then closes the listener
// and every session (their streams enter the hub's reconnect window) and
// returns after every goroutine it started has exited. Run may be called
// once; it returns an error only when the socket fails.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("srt: Run called twice")
	}
	s.running = true
	if s.closed {
		s.mu.Unlock()
		close(s.done)
		return nil
	}
	s.cancel = cancel
	s.mu.Unlock()
	defer close(s.done)

	accepted := make(chan error, 1)
	go func() { accepted <- s.acceptLoop(ctx) }()
	s.log.Info("srt ingest listening", "address", s.Addr().String(), "latency", s.cfg.Latency)

	var err error
	acceptDone := false
	select {
	case <-ctx.Done():
	case err = <-accepted:
		acceptDone = true
	}
	cancel()
	s.ln.Close()
	if !acceptDone {
		<-accepted
	}
	s.wg.Wait()
	s.log.Info("srt ingest stopped")
	return err
}

// Close stops the server like cancelling Run's context and waits for Run to
// return (if it runs). Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	cancel, running := s.cancel, s.running
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if running {
		<-s.done
	} else if first {
		s.ln.Close()
	}
	return nil
}

// acceptLoop hands every connection request to a handshake goroutine.
func (s *Server) acceptLoop(ctx context.Context) error {
	for {
		req, err := s.ln.Accept2()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, gosrt.ErrListenerClosed) {
				return nil
			}
			return fmt.Errorf("srt: accept: %w", err)
		}
		select {
		case s.sem <- struct{}{}:
		default:
			req.Reject(gosrt.REJ_BACKLOG)
			s.cfg.Metrics.Rejected(ProtocolSRT, reasonOverload)
			s.log.Warn("srt connection rejected", "remote", req.RemoteAddr().String(), "reason", reasonOverload)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			release := sync.OnceFunc(func() { <-s.sem })
			sess := s.handshake(ctx, req, release)
			release()
			if sess != nil {
				sess.run(ctx)
			}
		}()
	}
}

// handshake decides a connection request (SRT RFC draft §4.3.1.2, the
// conclusion phase): stream id, stream key, passphrase and the duplicate
// publisher policy. It answers the request and returns the admitted
// session, or nil. release frees the request's handshake slot: a refusal
// held by the throttle frees it first, so that held refusals never use up
// the slots valid keys need.
func (s *Server) handshake(ctx context.Context, req gosrt.ConnRequest, release func()) (sess *session) {
	remote := req.RemoteAddr().String()
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	log := s.log.With("remote", remote)
	liveID := ""
	reject := func(reason string, code gosrt.RejectionReason, detail error) *session {
		s.cfg.Metrics.Rejected(ProtocolSRT, reason)
		attrs := []any{"reason", reason, "srt_reject", uint32(code)}
		if detail != nil {
			attrs = append(attrs, "error", detail.Error())
		}
		if liveID != "" {
			attrs = append(attrs, "live_input", liveID)
		}
		log.Warn("srt connection rejected", attrs...)
		req.Reject(code) // after counting, so that the count is in when the caller learns of it
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("srt handshake panic recovered", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			sess = reject(reasonUnavailable, gosrt.REJX_ISE, errors.New("internal error"))
		}
	}()

	if req.Version() != 5 {
		return reject(reasonUnsupported, gosrt.REJ_VERSION, errors.New("handshake version 4 carries no stream id"))
	}
	sid, err := parseStreamID(req.StreamId())
	switch {
	case errors.Is(err, ErrNotPublish):
		return reject(reasonUnsupported, gosrt.REJX_BAD_MODE, err)
	case err != nil:
		return reject(reasonProtocol, gosrt.REJX_BAD_REQUEST, err)
	}
	// Only failed attempts wait (the refusal is held); a valid key never does.
	failed := func(reason string, code gosrt.RejectionReason, detail error) *session {
		release()
		if s.throttle.Hold(ctx, ip, sid.Key) != nil {
			req.Reject(gosrt.REJ_CLOSE)
			return nil
		}
		return reject(reason, code, detail)
	}
	if sid.Key == "" {
		return failed(reasonUnknownKey, gosrt.REJX_FORBIDDEN, errors.New("no stream key in the stream id"))
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	li, err := s.cfg.Directory.ByStreamKey(auth.WithPeer(lctx, ProtocolSRT, remote), sid.Key)
	cancel()
	switch {
	case errors.Is(err, auth.ErrUnknownKey):
		return failed(reasonUnknownKey, gosrt.REJX_FORBIDDEN, nil)
	case err != nil:
		return reject(reasonUnavailable, gosrt.REJX_ISE, fmt.Errorf("stream key lookup: %w", err))
	}
	liveID = li.ID

	// Encryption (SRT RFC draft §6): the live input's passphrase decides.
	switch {
	case li.SRTPassphrase != "" && !req.IsEncrypted():
		return reject(reasonEncryptionNeeded, gosrt.REJ_UNSECURE, errors.New("live input requires a passphrase"))
	case li.SRTPassphrase != "":
		if err := req.SetPassphrase(li.SRTPassphrase); err != nil {
			return failed(reasonBadPassphrase, gosrt.REJ_BADSECRET, nil)
		}
	case req.IsEncrypted():
		return reject(reasonEncryptionRefuse, gosrt.REJ_UNSECURE, errors.New("live input has no passphrase"))
	}

	if _, publishing := s.cfg.Hub.State(li.ID); publishing && !s.cfg.Takeover {
		// live over another protocol (RTMP, WHIP): refuse in the handshake
		return reject(reasonBusy, gosrt.REJX_CONFLICT, errors.New("live input already has a publisher"))
	}
	sess = newSession(s, li, remote, log.With("live_input", li.ID))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		req.Reject(gosrt.REJ_CLOSE)
		return nil
	}
	if old := s.sessions[li.ID]; old != nil && !s.cfg.Takeover {
		s.mu.Unlock()
		return reject(reasonBusy, gosrt.REJX_CONFLICT, errors.New("live input already has an srt publisher"))
	}
	s.sessions[li.ID] = sess
	s.mu.Unlock()

	conn, err := req.Accept()
	if err != nil {
		s.unregister(sess)
		log.Warn("srt accept failed", "live_input", li.ID, "error", err)
		return nil
	}
	sess.conn = conn
	log.Info("srt publish accepted", "live_input", li.ID, "encrypted", req.IsEncrypted())
	return sess
}

// unregister removes sess from the admitted sessions unless another
// session of the same live input took its place.
func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.live.ID] == sess {
		delete(s.sessions, sess.live.ID)
	}
	s.mu.Unlock()
}
