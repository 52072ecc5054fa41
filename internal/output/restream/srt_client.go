package restream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/mpegts"
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

func dialSRT(ctx context.Context, t dialTarget, tracks []stream.Track, timeout time.Duration) (*srtSession, error) {
	s := &srtSession{done: make(chan struct{})}
	mux, err := mpegts.NewMuxer(&s.buf, tracks, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedCodec, err)
	}
	s.mux = mux
	cfg := t.srt
	cfg.ConnectionTimeout = timeout
	type result struct {
		c   gosrt.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() { // gosrt.Dial takes no context; bounded by ConnectionTimeout
		c, err := gosrt.Dial("srt", t.addr, cfg)
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
