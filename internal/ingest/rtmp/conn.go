package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Reasons a connection ends that are not the peer's fault.
var (
	errShuttingDown = errors.New("server shutting down")
	errKicked       = errors.New("publisher replaced by another or hub closing")
	errTimeout      = errors.New("timeout")
)

// conn is one accepted connection as go-rtmp sees it: reads and writes go
// through deadlines, a byte counter and the chunk guard; Close, which go-rtmp
// calls as the very last step of its connection goroutine, releases the
// Server's wait on it.
type conn struct {
	s      *Server
	ctx    context.Context
	raw    net.Conn
	rw     io.ReadWriteCloser // raw, or TLS over raw
	remote string
	ip     string
	log    *slog.Logger
	start  time.Time
	guard  *chunkGuard
	done   chan struct{} // closed by Close
	pubCh  chan *stream.Publisher

	// touched only by go-rtmp's connection goroutine (reads, handler callbacks)
	handshakeDeadline time.Time
	admitted          bool // publish command accepted: idle timeout applies
	liveID            string
	im                ingest.InputMetrics // the live input's counters, once liveID is known
	unreported        int                 // bytes read before the live input was known
	rbuf              []byte              // raw bytes read, before the guard's filter
	pend              []byte              // filtered bytes not yet returned by Read
	pendErr           error               // the read error to return after pend
	sess              *session
	rejected          bool            // a rejection was logged and counted already
	sock              syscall.RawConn // the TCP socket, for SO_RCVLOWAT; nil when not a socket
	lowat             int             // the socket's SO_RCVLOWAT as last set (1: the kernel's default)
	lowatOff          bool            // no low-water marks: setting one failed, or the sender waits for ACKs
	lowatWaitAt       time.Time       // when a wait behind a low-water mark began; zero when none
	lowatWaits        int             // waits behind a low-water mark
	lowatSlow         int             // of them, those slower than lowatSlowWait
	rawReads          int             // read(2) calls made by readRaw, EAGAIN included
	deadlineAt        time.Time       // when the idle read deadline was last moved

	mu        sync.Mutex
	closeErr  error
	closeOnce sync.Once
}

func (s *Server) newConn(ctx context.Context, nc net.Conn) *conn {
	remote := nc.RemoteAddr().String()
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	c := &conn{
		s:      s,
		ctx:    ctx,
		raw:    nc,
		rw:     nc,
		remote: remote,
		ip:     ip,
		log:    s.log.With("remote", remote),
		start:  time.Now(),
		guard:  newChunkGuard(s.cfg.MaxMessageSize, defaultMaxChunkStreams),
		done:   make(chan struct{}),
		pubCh:  make(chan *stream.Publisher, 1),
	}
	c.handshakeDeadline = c.start.Add(s.cfg.HandshakeTimeout)
	if c.sock = socketOf(nc); c.sock != nil {
		c.lowat = 1
	}
	if s.cfg.TLSConfig != nil {
		c.rw = tls.Server(nc, s.cfg.TLSConfig)
		c.sock = nil // TLS reads the socket itself: no low-water marks
	}
	s.conns.Add(2) // go-rtmp's connection goroutine (released in Close) and watch
	go c.watch()
	return c
}

// watch closes the connection when the server stops or the publisher is
// kicked (another publisher took over, or the hub is closing).
func (c *conn) watch() {
	defer c.s.conns.Done()
	var kicked <-chan struct{}
	for {
		select {
		case <-c.done:
			return
		case <-c.ctx.Done():
			c.abort(errShuttingDown)
			<-c.done
			return
		case p := <-c.pubCh:
			kicked = p.Kicked()
		case <-kicked:
			c.abort(errKicked)
			<-c.done
			return
		}
	}
}

// abort records why the connection is being closed and closes the socket,
// which ends go-rtmp's read loop.
func (c *conn) abort(err error) {
	c.setErr(err)
	_ = c.raw.Close()
}

// setErr records the first reason the connection ends.
func (c *conn) setErr(err error) {
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.mu.Unlock()
}

func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// maxRawRead bounds the buffer conn reads raw bytes into (go-rtmp's reader
// asks for ReaderBufferSize at most).
const maxRawRead = 64 << 10

// Read implements io.Reader for go-rtmp: it returns the bytes read from the
// peer as the chunk guard filters them (see chunkGuard). The guard holds back
// the bytes of an incomplete chunk header, so a read of the peer may yield
// nothing, and Read then reads again.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.pend) > 0 {
		n := copy(p, c.pend)
		c.pend = c.pend[n:]
		if len(c.pend) == 0 && c.pendErr != nil {
			err := c.pendErr
			c.pendErr = nil
			return n, err
		}
		return n, nil
	}
	if want := min(len(p), maxRawRead); len(c.rbuf) < want {
		c.rbuf = make([]byte, max(want, 4096))
	}
	for {
		c.readDeadline()
		n, err := c.readRaw(c.rbuf[:min(len(p), len(c.rbuf))])
		out := p[:0:len(p)]
		if n > 0 {
			var gerr error
			if out, gerr = c.guard.filter(out, c.rbuf[:n]); gerr != nil {
				c.setErr(gerr)
				return 0, gerr
			}
			c.countWire(n)
		}
		if len(out) > len(p) { // the guard released held header bytes too
			c.pend = append(c.pend[:0], out[len(p):]...)
			copy(p, out)
			out = p
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.setErr(fmt.Errorf("%w: %w", errTimeout, err))
			}
			if len(c.pend) > 0 { // return the error after the pending bytes
				c.pendErr = err
				return len(out), nil
			}
			return len(out), err
		}
		if len(out) > 0 {
			return len(out), nil
		}
	}
}

// setLiveInput records the live input the connection publishes to and
// resolves its counters once.
func (c *conn) setLiveInput(id string) {
	c.liveID = id
	c.im = c.s.cfg.Metrics.Input(c.s.protocol, id)
}

// readDeadline sets the read deadline: the handshake's until the publish
// is admitted, then the idle timeout from now. Moving a deadline costs a
// timer update, so while reads keep coming the idle deadline is moved at
// most every idleDeadlineSlack: an idle publisher times out between
// IdleTimeout and IdleTimeout+idleDeadlineSlack after its last byte.
func (c *conn) readDeadline() {
	if !c.admitted {
		_ = c.raw.SetReadDeadline(c.handshakeDeadline)
		return
	}
	now := time.Now()
	if now.Sub(c.deadlineAt) < idleDeadlineSlack {
		return
	}
	c.deadlineAt = now
	_ = c.raw.SetReadDeadline(now.Add(c.s.cfg.IdleTimeout + idleDeadlineSlack))
}

// idleDeadlineSlack is how often the idle read deadline moves at most.
const idleDeadlineSlack = 100 * time.Millisecond

// Socket receive low-water marks (SO_RCVLOWAT, socket(7)) while a message
// is in progress: encoders write a message as many small chunks (FFmpeg
// 128-byte ones, each a write of its own), and each arriving segment would
// wake the reader for one read syscall. When a read finds the socket empty
// and the message in progress still needs at least lowatMin bytes (or
// lowatMinChunked when they span a further chunk), the
// socket is told not to signal readability before that many have arrived
// (at most lowatMax), so the rest of a video frame is read in one wakeup.
// The mark is a lower bound of what the message itself still needs
// (chunkGuard.pendingWire), so no byte is held past the end of the
// message, and the read deadline still applies. It is set only when the
// reader is about to wait, so a busy daemon that finds whole messages
// queued makes no setsockopt calls at all.
const (
	lowatMin = 512
	// lowatMinChunked is the floor when the message still spans a further
	// chunk: FFmpeg sends a 350-byte AAC frame as three 128-byte chunks,
	// each its own write and wakeup.
	lowatMinChunked = 64
	lowatMax        = 256 << 10
)

// socketOf returns the socket under nc, nil when nc is not one.
func socketOf(nc net.Conn) syscall.RawConn {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

// readRaw reads the peer's bytes: through the TLS connection, or with
// read(2) on the socket itself, so that the low-water mark can be tuned
// just before the goroutine waits (on EAGAIN).
func (c *conn) readRaw(b []byte) (int, error) {
	if c.sock == nil {
		return c.rw.Read(b)
	}
	var n int
	var rerr error
	err := c.sock.Read(func(fd uintptr) bool {
		for {
			c.rawReads++
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			c.tuneLowat(fd)
			if c.lowat > 1 && c.lowatWaitAt.IsZero() {
				c.lowatWaitAt = time.Now()
			}
			return false // wait until readable, then read again
		}
		if n > 0 && !c.lowatWaitAt.IsZero() {
			c.lowatWaited(fd, time.Since(c.lowatWaitAt))
			c.lowatWaitAt = time.Time{}
		}
		return true
	})
	switch {
	case err != nil: // closed, or the read deadline passed
		return 0, err
	case rerr != nil:
		return 0, fmt.Errorf("read: %w", rerr)
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// A sender with Nagle's algorithm on (FFmpeg's default; OBS sets
// TCP_NODELAY) holds each small write until its previous one is
// acknowledged, and Linux acknowledges data the application has not read
// only on its delayed-ACK timer (tens of ms): behind a low-water mark the
// rest of a message would wait for that timer. Such waits are seen as
// slow (lowatSlowWait, below Linux's 40 ms minimum delayed-ACK time; a
// message is written in one burst) and once at least lowatSlowMin of them
// are half of all, the connection reads as before, each segment as it
// comes. Key frames on a slow uplink and a starved host make some waits
// slow too, but not most of them.
const (
	lowatSlowWait = 30 * time.Millisecond
	lowatSlowMin  = 6
)

// lowatWaited accounts for one wait behind a low-water mark that took d.
func (c *conn) lowatWaited(fd uintptr, d time.Duration) {
	c.lowatWaits++
	if d > lowatSlowWait {
		c.lowatSlow++
	}
	if c.lowatSlow >= lowatSlowMin && 2*c.lowatSlow >= c.lowatWaits {
		c.lowatOff = true
		if c.lowat != 1 {
			c.lowat = 1
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, 1)
		}
		c.log.Debug("rtmp reads without a low-water mark: the sender waits for acknowledgements", "waits", c.lowatWaits, "slow", c.lowatSlow)
	}
}

// tuneLowat sets the socket's SO_RCVLOWAT for the message in progress, or
// back to 1 between messages: at most two setsockopt calls a message,
// against a read syscall and a goroutine wakeup for every chunk.
func (c *conn) tuneLowat(fd uintptr) {
	if !c.admitted || c.lowatOff {
		return
	}
	want := 1
	if n, more := c.guard.pendingWire(); n >= lowatMin || (more && n >= lowatMinChunked) {
		want = min(n, lowatMax)
	}
	if want == c.lowat {
		return
	}
	c.lowat = want
	if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, want); err != nil {
		c.lowatOff = true // not supported here: the wakeups stay as they were
	}
}

func (c *conn) countWire(n int) {
	if c.im == nil {
		c.unreported += n
		return
	}
	c.im.WireBytes(n + c.unreported)
	c.unreported = 0
}

// Write implements io.Writer for go-rtmp.
func (c *conn) Write(p []byte) (int, error) {
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	return c.rw.Write(p)
}

// Close is called by go-rtmp once, as the last step of its connection
// goroutine. It closes the socket, logs how the connection ended and
// releases the Server's wait.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		defer c.s.conns.Done()
		if _, ok := c.rw.(*tls.Conn); ok {
			_ = c.raw.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		}
		_ = c.rw.Close()
		_ = c.raw.Close()
		close(c.done)
		c.logEnd()
	})
	return nil
}

func (c *conn) logEnd() {
	err := c.err()
	attrs := []any{"duration", time.Since(c.start).Round(time.Millisecond)}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	switch {
	case c.sess != nil && c.sess.pub != nil:
		attrs = append(attrs, "live_input", c.liveID, "units", c.sess.units)
		c.log.Info("rtmp session ended", attrs...)
	case c.rejected:
		c.log.Debug("rtmp connection closed", attrs...)
	case err == nil, errors.Is(err, errShuttingDown):
		c.log.Debug("rtmp connection closed", attrs...)
	default:
		reason := "protocol_error"
		if errors.Is(err, errTimeout) {
			reason = "timeout"
		}
		if !c.admitted {
			c.s.cfg.Metrics.Rejected(c.s.protocol, reason)
		}
		c.log.Warn("rtmp connection closed", attrs...)
	}
}

// onConnect is go-rtmp's per-connection hook: it returns our guarded conn
// and the go-rtmp configuration with our handler.
func (s *Server) onConnect(nc net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
	c, ok := nc.(*conn)
	if !ok { // cannot happen: our listener only returns *conn
		c = s.newConn(context.Background(), nc)
	}
	return c, &gortmp.ConnConfig{
		Handler:                   &handler{c: c},
		SkipHandshakeVerification: true, // the chunk guard checks C0; clients differ in C2
		// A key frame arrives as one burst of many chunks: one read syscall
		// takes it all instead of one per 4 KiB (profiled: reads were a
		// third of the daemon's CPU at 20 publishers).
		ReaderBufferSize: 64 << 10,
		ControlState: gortmp.StreamControlStateConfig{
			MaxChunkStreams:   defaultMaxChunkStreams,
			MaxMessageStreams: defaultMaxMsgStreams,
			MaxMessageSize:    uint32(s.cfg.MaxMessageSize),
		},
		Logger: newLogrusBridge(c),
	}
}

// logrusBridge receives go-rtmp's logrus output: warnings go to slog at
// debug level, errors are kept as the connection's end reason.
type logrusBridge struct{ c *conn }

func newLogrusBridge(c *conn) *logrus.Logger {
	l := &logrus.Logger{
		Out:       io.Discard,
		Formatter: nopFormatter{},
		Hooks:     make(logrus.LevelHooks),
		Level:     logrus.WarnLevel,
		ExitFunc:  func(int) {},
	}
	l.AddHook(logrusBridge{c})
	return l
}

func (logrusBridge) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (b logrusBridge) Fire(e *logrus.Entry) error {
	msg := e.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	if e.Level <= logrus.ErrorLevel {
		b.c.setErr(errors.New(msg))
		return nil
	}
	b.c.log.Debug("go-rtmp", "message", msg)
	return nil
}

type nopFormatter struct{}

func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// recoverPanic turns a panic in a handler callback into an error on the
// connection, logged with its stack; the daemon goes on.
func (c *conn) recoverPanic(errp *error) {
	if r := recover(); r != nil {
		err := fmt.Errorf("panic: %v", r)
		c.log.Error("rtmp connection panic recovered", "error", err, "stack", string(debug.Stack()))
		c.setErr(err)
		if errp != nil {
			*errp = err
		}
	}
}

var _ net.Conn = (*conn)(nil)

// LocalAddr implements net.Conn.
func (c *conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn; conn manages its deadlines itself.
func (c *conn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn; conn manages its deadlines itself.
func (c *conn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn; conn manages its deadlines itself.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }
