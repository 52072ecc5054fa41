package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/mpegflow/mpegflow/internal/auth"
)

// Server is an RTSP (or RTSPS) publish server.
type Server struct {
	cfg      Config
	protocol string
	log      *slog.Logger
	rs       *gortsplib.Server
	addr     net.Addr
	ln       *idleListener

	ctx    context.Context // ends at Close; bounds throttle delays and lookups
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*session // admitted sessions by live input id
	closed   bool
	wg       sync.WaitGroup // session watch goroutines

	closeOnce sync.Once
}

var (
	_ gortsplib.ServerHandlerOnConnOpen     = (*Server)(nil)
	_ gortsplib.ServerHandlerOnConnClose    = (*Server)(nil)
	_ gortsplib.ServerHandlerOnSessionClose = (*Server)(nil)
	_ gortsplib.ServerHandlerOnAnnounce     = (*Server)(nil)
	_ gortsplib.ServerHandlerOnSetup        = (*Server)(nil)
	_ gortsplib.ServerHandlerOnRecord       = (*Server)(nil)
	_ gortsplib.ServerHandlerOnPacketsLost  = (*Server)(nil)
	_ gortsplib.ServerHandlerOnDecodeError  = (*Server)(nil)
)

// New validates cfg and binds the listeners (TCP, and UDP when set), so
// Addr works at once. Serve with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Directory == nil || cfg.Hub == nil || cfg.Throttle == nil {
		return nil, errors.New("rtsp: config: Directory, Hub and Throttle are required")
	}
	if cfg.Address == "" {
		return nil, errors.New("rtsp: config: Address is required")
	}
	cfg.setDefaults()
	if cfg.TLSConfig != nil {
		cfg.UDPRTPAddress, cfg.UDPRTCPAddress = "", "" // RTSPS is TCP only here
	}
	s := &Server{cfg: cfg, protocol: ProtocolRTSP, sessions: map[string]*session{}}
	if cfg.TLSConfig != nil {
		s.protocol = ProtocolRTSPS
	}
	s.log = cfg.Logger.With("protocol", s.protocol)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rs = &gortsplib.Server{
		Handler:        s,
		RTSPAddress:    cfg.Address,
		UDPRTPAddress:  cfg.UDPRTPAddress,
		UDPRTCPAddress: cfg.UDPRTCPAddress,
		TLSConfig:      cfg.TLSConfig,
		ReadTimeout:    cfg.ReadTimeout,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			s.addr = ln.Addr()
			s.ln = &idleListener{Listener: ln, idle: cfg.IdleTimeout}
			return s.ln, nil
		},
	}
	if err := s.rs.Start(); err != nil {
		s.cancel()
		return nil, fmt.Errorf("rtsp: listen %s: %w", cfg.Address, err)
	}
	return s, nil
}

// Addr is the TCP address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Run serves until ctx is done or Close is called, then closes the
// listeners and every session (their streams enter the hub's reconnect
// window) and returns after every goroutine the server started has exited.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("rtsp ingest listening", "address", s.addr.String(), "udp_rtp", s.cfg.UDPRTPAddress)
	done := make(chan error, 1)
	go func() { done <- s.rs.Wait() }()
	var err error
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	case err = <-done:
		if err != nil {
			err = fmt.Errorf("rtsp: %w", err)
		}
	}
	s.Close()
	s.log.Info("rtsp ingest stopped")
	return err
}

// Close stops the server and waits for its goroutines. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		s.rs.Close() // closes every session: OnSessionClose runs for each
		s.wg.Wait()
	})
	return nil
}

// OnConnOpen implements gortsplib.ServerHandlerOnConnOpen.
func (s *Server) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	s.log.Debug("rtsp connection opened", "remote", remoteOf(ctx.Conn))
}

// OnConnClose implements gortsplib.ServerHandlerOnConnClose.
func (s *Server) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	attrs := []any{"remote", remoteOf(ctx.Conn)}
	if ctx.Error != nil {
		attrs = append(attrs, "error", redactPath(ctx.Error.Error()))
	}
	s.log.Debug("rtsp connection closed", attrs...)
}

func remoteOf(c *gortsplib.ServerConn) string {
	if c == nil || c.NetConn() == nil {
		return ""
	}
	return c.NetConn().RemoteAddr().String()
}

func response(code base.StatusCode, msg string) *base.Response {
	r := &base.Response{StatusCode: code}
	if msg != "" {
		r.StatusMessage = msg
	}
	return r
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce: it decides a
// publisher: the path and SDP size first, then the key lookup (a refusal
// for an unknown key is held by the shared throttle), then the tracks.
func (s *Server) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	remote := remoteOf(ctx.Conn)
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	log := s.log.With("remote", remote)
	liveID := ""
	reject := func(reason string, code base.StatusCode, detail error) (*base.Response, error) {
		s.cfg.Metrics.Rejected(s.protocol, reason)
		attrs := []any{"reason", reason, "status", int(code)}
		if detail != nil {
			attrs = append(attrs, "error", redactPath(detail.Error()))
		}
		if liveID != "" {
			attrs = append(attrs, "live_input", liveID)
		}
		log.Warn("rtsp publish rejected", attrs...)
		msg := ""
		if reason == reasonUnsupported && detail != nil {
			msg = "Unsupported Media Type: " + detail.Error()
		}
		return response(code, msg), fmt.Errorf("%w: %s", ErrRejected, reason)
	}
	if len(ctx.Request.Body) > MaxSDPSize {
		return reject(reasonProtocol, base.StatusRequestEntityTooLarge, fmt.Errorf("session description of %d bytes", len(ctx.Request.Body)))
	}
	key, err := parsePath(ctx.Path)
	if err != nil {
		return reject(reasonProtocol, base.StatusNotFound, err)
	}
	lctx, cancel := context.WithTimeout(s.ctx, s.cfg.LookupTimeout)
	li, err := s.cfg.Directory.ByStreamKey(auth.WithPeer(lctx, s.protocol, remote), key)
	cancel()
	switch {
	case errors.Is(err, auth.ErrUnknownKey):
		// only failed attempts wait (the refusal is held); a valid key never does
		if s.cfg.Throttle.Hold(s.ctx, ip, key) != nil {
			return response(base.StatusServiceUnavailable, ""), errors.New("server shutting down")
		}
		return reject(reasonUnknownKey, base.StatusUnauthorized, nil)
	case errors.Is(err, auth.ErrRefused):
		return reject(reasonRefused, base.StatusForbidden, err)
	case err != nil:
		return reject(reasonUnavailable, base.StatusServiceUnavailable, fmt.Errorf("stream key lookup: %w", err))
	}
	liveID = li.ID
	p, err := planTracks(ctx.Description)
	if err != nil {
		return reject(reasonUnsupported, base.StatusUnsupportedMediaType, err)
	}
	if _, publishing := s.cfg.Hub.State(li.ID); publishing && !s.cfg.Takeover {
		return reject(reasonBusy, base.StatusCode(409), errors.New("live input already has a publisher"))
	}
	se, err := newSession(s, ctx.Session, li, remote, p, log.With("live_input", li.ID))
	if err != nil {
		return reject(reasonUnsupported, base.StatusUnsupportedMediaType, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return response(base.StatusServiceUnavailable, ""), errors.New("server shutting down")
	}
	if old := s.sessions[li.ID]; old != nil && !s.cfg.Takeover {
		s.mu.Unlock()
		return reject(reasonBusy, base.StatusCode(409), errors.New("live input already has an rtsp publisher"))
	}
	s.sessions[li.ID] = se
	s.wg.Add(1)
	s.mu.Unlock()
	ctx.Session.SetUserData(se)
	go func() {
		defer s.wg.Done()
		se.watch(s.ctx)
	}()
	attrs := []any{"tracks", p.names()}
	if len(p.ignored) > 0 {
		attrs = append(attrs, "ignored", p.ignored)
	}
	log.Info("rtsp publish accepted", append(attrs, "live_input", li.ID)...)
	return response(base.StatusOK, ""), nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup: only the SETUPs of an
// announced publish are served; this server does not play streams.
func (s *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() != gortsplib.ServerSessionStatePreRecord {
		return response(base.StatusMethodNotAllowed, ""), nil, nil
	}
	return response(base.StatusOK, ""), nil, nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord: media flows.
func (s *Server) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	se, ok := ctx.Session.UserData().(*session)
	if !ok {
		return response(base.StatusBadRequest, ""), errors.New("record without announce")
	}
	se.record(ctx.Session)
	s.ln.recording(remoteOf(ctx.Conn))
	return response(base.StatusOK, ""), nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (s *Server) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	if se, ok := ctx.Session.UserData().(*session); ok {
		se.finish(ctx.Error)
	}
}

// OnPacketsLost implements gortsplib.ServerHandlerOnPacketsLost. The
// feeder counts gaps itself (for every transport); this keeps the library
// from logging on its own.
func (s *Server) OnPacketsLost(*gortsplib.ServerHandlerOnPacketsLostCtx) {}

// OnDecodeError implements gortsplib.ServerHandlerOnDecodeError: a
// malformed RTP or RTCP packet.
func (s *Server) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	if se, ok := ctx.Session.UserData().(*session); ok {
		se.stats.decodeErrors.Add(1)
		se.log.Debug("rtsp packet not decodable", "error", redactPath(ctx.Error.Error()))
	}
}

// unregister removes se from the admitted sessions unless another session
// of the same live input took its place.
func (s *Server) unregister(se *session) {
	s.mu.Lock()
	if s.sessions[se.live.ID] == se {
		delete(s.sessions, se.live.ID)
	}
	s.mu.Unlock()
}
