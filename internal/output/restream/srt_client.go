package restream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/mpegts"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// srtSession is one SRT caller connection (SRT RFC draft
// draft-sharabayko-srt §4.3.1.1) carrying the stream as MPEG-TS, written
// by the shared muxer of internal/mpegts.
type srtSession struct {
	c     gosrt.Conn
	mux   *mpegts.Muxer
	buf   tsBuffer
	clock sessionClock
	sent  atomic.Uint64

	done    chan struct{}
	errOnce sync.Once
	err     error
	wg      sync.WaitGroup
}

// tsBuffer collects one unit's TS packets.
type tsBuffer struct{ b []byte }

func (t *tsBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	return len(p), nil
}

func dialSRT(ctx context.Context, t dialTarget, tracks []stream.Track, timeout time.Duration, guard *netguard.Guard) (*srtSession, error) {
	s := &srtSession{done: make(chan struct{})}
	mux, err := mpegts.NewMuxer(&s.buf, tracks, 0)
	if err != nil {
		// MPEG-TS carries H.264 or H.265 video here: AV1 in MPEG-TS is
		// only a draft of AOMedia, and the ffmpeg this runs with does not
		// demux it. An AV1 source goes out over RTMP (Enhanced RTMP, av01).
		return nil, fmt.Errorf("%w: SRT carries MPEG-TS, which takes H.264 or H.265 video here (use an rtmp:// or rtmps:// target for AV1): %w", ErrUnsupportedCodec, err)
	}
	s.mux = mux
	addr := t.addr
	if guard != nil {
		// gosrt dials by itself: resolve and check here, then dial the
		// address checked (no second resolution to rebind)
		a, err := guardedAddr(ctx, guard, t.addr)
		if err != nil {
			return nil, err
		}
		addr = a
	}
	cfg := t.srt
	cfg.ConnectionTimeout = timeout
	type result struct {
		c   gosrt.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() { // gosrt.Dial takes no context; bounded by ConnectionTimeout
		c, err := gosrt.Dial("srt", addr, cfg)
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r = <-ch
		if r.c != nil {
			_ = r.c.Close()
		}
		return nil, ctx.Err()
	}
	if r.err != nil {
		if msg, ok := strings.CutPrefix(r.err.Error(), "connection rejected: "); ok {
			return nil, &RefusedError{Code: msg, Description: "SRT handshake rejected"}
		}
		return nil, r.err
	}
	s.c = r.c
	s.wg.Add(1)
	go s.readLoop()
	return s, nil
}

// readLoop notices the peer's shutdown: a caller that only sends reads
// nothing, and Read returns when the connection ends.
func (s *srtSession) readLoop() {
	defer s.wg.Done()
	b := make([]byte, 1500)
	for {
		if _, err := s.c.Read(b); err != nil {
			s.fail(errTargetClosed)
			return
		}
	}
}

func (s *srtSession) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.done)
		_ = s.c.Close()
	})
}

func (s *srtSession) Done() <-chan struct{} { return s.done }

func (s *srtSession) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *srtSession) BytesSent() uint64 { return s.sent.Load() }

// WriteUnit muxes u and sends its TS packets.
func (s *srtSession) WriteUnit(u *stream.Unit) error {
	if err := s.Err(); err != nil {
		return err
	}
	s.clock.at(u)
	s.mux.SetBase(s.clock.base)
	s.buf.b = s.buf.b[:0]
	if err := s.mux.Write(u); err != nil {
		return err
	}
	if len(s.buf.b) == 0 {
		return nil
	}
	n, err := s.c.Write(s.buf.b)
	s.sent.Add(uint64(n))
	if err != nil {
		if errors.Is(err, gosrt.ErrClientClosed) {
			err = errTargetClosed
		}
		s.fail(err)
		return s.Err()
	}
	return nil
}

// Close ends the connection (SRT shutdown) and waits for the read loop.
func (s *srtSession) Close() {
	s.fail(errors.New("closed"))
	s.wg.Wait()
}

// guardedAddr resolves hostport and returns its first address the guard
// allows, as ip:port; an error wrapping netguard.ErrForbidden when the
// guard refuses them all.
func guardedAddr(ctx context.Context, guard *netguard.Guard, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return "", err
	}
	var last error
	for _, a := range addrs {
		if last = guard.Check(a.Unmap()); last == nil {
			return net.JoinHostPort(a.Unmap().String(), port), nil
		}
	}
	if last == nil {
		last = fmt.Errorf("%w: %s has no address", netguard.ErrForbidden, host)
	}
	return "", last
}
