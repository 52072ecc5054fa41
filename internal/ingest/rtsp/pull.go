package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Pull transports of a Source.
const (
	TransportAuto = "auto" // UDP, switching to TCP when no packet arrives
	TransportTCP  = "tcp"
	TransportUDP  = "udp"
)

// Pull states reported by PullStatus.State.
const (
	StateConnecting = "connecting"
	StateConnected  = "connected"
	StateRetrying   = "retrying"
)

// Defaults of PullConfig's zero fields.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Source is a camera to pull: an rtsp:// or rtsps:// URL (credentials in its
// userinfo), the transport, and whether to pull only on demand.
type Source struct {
	URL       string
	Transport string // auto | tcp | udp; "" = auto
	OnDemand  bool
}

// PullStatus is what a puller reports: its state, why it last failed and
// when it tries again. Texts never carry credentials.
type PullStatus struct {
	State       string
	LastError   string
	NextRetryAt time.Time // zero unless retrying
	Since       time.Time // when State was entered
	// Warning is set when part of the camera's stream is left out (audio
	// HLS cannot carry, tracks of other codecs).
	Warning string
}

// PullConfig configures Pullers. Zero durations take the defaults.
type PullConfig struct {
	// Hub receives the pulled streams. Required.
	Hub *stream.Hub
	// Takeover: a pulled camera replaces a live publisher (true) or waits
	// for it to leave (false).
	Takeover bool
	Metrics  ingest.Metrics // nil: ingest.NopMetrics{}
	Stats    StatsSink      // nil: NopStats{}
	Logger   *slog.Logger   // nil: discard
	// Audio, when set, transcodes G.711 audio to AAC; nil drops it.
	Audio *AudioTranscode
	// MinBackoff and MaxBackoff bound the wait between attempts, doubling
	// from the first to the second with ±20 % jitter (default 1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout ends a session whose camera sends nothing this long.
	// Default 10 s.
	ReadTimeout time.Duration
	// StartTimeout ends a session without a video key frame this long
	// after PLAY. Default 20 s.
	StartTimeout time.Duration
	// StatsInterval is how often a session's statistics reach Stats.
	// Default 5 s.
	StatsInterval time.Duration
	// OnDemandStartTimeout bounds how long the first viewer of a source
	// pulled on demand waits in Demand for the camera's stream. Default
	// 10 s.
	OnDemandStartTimeout time.Duration
	// OnDemandIdleTimeout is how long a source pulled on demand stays
	// connected after its last viewer's request. Default 10 s.
	OnDemandIdleTimeout time.Duration
}

// Pullers runs one puller per live input with a source: connect, DESCRIBE,
// SETUP, PLAY (RFC 2326 §10.2-10.5), feed the hub, and reconnect with
// backoff until the live input is removed or disabled.
type Pullers struct {
	cfg PullConfig
	log *slog.Logger

	mu     sync.Mutex
	m      map[string]*puller
	closed bool
	wg     sync.WaitGroup
}

// NewPullers returns an empty set of pullers.
func NewPullers(cfg PullConfig) (*Pullers, error) {
	if cfg.Hub == nil {
		return nil, errors.New("rtsp: pull config: Hub is required")
	}
	if cfg.Metrics == nil {
		cfg.Metrics = ingest.NopMetrics{}
	}
	if cfg.Stats == nil {
		cfg.Stats = NopStats{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{&cfg.MinBackoff, DefaultMinBackoff}, {&cfg.MaxBackoff, DefaultMaxBackoff}, {&cfg.ReadTimeout, DefaultReadTimeout}, {&cfg.StartTimeout, DefaultStartTimeout}, {&cfg.StatsInterval, DefaultStatsInterval},
		{&cfg.OnDemandStartTimeout, DefaultOnDemandStartTimeout}, {&cfg.OnDemandIdleTimeout, DefaultOnDemandIdleTimeout}} {
		if *d.p <= 0 {
			*d.p = d.v
		}
	}
	return &Pullers{cfg: cfg, log: cfg.Logger.With("protocol", ProtocolRTSP, "role", "pull"), m: map[string]*puller{}}, nil
}

// ValidateSource checks a source's URL and transport; the error is fit
// for an API client and never quotes the URL.
func ValidateSource(s Source) error {
	if len(s.URL) > 2048 {
		return errors.New("url is longer than 2048 characters")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" || u.Hostname() == "" {
		return errors.New("url must be rtsp://[user:password@]host[:port]/path or rtsps://...")
	}
	if u.Fragment != "" || strings.ContainsAny(s.URL, " \t\r\n") {
		return errors.New("url must not contain a fragment or white space")
	}
	switch s.Transport {
	case "", TransportAuto, TransportTCP, TransportUDP:
	default:
		return errors.New(`transport must be "auto", "tcp" or "udp"`)
	}
	if u.Scheme == "rtsps" && s.Transport == TransportUDP {
		return errors.New("rtsps pulls over tcp")
	}
	return nil
}

// RedactURL returns raw with the password of its userinfo replaced by
// "***" (for logs and the API).
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
	}
	return strings.Replace(u.String(), ":%2A%2A%2A@", ":***@", 1)
}

// Set starts pulling src into li, or restarts the puller when the source
// or the input changed. Idempotent for an unchanged pair.
func (ps *Pullers) Set(li auth.LiveInput, src Source) error {
	if err := ValidateSource(src); err != nil {
		return err
	}
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return errors.New("rtsp pullers closed")
	}
	old := ps.m[li.ID]
	if old != nil && old.src == src && old.live == li {
		ps.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	pl := &puller{ps: ps, live: li, src: src, cancel: cancel, done: make(chan struct{}),
		wake: make(chan struct{}, 1), ready: make(chan struct{}),
		log: ps.log.With("live_input", li.ID, "camera", RedactURL(src.URL))}
	pl.status = PullStatus{State: StateConnecting, Since: time.Now()}
	if src.OnDemand {
		pl.status.State = StateIdle
	}
	ps.m[li.ID] = pl
	ps.wg.Add(1)
	ps.mu.Unlock()
	if old != nil {
		old.stop()
	}
	go func() {
		defer ps.wg.Done()
		defer close(pl.done)
		pl.run(ctx)
	}()
	return nil
}

// Remove stops pulling into live input id (if it pulls) and waits for its
// session to end.
func (ps *Pullers) Remove(id string) {
	ps.mu.Lock()
	pl := ps.m[id]
	delete(ps.m, id)
	ps.mu.Unlock()
	if pl != nil {
		pl.stop()
	}
}

// IDs are the live inputs being pulled.
func (ps *Pullers) IDs() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]string, 0, len(ps.m))
	for id := range ps.m {
		out = append(out, id)
	}
	return out
}

// Status reports the puller of live input id.
func (ps *Pullers) Status(id string) (PullStatus, bool) {
	ps.mu.Lock()
	pl := ps.m[id]
	ps.mu.Unlock()
	if pl == nil {
		return PullStatus{}, false
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.status, true
}

// Close stops every puller and waits for them. Idempotent.
func (ps *Pullers) Close() {
	ps.mu.Lock()
	ps.closed = true
	all := ps.m
	ps.m = map[string]*puller{}
	ps.mu.Unlock()
	for _, pl := range all {
		pl.cancel()
	}
	ps.wg.Wait()
}

// puller pulls one camera into one live input.
type puller struct {
	ps     *Pullers
	live   auth.LiveInput
	src    Source
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // a viewer arrived (Demand); capacity 1

	mu         sync.Mutex
	status     PullStatus
	holds      int           // viewers holding the stream now (Demand)
	lastDemand time.Time     // the last Demand or release
	ready      chan struct{} // closed while the session's stream is in the hub
}

func (pl *puller) stop() {
	pl.cancel()
	<-pl.done
}

func (pl *puller) setStatus(st PullStatus) {
	st.Since = time.Now()
	pl.mu.Lock()
	if st.Warning == "" && st.State != StateConnected {
		st.Warning = pl.status.Warning
	}
	pl.status = st
	pl.mu.Unlock()
}

// run connects until ctx ends, waiting between attempts: MinBackoff
// doubling to MaxBackoff, ±20 % jitter, back to MinBackoff after a
// session that delivered media for longer than MaxBackoff. A source
// pulled on demand connects only while someone watches (Demand).
func (pl *puller) run(ctx context.Context) {
	cfg := &pl.ps.cfg
	backoff := cfg.MinBackoff
	for {
		if !pl.waitViewer(ctx) {
			pl.log.Info("rtsp pull stopped")
			return
		}
		pl.setStatus(PullStatus{State: StateConnecting})
		played, err := pl.session(ctx)
		if ctx.Err() != nil {
			pl.log.Info("rtsp pull stopped")
			return
		}
		if errors.Is(err, errNoViewers) {
			backoff = cfg.MinBackoff
			continue
		}
		if played > cfg.MaxBackoff {
			backoff = cfg.MinBackoff
		}
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		msg := pl.redact(err)
		pl.setStatus(PullStatus{State: StateRetrying, LastError: msg, NextRetryAt: time.Now().Add(wait)})
		pl.log.Warn("rtsp pull failed, retrying", "error", msg, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			pl.log.Info("rtsp pull stopped")
			return
		case <-t.C:
		}
		backoff = min(backoff*2, cfg.MaxBackoff)
	}
}

// redact turns err into text without the source's credentials.
func (pl *puller) redact(err error) string {
	if err == nil {
		return "camera ended the session"
	}
	s := err.Error()
	if u, perr := url.Parse(pl.src.URL); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	return strings.ReplaceAll(s, pl.src.URL, RedactURL(pl.src.URL))
}

// session plays the camera once, until it fails or ctx ends; it returns
// how long media flowed into the hub.
func (pl *puller) session(ctx context.Context) (time.Duration, error) {
	cfg := &pl.ps.cfg
	u, err := base.ParseURL(pl.src.URL)
	if err != nil {
		return 0, fmt.Errorf("parse url: %w", err)
	}
	c := &gortsplib.Client{
		ReadTimeout:   cfg.ReadTimeout,
		OnPacketsLost: func(uint64) {}, // the feeder counts gaps
		OnDecodeError: func(error) {},
		OnTransportSwitch: func(err error) {
			pl.log.Info("rtsp pull switched transport", "reason", pl.redact(err))
		},
	}
	switch pl.src.Transport {
	case TransportTCP:
		t := gortsplib.TransportTCP
		c.Transport = &t
	case TransportUDP:
		t := gortsplib.TransportUDP
		c.Transport = &t
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	// the client's requests block until answered or ReadTimeout; ctx ends
	// them by closing the client
	stopOnCtx := context.AfterFunc(ctx, c.Close)
	defer stopOnCtx()

	desc, res, err := c.Describe(u)
	if err != nil {
		return 0, fmt.Errorf("describe: %w", err)
	}
	if res != nil && len(res.Body) > MaxSDPSize {
		return 0, fmt.Errorf("describe: session description of %d bytes (at most %d)", len(res.Body), MaxSDPSize)
	}
	p, err := planTracks(desc)
	if err != nil {
		return 0, err
	}
	var warn []string
	if len(p.ignored) > 0 {
		warn = append(warn, "tracks ignored: "+strings.Join(p.ignored, "; "))
	}
	for _, m := range p.medias() {
		if _, err := c.Setup(desc.BaseURL, m, 0, 0); err != nil {
			return 0, fmt.Errorf("setup: %w", err)
		}
	}
	var (
		stats   counters
		pubMu   sync.Mutex
		pub     *stream.Publisher
		started time.Time
		pubCh   = make(chan *stream.Publisher, 1)
		fatal   = make(chan error, 1)
	)
	f, err := newFeeder(p, func(tracks []stream.Track) (*stream.Publisher, error) {
		np, err := cfg.Hub.PublishSession(pl.live.ID, tracks, cfg.Takeover,
			stream.SessionInfo{Protocol: ProtocolRTSP, Remote: u.Host, ReconnectWindow: pl.live.ReconnectWindow})
		if err != nil {
			return nil, err
		}
		pubMu.Lock()
		pub, started = np, time.Now()
		pubMu.Unlock()
		pubCh <- np
		pl.published()
		cfg.Metrics.SessionOpened(ProtocolRTSP, pl.live.ID)
		pl.log.Info("rtsp pull stream started", "tracks", p.names())
		return np, nil
	}, &stats, cfg.Metrics, ProtocolRTSP, pl.live.ID, pl.log)
	if err != nil {
		return 0, err
	}
	if p.g711 {
		if err := f.startG711(ctx, cfg.Audio); err != nil {
			warn = append(warn, "g711 audio dropped: HLS cannot carry it and it cannot be transcoded ("+err.Error()+")")
		} else {
			defer f.closeEncoder() // after c.Close: no packet feeds it any more
		}
	}
	c.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		if err := f.packet(c, medi, pkt, time.Now()); err != nil {
			select {
			case fatal <- err:
			default:
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return 0, fmt.Errorf("play: %w", err)
	}
	pl.setStatus(PullStatus{State: StateConnected, Warning: strings.Join(warn, "; ")})
	pl.log.Info("rtsp pull connected", "tracks", p.names(), "transport", pl.src.Transport)

	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	startT := time.NewTimer(cfg.StartTimeout)
	defer startT.Stop()
	tick := time.NewTicker(cfg.StatsInterval)
	defer tick.Stop()
	idleC, stopIdle := pl.idleTicker()
	defer stopIdle()
	var kicked <-chan struct{}
	for err == nil {
		select {
		case <-idleC:
			if pl.idleNow() {
				err = errNoViewers
			}
		case <-tick.C:
			stats.report(cfg.Stats, pl.live.ID, f.started())
		case <-ctx.Done():
			err = ctx.Err()
		case e := <-waitErr:
			err = e
			waitErr = nil
		case e := <-fatal:
			err = e
		case np := <-pubCh:
			kicked = np.Kicked()
		case <-kicked:
			err = errKicked
		case <-startT.C:
			if !f.started() {
				err = fmt.Errorf("%w within %s", errStartTimeout, cfg.StartTimeout)
			}
		}
	}
	c.Close()
	if waitErr != nil {
		<-waitErr
	}
	stats.report(cfg.Stats, pl.live.ID, f.started())
	stats.ended(cfg.Stats, pl.live.ID)
	pubMu.Lock()
	defer pubMu.Unlock()
	if pub == nil {
		return 0, err
	}
	pl.unpublished()
	pub.Close()
	cfg.Metrics.SessionClosed(ProtocolRTSP, pl.live.ID)
	if errors.Is(err, errNoViewers) {
		pl.log.Info("rtsp pull disconnected: no viewers", "idle_after", cfg.OnDemandIdleTimeout)
	}
	pl.log.Info("rtsp pull session ended", "units", stats.units.Load(), "lost", stats.lost.Load(), "error", pl.redact(err))
	return time.Since(started), err
}
