package stream

import (
	"errors"
	"sync"
	"time"
)

// Errors returned by Hub.Publish.
var (
	// ErrBusy means the live input already has a publisher and the policy is
	// to reject the newcomer.
	ErrBusy = errors.New("live input already has a publisher")
	// ErrHubClosed means the hub is shutting down.
	ErrHubClosed = errors.New("hub closed")
)

// HubConfig configures a Hub.
type HubConfig struct {
	// ReconnectWindow is how long a stream outlives its publisher, waiting
	// for the same live input to publish again. Default 10 s.
	ReconnectWindow time.Duration
	// OnStart is called (without locks held) when a new stream starts, before
	// its first unit is written. It builds the stream's processing graph.
	OnStart func(s *Stream)
	// OnEnd is called (without locks held) after a stream ended.
	OnEnd func(s *Stream)
	// OnRendition is called (without locks held) when a rendition of a
	// live input's stream is published (Stream.PublishRendition), before
	// its first unit is written. It attaches the rendition to the live
	// input's graph.
	OnRendition func(s *Stream)
	// OnDrop is called when a reader drops a unit; must be cheap.
	OnDrop func(streamID, reader string)
	// OnConnect is called (without locks held) when a publisher attaches:
	// a new stream, a reconnect within the window, or a takeover.
	OnConnect func(s *Stream, info SessionInfo)
	// OnDisconnect is called (without locks held) when a publisher leaves or
	// is kicked; the stream then waits for a reconnect or ends.
	OnDisconnect func(s *Stream, info SessionInfo)
}

// SessionInfo describes a publishing session. Remote is the peer address;
// it goes to logs and the API, never into metric labels.
type SessionInfo struct {
	Protocol  string    // rtmp, rtmps, srt, whip
	Remote    string    // host:port of the publisher
	StartedAt time.Time // when the publisher attached
	// ReconnectWindow, when > 0, replaces HubConfig.ReconnectWindow for the
	// stream when this publisher leaves (a per-live-input setting).
	ReconnectWindow time.Duration
}

// Hub owns the live streams, one per live input id, and enforces one
// publisher per stream.
type Hub struct {
	cfg HubConfig

	mu      sync.Mutex
	entries map[string]*entry
	rends   map[string]*Stream // published renditions by RenditionKey
	closed  bool
	wg      sync.WaitGroup // OnEnd callbacks in flight
}

type entry struct {
	s     *Stream
	pub   *Publisher // nil while waiting for a reconnect
	timer *time.Timer
	gen   uint64
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.ReconnectWindow <= 0 {
		cfg.ReconnectWindow = 10 * time.Second
	}
	return &Hub{cfg: cfg, entries: map[string]*entry{}, rends: map[string]*Stream{}}
}

// Get returns the live stream of id, or the rendition stream of
// RenditionKey id, or nil.
func (h *Hub) Get(id string) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.entries[id]; e != nil {
		return e.s
	}
	return h.rends[id]
}

// Streams returns the ids of the streams alive now.
func (h *Hub) Streams() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.entries))
	for id := range h.entries {
		ids = append(ids, id)
	}
	return ids
}

// Publish attaches a publisher with the given tracks to the stream of id.
// If the stream is waiting in its reconnect window and the tracks are of the
// same kinds, the same stream continues and each track's next unit is marked
// as a discontinuity. If a publisher is already live, Publish returns ErrBusy
// unless takeover is set, in which case the old publisher is kicked.
func (h *Hub) Publish(id string, tracks []Track, takeover bool) (*Publisher, error) {
	return h.PublishSession(id, tracks, takeover, SessionInfo{})
}

// PublishSession is Publish with a description of the session, reported to
// OnConnect/OnDisconnect and by Session.
func (h *Hub) PublishSession(id string, tracks []Track, takeover bool, info SessionInfo) (*Publisher, error) {
	if info.StartedAt.IsZero() {
		info.StartedAt = time.Now()
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	var kicked *Publisher
	var ended *Stream
	e := h.entries[id]
	if e != nil && e.pub != nil {
		if !takeover {
			h.mu.Unlock()
			return nil, ErrBusy
		}
		kicked = e.pub
		e.pub = nil
	}
	if e != nil && !sameKinds(e.s.Tracks(), tracks) {
		// a different shape of stream: end the old one, start anew
		h.stopTimer(e)
		delete(h.entries, id)
		ended = e.s
		e = nil
	}
	started := false
	if e == nil {
		e = &entry{s: newStream(id, tracks, h.cfg.OnDrop)}
		e.s.hub = h
		h.entries[id] = e
		started = true
	} else {
		h.stopTimer(e)
	}
	e.gen++
	p := &Publisher{hub: h, e: e, gen: e.gen, info: info, kicked: make(chan struct{}), disc: make([]bool, len(tracks))}
	if !started {
		for i := range p.disc {
			p.disc[i] = true
		}
	}
	e.pub = p
	h.mu.Unlock()

	if kicked != nil {
		kicked.kickOnce.Do(func() { close(kicked.kicked) })
		h.disconnected(e.s, kicked)
	}
	if ended != nil {
		h.finish(ended)
	}
	if started && h.cfg.OnStart != nil {
		h.cfg.OnStart(e.s)
	}
	if h.cfg.OnConnect != nil {
		h.cfg.OnConnect(e.s, info)
	}
	return p, nil
}

// stopTimer cancels e's reconnect timer; a timer stopped before it fired
// releases its WaitGroup slot here. Called with h.mu held.
func (h *Hub) stopTimer(e *entry) {
	if e.timer != nil && e.timer.Stop() {
		h.wg.Done()
	}
	e.timer = nil
}

func sameKinds(a, b []Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind() != b[i].Kind() {
			return false
		}
	}
	return true
}

func (h *Hub) finish(s *Stream) {
	s.end()
	if h.cfg.OnEnd != nil {
		h.cfg.OnEnd(s)
	}
}

// detach is called when a publisher leaves; the stream waits for a reconnect.
func (h *Hub) detach(p *Publisher, now bool) {
	h.mu.Lock()
	e := p.e
	if h.entries[e.s.id] != e || e.pub != p {
		h.mu.Unlock()
		return
	}
	e.pub = nil
	if now || h.closed {
		delete(h.entries, e.s.id)
		h.mu.Unlock()
		h.disconnected(e.s, p)
		h.finish(e.s)
		return
	}
	gen := e.gen
	h.wg.Add(1)
	window := h.cfg.ReconnectWindow
	if p.info.ReconnectWindow > 0 {
		window = p.info.ReconnectWindow
	}
	e.timer = time.AfterFunc(window, func() {
		defer h.wg.Done()
		h.mu.Lock()
		if h.entries[e.s.id] != e || e.pub != nil || e.gen != gen {
			h.mu.Unlock()
			return
		}
		delete(h.entries, e.s.id)
		h.mu.Unlock()
		h.finish(e.s)
	})
	h.mu.Unlock()
	h.disconnected(e.s, p)
}

// disconnected reports a publisher's departure once.
func (h *Hub) disconnected(s *Stream, p *Publisher) {
	p.reportOnce.Do(func() {
		if h.cfg.OnDisconnect != nil {
			h.cfg.OnDisconnect(s, p.info)
		}
	})
}

// Session returns the session of the live publisher of id, if any.
func (h *Hub) Session(id string) (SessionInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.entries[id]; e != nil && e.pub != nil {
		return e.pub.info, true
	}
	return SessionInfo{}, false
}

// State reports whether id has a stream and whether a publisher is attached
// (false while the stream waits in its reconnect window).
func (h *Hub) State(id string) (live, publishing bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[id]
	return e != nil, e != nil && e.pub != nil
}

// Kick disconnects the live publisher of id (its ingest session sees
// Kicked and closes); the stream waits for a reconnect. It reports whether
// there was a publisher.
func (h *Hub) Kick(id string) bool {
	h.mu.Lock()
	e := h.entries[id]
	if e == nil || e.pub == nil {
		h.mu.Unlock()
		return false
	}
	p := e.pub
	h.mu.Unlock()
	p.kickOnce.Do(func() { close(p.kicked) })
	p.Close()
	return true
}

// End disconnects the publisher of id, if any, and ends its stream now,
// without a reconnect window. It reports whether there was a stream.
func (h *Hub) End(id string) bool {
	h.mu.Lock()
	e := h.entries[id]
	if e == nil {
		h.mu.Unlock()
		return false
	}
	p := e.pub
	h.stopTimer(e)
	delete(h.entries, id)
	e.pub = nil
	h.mu.Unlock()
	if p != nil {
		p.kickOnce.Do(func() { close(p.kicked) })
		h.disconnected(e.s, p)
	}
	h.finish(e.s)
	return true
}

// Close ends every stream at once (ENDLIST for HLS) and refuses new
// publishers; idempotent. It returns after OnEnd has run for every stream.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	var ended []*Stream
	var kickedPubs []*Publisher
	for id, e := range h.entries {
		h.stopTimer(e)
		if e.pub != nil {
			p := e.pub
			p.kickOnce.Do(func() { close(p.kicked) })
			kickedPubs = append(kickedPubs, p)
		}
		ended = append(ended, e.s)
		delete(h.entries, id)
	}
	h.mu.Unlock()
	for _, p := range kickedPubs {
		h.disconnected(p.e.s, p)
	}
	for _, s := range ended {
		h.finish(s)
	}
	h.wg.Wait()
}

// Publisher is the write side of a stream, held by one ingest session.
type Publisher struct {
	hub        *Hub
	e          *entry
	gen        uint64
	info       SessionInfo
	kicked     chan struct{}
	kickOnce   sync.Once
	reportOnce sync.Once
	disc       []bool
	once       sync.Once
}

// Stream is the stream the publisher writes to.
func (p *Publisher) Stream() *Stream { return p.e.s }

// Kicked is closed when another publisher took the stream over or the hub is
// closing; the ingest session should then disconnect.
func (p *Publisher) Kicked() <-chan struct{} { return p.kicked }

// Write sends a unit to every reader. Units written after the publisher was
// kicked are discarded. The first unit of each track after a reconnect is
// marked as a discontinuity.
func (p *Publisher) Write(u *Unit) {
	select {
	case <-p.kicked:
		return
	default:
	}
	if u.Track < len(p.disc) && p.disc[u.Track] {
		p.disc[u.Track] = false
		if !u.Discontinuity {
			c := *u
			c.Discontinuity = true
			u = &c
		}
	}
	p.e.s.write(u)
}

// Close detaches the publisher. The stream waits ReconnectWindow for the same
// live input to publish again before it ends. Idempotent.
func (p *Publisher) Close() { p.once.Do(func() { p.hub.detach(p, false) }) }

// End detaches the publisher and ends the stream at once, without a
// reconnect window. Idempotent with Close.
func (p *Publisher) End() { p.once.Do(func() { p.hub.detach(p, true) }) }

// Rendition returns the stream of rendition name of the live input
// liveInputID while it is published, or nil.
func (h *Hub) Rendition(liveInputID, name string) *Stream {
	return h.Get(RenditionKey(liveInputID, name))
}
