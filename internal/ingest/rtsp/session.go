package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// session is one admitted publisher, from ANNOUNCE to the end of its RTSP
// session. The library's goroutines deliver packets to its feeder; its
// watch goroutine (owned by the Server) closes it when it is kicked or
// never starts.
type session struct {
	srv     *Server
	rs      *gortsplib.ServerSession
	live    auth.LiveInput
	remote  string
	log     *slog.Logger
	started time.Time
	plan    plan
	stats   counters
	statsMu sync.Mutex // serializes stats.report (watch, finish)
	feeder  *feeder

	pubCh chan *stream.Publisher // hands the publisher to watch
	done  chan struct{}          // closed by finish

	mu       sync.Mutex
	pub      *stream.Publisher
	closeErr error
	finished bool
}

func newSession(srv *Server, rs *gortsplib.ServerSession, li auth.LiveInput, remote string, p plan, log *slog.Logger) (*session, error) {
	se := &session{
		srv: srv, rs: rs, live: li, remote: remote, log: log, started: time.Now(), plan: p,
		pubCh: make(chan *stream.Publisher, 1), done: make(chan struct{}),
	}
	f, err := newFeeder(p, se.publish, &se.stats, srv.cfg.Metrics, srv.protocol, li.ID, log)
	if err != nil {
		return nil, err
	}
	se.feeder = f
	if p.g711 {
		if err := f.startG711(srv.ctx, srv.cfg.Audio); err != nil {
			log.Warn("rtsp g711 audio dropped: HLS cannot carry it and it cannot be transcoded", "codec", p.audio.format.Codec(), "reason", err.Error())
		} else {
			log.Info("rtsp g711 audio transcoded to aac", "codec", p.audio.format.Codec())
		}
	}
	return se, nil
}

func (se *session) setErr(err error) {
	se.mu.Lock()
	if se.closeErr == nil {
		se.closeErr = err
	}
	se.mu.Unlock()
}

// publish attaches the stream to the hub (the feeder calls it at the first
// key frame).
func (se *session) publish(tracks []stream.Track) (*stream.Publisher, error) {
	cfg := &se.srv.cfg
	pub, err := cfg.Hub.PublishSession(se.live.ID, tracks, cfg.Takeover,
		stream.SessionInfo{Protocol: se.srv.protocol, Remote: se.remote, ReconnectWindow: se.live.ReconnectWindow})
	if err != nil {
		reason := reasonUnavailable
		if errors.Is(err, stream.ErrBusy) {
			reason = reasonBusy
		}
		cfg.Metrics.Rejected(se.srv.protocol, reason)
		se.log.Warn("rtsp publish refused by the hub", "reason", reason, "error", err.Error())
		return nil, fmt.Errorf("%w: %s: %w", ErrRejected, reason, err)
	}
	se.mu.Lock()
	se.pub = pub
	se.mu.Unlock()
	se.pubCh <- pub
	cfg.Metrics.SessionOpened(se.srv.protocol, se.live.ID)
	names := make([]string, len(tracks))
	for i, t := range tracks {
		names[i] = t.Codec.Name()
	}
	se.log.Info("rtsp stream started", "tracks", names, "waited", time.Since(se.started).Round(time.Millisecond))
	return pub, nil
}

// record starts the flow of packets into the feeder.
func (se *session) record(rs *gortsplib.ServerSession) {
	rs.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		if err := se.feeder.packet(rs, medi, pkt, time.Now()); err != nil {
			se.setErr(err)
			rs.Close()
		}
	})
}

// watch closes the RTSP session when its publisher is kicked, when its
// stream does not start in time, or when the server stops.
func (se *session) watch(ctx context.Context) {
	start := time.NewTimer(se.srv.cfg.StartTimeout)
	defer start.Stop()
	tick := time.NewTicker(se.srv.cfg.StatsInterval)
	defer tick.Stop()
	var kicked <-chan struct{}
	for {
		select {
		case <-tick.C:
			se.statsMu.Lock()
			se.stats.report(se.srv.cfg.Stats, se.live.ID, se.feeder.started())
			se.statsMu.Unlock()
		case <-se.done:
			return
		case <-ctx.Done():
			se.rs.Close()
			return
		case p := <-se.pubCh:
			kicked = p.Kicked()
		case <-kicked:
			se.setErr(errKicked)
			se.rs.Close()
			return
		case <-start.C:
			if !se.feeder.started() {
				se.setErr(fmt.Errorf("%w within %s", errStartTimeout, se.srv.cfg.StartTimeout))
				se.srv.cfg.Metrics.Rejected(se.srv.protocol, reasonTimeout)
				se.rs.Close()
				return
			}
		}
	}
}

// finish ends the publish (the stream waits for a reconnect) and logs how
// the session ended. Called once, when the RTSP session closes.
func (se *session) finish(cause error) {
	se.mu.Lock()
	if se.finished {
		se.mu.Unlock()
		return
	}
	se.finished = true
	pub, err := se.pub, se.closeErr
	se.mu.Unlock()
	close(se.done)
	se.srv.unregister(se)
	se.feeder.closeEncoder()
	if err == nil && cause != nil {
		err = cause
	}
	st := &se.stats
	se.statsMu.Lock()
	st.report(se.srv.cfg.Stats, se.live.ID, se.feeder.started())
	st.ended(se.srv.cfg.Stats, se.live.ID)
	se.statsMu.Unlock()
	attrs := []any{"duration", time.Since(se.started).Round(time.Millisecond), "units", st.units.Load(),
		"packets", st.packets.Load(), "lost", st.lost.Load(), "dropped_units", st.unitsDropped.Load()}
	if err != nil {
		attrs = append(attrs, "error", redactPath(err.Error()))
	}
	if pub != nil {
		pub.Close()
		se.srv.cfg.Metrics.SessionClosed(se.srv.protocol, se.live.ID)
		se.log.Info("rtsp session ended", attrs...)
		return
	}
	se.log.Info("rtsp session ended before its stream started", attrs...)
}
