// Package rtmp is MpegFlow's RTMP and RTMPS ingest: it accepts publishers
// (OBS, ffmpeg, hardware encoders), authenticates their stream key, turns
// legacy FLV (H.264 + AAC) and Enhanced RTMP (veovera E-RTMP v1/v2: HEVC,
// AV1, Opus) tags into access units and publishes them into the stream hub.
//
// The RTMP session layer is github.com/yutopp/go-rtmp; this package guards
// it (deadlines, a chunk-stream validator, message size limits, panic
// recovery) and parses every FLV tag body itself.
package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gortmp "github.com/yutopp/go-rtmp"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Protocol names used in metrics and logs.
const (
	ProtocolRTMP  = "rtmp"
	ProtocolRTMPS = "rtmps"
)

// Defaults of Config's limits.
const (
	DefaultMaxMessageSize   = 8 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 15 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultTrackWait        = 2 * time.Second
	DefaultMaxJump          = 10 * time.Second
	defaultMaxChunkStreams  = 16
	defaultMaxMsgStreams    = 4
	maxPendingUnits         = 1024
)

// Config configures a Server. Zero limits take the defaults above.
type Config struct {
	// Address is the TCP address to listen on, e.g. ":1935" or "127.0.0.1:0".
	Address string
	// TLSConfig, when non-nil, makes the server speak RTMPS (RTMP inside TLS)
	// on Address.
	TLSConfig *tls.Config
	// Directory resolves stream keys to live inputs. Required.
	Directory auth.Directory
	// Hub receives the published streams. Required.
	Hub *stream.Hub
	// Takeover is the duplicate publisher policy: false rejects the
	// newcomer, true replaces the live publisher.
	Takeover bool
	// Metrics receives ingest metrics; nil means ingest.NopMetrics{}.
	Metrics ingest.Metrics
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	// MaxMessageSize bounds one RTMP message (RTMP spec §5.3.1.2 allows up
	// to 16 MiB - 1). Default 8 MiB; at most twice this is buffered per
	// connection in incomplete messages.
	MaxMessageSize int
	// HandshakeTimeout bounds the time from accept until the publish command
	// is accepted (TLS and RTMP handshakes, connect, createStream, publish).
	// Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a publishing connection that sends nothing for this
	// long. Default 15 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds every write to the peer. Default 10 s.
	WriteTimeout time.Duration
	// TrackWait is how long a publish without onMetaData codec ids waits for
	// the sequence headers of both audio and video before it starts with the
	// tracks seen so far. Default 2 s.
	TrackWait time.Duration
	// MaxJump is the largest forward timestamp step taken as continuous;
	// larger steps (and backward steps) start a discontinuity. Default 10 s.
	MaxJump time.Duration
	// Throttle holds back the refusals of failed attempts; the daemon
	// shares one between every ingest protocol. Default: a Throttle of
	// this server alone, with the ingest defaults.
	Throttle *ingest.Throttle
}

func (c *Config) setDefaults() {
	if c.Metrics == nil {
		c.Metrics = ingest.NopMetrics{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.MaxMessageSize = min(c.MaxMessageSize, maxChunkSizeValue)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.TrackWait, DefaultTrackWait)
	def(&c.MaxJump, DefaultMaxJump)
	if c.Throttle == nil {
		c.Throttle = ingest.NewThrottle(ingest.ThrottleConfig{})
	}
}

// Server is an RTMP (or RTMPS) ingest server.
type Server struct {
	cfg      Config
	protocol string
	log      *slog.Logger
	ln       *listener
	throttle *ingest.Throttle

	mu      sync.Mutex
	cancel  context.CancelFunc
	closed  bool
	running bool
	done    chan struct{} // closed when Run returned
	conns   sync.WaitGroup
}

// New validates cfg and binds the listener, so Addr works at once. Serve
// with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Directory == nil {
		return nil, errors.New("rtmp: config: Directory is required")
	}
	if cfg.Hub == nil {
		return nil, errors.New("rtmp: config: Hub is required")
	}
	cfg.setDefaults()
	protocol := ProtocolRTMP
	if cfg.TLSConfig != nil {
		protocol = ProtocolRTMPS
	}
	l, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("rtmp: listen %s: %w", cfg.Address, err)
	}
	s := &Server{
		cfg:      cfg,
		protocol: protocol,
		log:      cfg.Logger.With("protocol", protocol),
		throttle: cfg.Throttle,
		done:     make(chan struct{}),
	}
	s.ln = &listener{Listener: l, s: s, closed: make(chan struct{})}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done or Close is called, then closes the listener
// and every connection (their streams enter the hub's reconnect window) and
// returns after every connection goroutine has exited. Run may be called
// once.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("rtmp: Run called twice")
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

	s.ln.ctx = ctx
	srv := gortmp.NewServer(&gortmp.ServerConfig{OnConnect: s.onConnect})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.ln) }()
	s.log.Info("rtmp ingest listening", "address", s.Addr().String())

	<-ctx.Done()
	_ = srv.Close()
	_ = s.ln.Close()
	<-served
	s.conns.Wait()
	s.log.Info("rtmp ingest stopped")
	return nil
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
		_ = s.ln.Close()
	}
	return nil
}

// listener hands accepted connections to go-rtmp's Serve loop, wrapped in
// guarded conns whose goroutines the Server waits for. Temporary accept
// errors back off instead of spinning.
type listener struct {
	net.Listener
	s         *Server
	ctx       context.Context
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := l.Listener.Accept()
		if err == nil {
			return l.s.newConn(l.ctx, nc), nil
		}
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		l.s.log.Warn("rtmp accept failed", "error", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-l.closed:
			return nil, net.ErrClosed
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (l *listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.Listener.Close()
	})
	return err
}
