package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is one HTTP listener of the daemon (the playback listener, the
// metrics listener): bound by Listen, so that its address is known and the
// port taken before anything runs; served by Run until Shutdown.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// Address is where to listen; its setting names the errors of Listen.
	Address, Setting string
	Handler          http.Handler
	// Protocols, when set, are the listener's protocols (H2C for gRPC).
	Protocols *http.Protocols
	Logger    *slog.Logger // the server's own errors, at debug level
}

// Timeouts of every Server: request headers must arrive within
// ReadHeaderTimeout (slowloris), and an idle keep-alive connection closes
// after IdleTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 120 * time.Second
)

// Listen binds c.Address and returns the Server of c.Handler on it.
func Listen(c ServerConfig) (*Server, error) {
	ln, err := net.Listen("tcp", c.Address)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Setting, err)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           c.Handler,
		Protocols:         c.Protocols,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(c.Logger.Handler(), slog.LevelDebug),
	}}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until Shutdown; it returns nil then, or the error that ended
// serving.
func (s *Server) Run() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops taking connections and drains in-flight requests for up
// to timeout.
func (s *Server) Shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// Close releases the listener of a Server that never ran (idempotent).
func (s *Server) Close() { _ = s.ln.Close() }
