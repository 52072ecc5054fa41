package srt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/mpegts"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// readBufferSize holds one SRT payload (at most 1456 bytes, SRT RFC draft
// §3.1: MSS 1500 minus headers); gosrt's Read returns one packet at a time.
const readBufferSize = 2048

// session is the publish of one admitted SRT connection. Its run goroutine
// reads and demuxes; a watch goroutine samples statistics and closes the
// connection on shutdown, takeover or idleness.
type session struct {
	srv     *Server
	conn    gosrt.Conn
	live    auth.LiveInput
	remote  string
	log     *slog.Logger
	started time.Time
	im      ingest.InputMetrics // the live input's counters

	// touched only by the run goroutine
	demux     *mpegts.Demuxer
	video     trackState
	audio     trackState
	pub       *stream.Publisher
	pending   []pendingUnit
	firstUnit time.Time
	units     uint64
	fatal     error // set by a demuxer callback; ends the session
	warned    map[string]bool

	pubCh    chan *stream.Publisher // hands the publisher to watch
	lastRead atomic.Int64           // unix ns of the last data read
	stats    statsSampler           // watch's until it exits, then run's

	mu       sync.Mutex
	closeErr error
}

type trackState struct {
	kind  stream.Kind
	first stream.Codec // codec of the first unit: the track's codec at Publish
	index int          // stream track index, -1 when not in the stream
}

type pendingUnit struct {
	t *trackState
	c stream.Codec
	u *stream.Unit
}

var _ mpegts.Sink = (*session)(nil)

func newSession(srv *Server, li auth.LiveInput, remote string, log *slog.Logger) *session {
	now := time.Now()
	se := &session{
		srv:     srv,
		live:    li,
		remote:  remote,
		log:     log,
		started: now,
		video:   trackState{kind: stream.KindVideo, index: -1},
		audio:   trackState{kind: stream.KindAudio, index: -1},
		warned:  map[string]bool{},
		pubCh:   make(chan *stream.Publisher, 1),
		im:      srv.cfg.Metrics.Input(ProtocolSRT, li.ID),
	}
	se.demux = mpegts.NewDemuxer(se, log, srv.cfg.MaxJump)
	se.stats.prevAt = now
	se.lastRead.Store(now.UnixNano())
	return se
}

// setErr records the first reason the session ends.
func (se *session) setErr(err error) {
	se.mu.Lock()
	if se.closeErr == nil {
		se.closeErr = err
	}
	se.mu.Unlock()
}

func (se *session) err() error {
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.closeErr
}

// run serves the session until the publisher leaves, an error ends it or
// ctx (the server's) is done, and returns after its watch goroutine.
func (se *session) run(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		se.watch(ctx, wctx)
	}()
	if err := se.readLoop(); err != nil {
		se.setErr(err)
	}
	cancel()
	_ = se.conn.Close()
	wg.Wait()
	se.finish()
}

// readLoop reads SRT payloads and demuxes them. A panic is recovered into
// the session's error.
func (se *session) readLoop() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
			se.log.Error("srt session panic recovered", "error", err, "stack", string(debug.Stack()))
		}
	}()
	buf := make([]byte, readBufferSize)
	for {
		n, rerr := se.conn.Read(buf)
		if n > 0 {
			now := time.Now()
			se.lastRead.Store(now.UnixNano())
			se.im.WireBytes(n)
			se.demux.Feed(buf[:n], now)
			if se.fatal != nil {
				return se.fatal
			}
			if err := se.maybePublish(now, false); err != nil {
				return err
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return fmt.Errorf("srt read: %w", rerr)
		}
	}
}

// watch closes the connection when the server stops, the publisher is
// kicked or the peer goes idle, and samples statistics meanwhile. ctx is
// the server's, wctx ends with the session.
func (se *session) watch(ctx, wctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			se.log.Error("srt session watch panic recovered", "error", fmt.Sprint(r), "stack", string(debug.Stack()))
			_ = se.conn.Close()
		}
	}()
	cfg := &se.srv.cfg
	tick := min(cfg.StatsInterval, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	nextStats := se.started.Add(cfg.StatsInterval)
	var kicked <-chan struct{}
	for {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				se.setErr(errShuttingDown)
			}
			return
		case p := <-se.pubCh:
			kicked = p.Kicked()
		case <-kicked:
			se.setErr(errKicked)
			_ = se.conn.Close()
			return
		case now := <-t.C:
			if idle := now.Sub(time.Unix(0, se.lastRead.Load())); idle > cfg.IdleTimeout {
				se.setErr(fmt.Errorf("%w: no data for %s", errIdle, idle.Round(time.Second)))
				_ = se.conn.Close()
				return
			}
			if !now.Before(nextStats) {
				nextStats = now.Add(cfg.StatsInterval)
				cfg.Stats.SessionStats(se.live.ID, se.stats.sample(se.conn, now))
			}
		}
	}
}

// finish ends the publish (the stream waits for a reconnect), reports the
// last statistics and logs how the session ended.
func (se *session) finish() {
	cfg := &se.srv.cfg
	se.srv.unregister(se)
	se.pending = nil
	cfg.Stats.SessionStats(se.live.ID, se.stats.sample(se.conn, time.Now()))
	cfg.Stats.SessionEnded(se.live.ID)
	err := se.err()
	attrs := []any{"duration", time.Since(se.started).Round(time.Millisecond), "units", se.units}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	if se.pub != nil {
		se.pub.Close()
		cfg.Metrics.SessionClosed(ProtocolSRT, se.live.ID)
		se.log.Info("srt session ended", attrs...)
		return
	}
	switch {
	case err == nil, errors.Is(err, errShuttingDown), errors.Is(err, ErrRejected):
		se.log.Info("srt session ended before its stream started", attrs...)
	default:
		reason := reasonProtocol
		if errors.Is(err, errIdle) {
			reason = reasonTimeout
		}
		cfg.Metrics.Rejected(ProtocolSRT, reason)
		se.log.Warn("srt session ended before its stream started", attrs...)
	}
}

func (se *session) warnOnce(key, msg string, attrs ...any) {
	if se.warned[key] {
		return
	}
	se.warned[key] = true
	se.log.Warn(msg, attrs...)
}

func (se *session) track(kind stream.Kind) *trackState {
	if kind == stream.KindVideo {
		return &se.video
	}
	return &se.audio
}

// Unit implements mpegts.Sink: it writes u, or queues it while the tracks
// are undecided.
func (se *session) Unit(kind stream.Kind, c stream.Codec, u *stream.Unit) {
	if se.fatal != nil {
		return
	}
	t := se.track(kind)
	if t.first != nil && c.Name() != t.first.Name() {
		se.fatal = fmt.Errorf("%w: %s track changed codec from %s to %s", ErrProtocol, kind, t.first.Name(), c.Name())
		return
	}
	if se.pub == nil {
		if t.first == nil {
			t.first = c
		}
		if se.firstUnit.IsZero() {
			se.firstUnit = u.Wall
		}
		se.pending = append(se.pending, pendingUnit{t: t, c: c, u: u})
		if len(se.pending) >= maxPendingUnits {
			if err := se.maybePublish(u.Wall, true); err != nil {
				se.fatal = err
			}
		}
		return
	}
	if t.index < 0 {
		se.warnOnce("late_track_"+kind.String(), "srt track that appeared after the stream started dropped", "kind", kind.String())
		return
	}
	se.write(t, u)
}

// TSError implements mpegts.Sink.
func (se *session) TSError(reason string) {
	se.srv.cfg.Stats.TSErrors(se.live.ID, reason, 1)
}

// Dropped implements mpegts.Sink.
func (se *session) Dropped(kind stream.Kind) {
	se.srv.cfg.Stats.UnitsDropped(se.live.ID, kind, 1)
}

func (se *session) write(t *trackState, u *stream.Unit) {
	u.Track = t.index
	se.pub.Write(u)
	se.units++
	se.im.Received(t.kind, u.Size(), u.Key)
}

// maybePublish publishes the stream once its tracks are known: every track
// the PMT announces has a decodable unit, or TrackWait passed since the
// first one, or the queue of early units is full (force).
func (se *session) maybePublish(now time.Time, force bool) error {
	if se.pub != nil {
		return nil
	}
	cfg := &se.srv.cfg
	haveV, haveA := se.video.first != nil, se.audio.first != nil
	if !haveV && !haveA {
		if now.Sub(se.started) > cfg.StartTimeout {
			return fmt.Errorf("%w: no decodable audio or video within %s", ErrProtocol, cfg.StartTimeout)
		}
		return nil
	}
	wantV, wantA := se.demux.Tracks()
	ready := (!wantV || haveV) && (!wantA || haveA)
	if !ready && !force && now.Sub(se.firstUnit) < cfg.TrackWait {
		return nil
	}
	return se.publish()
}

// publish starts the stream. Queued audio older than the first video key
// frame is dropped: readers start video there anyway.
func (se *session) publish() error {
	cfg := &se.srv.cfg
	keep := se.pending
	for _, p := range se.pending {
		if p.t == &se.video {
			start := p.u.DTS
			keep = keep[:0:0]
			for _, q := range se.pending {
				if q.t == &se.video || q.u.DTS >= start {
					keep = append(keep, q)
				}
			}
			break
		}
	}
	var tracks []stream.Track
	var names []string
	for _, t := range []*trackState{&se.video, &se.audio} {
		t.index = -1
		var c stream.Codec
		for _, p := range keep {
			if p.t == t {
				c = p.c
				break
			}
		}
		if c == nil {
			for _, p := range se.pending {
				if p.t == t {
					c = p.c // all its units predate the key frame: its latest codec
				}
			}
		}
		if c == nil {
			continue
		}
		t.first = c
		t.index = len(tracks)
		tracks = append(tracks, stream.Track{Codec: c})
		names = append(names, c.Name())
	}
	pub, err := cfg.Hub.PublishSession(se.live.ID, tracks, cfg.Takeover,
		stream.SessionInfo{Protocol: ProtocolSRT, Remote: se.remote, ReconnectWindow: se.live.ReconnectWindow})
	if err != nil {
		reason := reasonUnavailable
		if errors.Is(err, stream.ErrBusy) {
			reason = reasonBusy
		}
		cfg.Metrics.Rejected(ProtocolSRT, reason)
		se.log.Warn("srt publish rejected", "reason", reason, "error", err.Error())
		return fmt.Errorf("%w: %s: %w", ErrRejected, reason, err)
	}
	se.pub = pub
	se.pubCh <- pub
	cfg.Metrics.SessionOpened(ProtocolSRT, se.live.ID)
	se.log.Info("srt stream started", "tracks", names, "waited", time.Since(se.started).Round(time.Millisecond))
	for _, p := range keep {
		if p.u.Codec != nil && p.u.Codec.Equal(p.t.first) {
			p.u.Codec = nil
		}
		se.write(p.t, p.u)
	}
	se.pending = nil
	return nil
}
