// Package whip is MpegFlow's WebRTC ingest (WHIP, RFC 9725): browsers and
// encoders POST an SDP offer to /whip/{live input id} with the stream key as
// bearer token, and the media they send (H.264, H.265 or AV1 video, VP8 or VP9
// for transcoded live inputs; Opus audio) becomes access units in the stream
// hub like any other live input.
//
// WebRTC is github.com/pion/webrtc/v4: one UDP port for every session (ICE
// UDP mux), NACK, RTCP reports and PLI through pion's interceptors. The RTP
// depacketizers (RFC 6184, RFC 7798), the reorder buffer and the A/V
// timeline are this package's own. Opus goes into the hub as it came; the
// AAC that HLS players need is made from it by the live graph's
// transcode.audio node (internal/transcode/audio).
package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Protocol is the protocol label of WHIP sessions in metrics and logs.
const Protocol = "whip"

// Defaults of Config.
const (
	DefaultUDPAddress = ":8189"
	DefaultCORSOrigin = "*"
)

// Config configures a Server.
type Config struct {
	// KeyframeInterval is how often a key frame is requested (PLI, RFC 4585
	// §6.3.1) when the sender has not sent one on its own; set it to the HLS
	// segment duration. Default 2 s; negative disables.
	KeyframeInterval time.Duration
	// ICE is the daemon's shared ICE transport (one UDP port, optional
	// ICE-TCP, NAT 1:1 addresses), used by WHEP playback too; the server
	// does not close it. nil: the server binds its own from UDPAddress and
	// NAT1To1IPs and closes it with the server.
	ICE *webrtcice.Mux
	// UDPAddress is the one UDP address all sessions share for ICE, DTLS and
	// SRTP (an ICE UDP mux, RFC 8445 §5.1.1 host candidates on this port)
	// when ICE is nil. Default ":8189"; tests use "127.0.0.1:0".
	UDPAddress string
	// NAT1To1IPs, when set and ICE is nil, are advertised as the host
	// candidates' addresses instead of the local ones (1:1 NAT).
	NAT1To1IPs []string
	// Directory resolves the bearer token (a stream key) and the live input
	// id of the URL. Required.
	Directory auth.Directory
	// Hub receives the published streams. Required.
	Hub *stream.Hub
	// Takeover is the duplicate publisher policy: false refuses a second
	// WHIP session of a live input with 409, true ends the older session.
	Takeover bool
	// AcceptVPX, when set, is asked for each offer whether VP8 or VP9
	// video may be accepted for the live input: only when it is transcoded
	// (HLS cannot carry them; its H.264 rungs are what players get). nil:
	// VP8/VP9 offers are refused with 406.
	AcceptVPX func(ctx context.Context, liveInput string) bool
	// CORSOrigin is the Access-Control-Allow-Origin of WHIP responses
	// (RFC 9725 §4.1 allows browsers on other origins). Default "*".
	CORSOrigin string
	// Metrics receives ingest metrics; nil means ingest.NopMetrics{}.
	Metrics ingest.Metrics
	// Throttle holds back the refusals of wrong bearer tokens; the daemon
	// shares one between every ingest protocol. Default: a Throttle of
	// this server alone, with the ingest defaults.
	Throttle *ingest.Throttle
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Server is a WHIP endpoint. Its HTTP side is Handler; its media side is the
// UDP mux bound by New.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ice    *webrtcice.Mux
	ownICE bool // ice was bound by New and is closed by Close

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session // by session id
	wg       sync.WaitGroup      // session goroutines
	close    sync.Once
}

// New validates cfg and binds the UDP mux, so UDPAddr works at once.
func New(cfg Config) (*Server, error) {
	if cfg.Directory == nil {
		return nil, errors.New("whip: config: Directory is required")
	}
	if cfg.Hub == nil {
		return nil, errors.New("whip: config: Hub is required")
	}
	if cfg.UDPAddress == "" {
		cfg.UDPAddress = DefaultUDPAddress
	}
	if cfg.Throttle == nil {
		cfg.Throttle = ingest.NewThrottle(ingest.ThrottleConfig{})
	}
	if cfg.CORSOrigin == "" {
		cfg.CORSOrigin = DefaultCORSOrigin
	}
	if cfg.KeyframeInterval == 0 {
		cfg.KeyframeInterval = 2 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = ingest.NopMetrics{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("protocol", Protocol)
	mux, own := cfg.ICE, false
	if mux == nil {
		var err error
		if mux, err = webrtcice.New(webrtcice.Config{UDPAddress: cfg.UDPAddress, NAT1To1IPs: cfg.NAT1To1IPs, Logger: log}); err != nil {
			return nil, fmt.Errorf("whip: %w", err)
		}
		own = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      log,
		ice:      mux,
		ownICE:   own,
		ctx:      ctx,
		cancel:   cancel,
		sessions: map[string]*session{},
	}
	log.Info("whip ingest listening", "udp_address", mux.UDPAddr().String())
	return s, nil
}

// UDPAddr is the address of the shared ICE UDP port.
func (s *Server) UDPAddr() net.Addr { return s.ice.UDPAddr() }

// Handler serves the WHIP resources (RFC 9725 §4): POST /whip/{id} creates a
// session, PATCH and DELETE /whip/{id}/{session} act on it, OPTIONS answers
// CORS preflights on both. Mount it at "/whip/" without stripping the prefix.
func (s *Server) Handler() http.Handler {
	return &webrtcice.Resources{Prefix: "/whip/", Name: "WHIP", CORSOrigin: s.cfg.CORSOrigin, SessionMethods: "PATCH, DELETE, OPTIONS",
		Error: writeError, Post: s.post, Delete: s.delete, Patch: s.patch}
}

// Close ends every session (their streams enter the hub's reconnect
// window), closes the UDP port and waits for every goroutine. Idempotent.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		if s.ownICE {
			_ = s.ice.Close()
		}
		s.log.Info("whip ingest stopped")
	})
	return nil
}

// add registers a new session, applying the duplicate publisher policy. It
// returns the session to end (takeover) or an error.
func (s *Server) add(ss *session) (old *session, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errServerClosed
	}
	for _, o := range s.sessions {
		if o.live.ID == ss.live.ID {
			if !s.cfg.Takeover {
				return nil, errBusy
			}
			old = o
		}
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1)
	return old, nil
}

func (s *Server) remove(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
}

func (s *Server) lookup(liveID, sessionID string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[sessionID]
	if ss == nil || ss.live.ID != liveID {
		return nil
	}
	return ss
}

var (
	errServerClosed = errors.New("whip server closed")
	errBusy         = errors.New("live input already has a whip publisher")
)

// RequestKeyframe asks the WHIP publisher of liveInput for a key frame
// (a PLI, RFC 4585 §6.3.1) on behalf of playback (WHEP viewers joining or
// reporting loss); it reports whether there was a publisher with video.
// Callers rate-limit.
func (s *Server) RequestKeyframe(liveInput string) bool {
	s.mu.Lock()
	var ss *session
	for _, o := range s.sessions {
		if o.live.ID == liveInput {
			ss = o
		}
	}
	s.mu.Unlock()
	if ss == nil {
		return false
	}
	ss.mu.Lock()
	ssrc := ss.media.videoSSRC
	ss.mu.Unlock()
	if ssrc == 0 {
		return false
	}
	ss.requestKeyframe(ssrc)
	return true
}
