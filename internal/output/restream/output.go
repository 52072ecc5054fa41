package restream

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ErrStalled means a write made no progress within the stall timeout.
var ErrStalled = errors.New("target stalled")

// Defaults of Config.
const (
	DefaultQueueSize    = 256 // units: about 4 s of 30 fps video and its audio
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 30 * time.Second
	DefaultStallTimeout = 10 * time.Second
	DefaultDialTimeout  = 10 * time.Second
	DefaultMaxRefusals  = 3
	// staleGrace: refusals this soon after a broadcast of ours ended do
	// not count towards MaxRefusals. A target that has not yet noticed
	// our dropped connection (a stall, a network cut) still holds its
	// publish and refuses the name as taken (NetStream.Publish.BadName,
	// REJX_CONFLICT) until its own timeout, which is no lasting refusal.
	staleGrace = 30 * time.Second
)

// EventKind is what happened to an output.
type EventKind int

// Output events.
const (
	// EventConnected: the target accepted the publish.
	EventConnected EventKind = iota + 1
	// EventDisconnected: a broadcasting output lost its target or stopped.
	EventDisconnected
	// EventErrored: the output gave up until it is edited or the next
	// broadcast (see StateErrored).
	EventErrored
)

// Event is reported to the Observer, outside any lock.
type Event struct {
	Kind        EventKind
	LiveInputID string
	OutputID    string
	Status      Status
}

// Observer receives an output's events; it must not block.
type Observer interface {
	OutputEvent(Event)
}

// Config configures an Output. Zero values take the defaults above.
type Config struct {
	ID          string // the output's id (logs, events)
	LiveInputID string
	Target      Target
	Observer    Observer     // may be nil
	Logger      *slog.Logger // default: discard
	// RootCAs verifies rtmps targets; nil means the system's roots.
	RootCAs *x509.CertPool
	// Guard refuses targets on special-purpose addresses (loopback,
	// private networks, cloud metadata: server-side request forgery); a
	// refused target is errored at once. nil: no guard.
	Guard        *netguard.Guard
	QueueSize    int
	MinBackoff   time.Duration // first retry delay, doubled per failure
	MaxBackoff   time.Duration
	StallTimeout time.Duration // no write progress this long: reconnect
	DialTimeout  time.Duration // connect + handshake + publish
	MaxRefusals  int           // refusals in a row before errored
}

// session is one connection to a target.
type session interface {
	WriteUnit(u *stream.Unit) error
	// Done is closed when the session failed on its own; Err says why.
	Done() <-chan struct{}
	Err() error
	BytesSent() uint64
	Close()
}

// Output pushes one live stream to one target: it connects, publishes from
// the next key frame, and reconnects with backoff (MinBackoff doubling to
// MaxBackoff, ±20 % jitter) for as long as the stream lives. Each
// connection reads the stream through its own bounded reader, so a slow
// target drops (counted) and resumes at a key frame without slowing the
// stream or other readers.
type Output struct {
	cfg    Config
	target dialTarget
	terr   error
	log    *slog.Logger

	// connect opens a session; the tests replace it with a slow session.
	connect func(ctx context.Context, s *stream.Stream) (session, error)

	mu        sync.Mutex
	st        Status
	bytesBase uint64 // bytes of finished sessions
	dropBase  uint64 // drops of finished readers
	sess      session
	reader    *stream.Reader
	rateAt    time.Time
	rateBytes uint64
}

// New returns an idle Output; an unusable URL shows as errored once Run
// starts.
func New(cfg Config) *Output {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxRefusals <= 0 {
		cfg.MaxRefusals = DefaultMaxRefusals
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Output{cfg: cfg, st: Status{State: StateIdle}}
	o.target, o.terr = parseTarget(cfg.Target)
	o.connect = o.dial
	o.log = cfg.Logger.With("live_input", cfg.LiveInputID, "output", cfg.ID, "target", MaskTarget(cfg.Target))
	return o
}

// Status returns a snapshot of the output's status.
func (o *Output) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.st
	st.BytesSent = o.bytesBase
	st.DroppedFrames = o.dropBase
	if o.sess != nil {
		st.BytesSent += o.sess.BytesSent()
	}
	if o.reader != nil {
		st.DroppedFrames += o.reader.Dropped()
	}
	if st.State != StateBroadcasting || time.Since(o.rateAt) > 3*time.Second {
		st.BitrateBPS = 0
	}
	return st
}

// Run pushes s until it ends or ctx is done; the status is then idle
// (or stays errored). It returns nil: failures are in the status.
func (o *Output) Run(ctx context.Context, s *stream.Stream) error {
	if o.terr != nil {
		o.errored(CodeInvalidTargetURL, o.terr.Error())
		return nil
	}
	backoff := o.cfg.MinBackoff
	refusals := 0
	var lastLive time.Time // when the last accepted session ended
	for {
		if o.over(ctx, s) {
			o.setState(StateIdle)
			return nil
		}
		o.mu.Lock()
		o.st.State, o.st.NextRetryAt = StateConnecting, nil
		o.st.Attempts++
		o.mu.Unlock()
		sess, err := o.connect(ctx, s)
		connected := err == nil
		if connected {
			refusals, backoff = 0, o.cfg.MinBackoff
			err = o.broadcast(ctx, s, sess)
			lastLive = time.Now()
			if err == nil {
				o.setState(StateIdle)
				return nil
			}
		}
		if o.over(ctx, s) {
			o.setState(StateIdle)
			return nil
		}
		code, msg := classify(err, connected)
		permanent := code == CodeUnsupportedCodec || code == CodeForbiddenTarget
		if code == CodeRefused {
			if lastLive.IsZero() || time.Since(lastLive) > staleGrace {
				refusals++
			}
			permanent = refusals >= o.cfg.MaxRefusals
		}
		if permanent {
			o.errored(code, msg)
			return nil
		}
		wait := jitter(backoff)
		backoff = min(2*backoff, o.cfg.MaxBackoff)
		next := time.Now().Add(wait)
		o.mu.Lock()
		o.st.State, o.st.NextRetryAt = StateRetrying, &next
		o.st.LastError = &LastError{Code: code, Message: msg, At: time.Now().UTC()}
		o.mu.Unlock()
		o.log.Warn("restream output failed; retrying", "code", code, "error", msg, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-s.Ended():
			t.Stop()
		}
	}
}

func (o *Output) over(ctx context.Context, s *stream.Stream) bool {
	select {
	case <-ctx.Done():
		return true
	case <-s.Ended():
		return true
	default:
		return false
	}
}

func (o *Output) dial(ctx context.Context, s *stream.Stream) (session, error) {
	tracks := s.Tracks()
	if o.target.scheme == "srt" {
		return dialSRT(ctx, o.target, tracks, o.cfg.DialTimeout, o.cfg.Guard)
	}
	return dialRTMP(ctx, o.target, tracks, rtmpDial{timeout: o.cfg.DialTimeout, roots: o.cfg.RootCAs, skip: o.cfg.Target.TLSSkipVerify, guard: o.cfg.Guard}, o.cfg.StallTimeout)
}

// broadcast pumps s into sess until the stream ends or ctx is done (nil),
// or the session fails (its error).
func (o *Output) broadcast(ctx context.Context, s *stream.Stream, sess session) error {
	r := s.AddReader("restream", stream.ReaderOptions{QueueSize: o.cfg.QueueSize})
	now := time.Now()
	o.mu.Lock()
	o.sess, o.reader = sess, r
	o.st.State, o.st.ConnectedAt, o.st.NextRetryAt, o.st.Attempts = StateBroadcasting, ptr(now.UTC()), nil, 0
	o.rateAt, o.rateBytes = now, 0
	o.mu.Unlock()
	o.log.Info("restream output broadcasting")
	o.emit(EventConnected)

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	err := o.pump(sctx, r, sess)
	cancel()
	wg.Wait()
	sess.Close()
	r.Close()

	o.mu.Lock()
	o.bytesBase += sess.BytesSent()
	o.dropBase += r.Dropped()
	o.sess, o.reader = nil, nil
	o.st.BitrateBPS = 0
	o.mu.Unlock()
	o.emit(EventDisconnected)
	return err
}

func (o *Output) pump(ctx context.Context, r *stream.Reader, sess session) error {
	for {
		u, err := r.Next(ctx)
		if err == nil {
			err = ctx.Err() // Next prefers queued units; a stop must win
		}
		if err != nil {
			if serr := sess.Err(); serr != nil {
				return serr
			}
			return nil // the stream ended or the output was stopped
		}
		if err := sess.WriteUnit(u); err != nil {
			return err
		}
		o.account(sess)
	}
}

// account refreshes the bitrate about once a second.
func (o *Output) account(sess session) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if el := now.Sub(o.rateAt); el >= defaultStatusRateEvery {
		b := sess.BytesSent()
		o.st.BitrateBPS = int64(float64(b-o.rateBytes) * 8 / el.Seconds())
		o.rateAt, o.rateBytes = now, b
	}
}

func (o *Output) setState(st State) {
	o.mu.Lock()
	o.st.State, o.st.NextRetryAt = st, nil
	o.mu.Unlock()
}

func (o *Output) errored(code, msg string) {
	o.mu.Lock()
	o.st.State, o.st.NextRetryAt = StateErrored, nil
	o.st.LastError = &LastError{Code: code, Message: msg, At: time.Now().UTC()}
	o.mu.Unlock()
	o.log.Warn("restream output errored", "code", code, "error", msg)
	o.emit(EventErrored)
}

func (o *Output) emit(k EventKind) {
	if o.cfg.Observer == nil {
		return
	}
	o.cfg.Observer.OutputEvent(Event{Kind: k, LiveInputID: o.cfg.LiveInputID, OutputID: o.cfg.ID, Status: o.Status()})
}

// classify maps a session error onto a LastError code and a message that
// names no secret.
func classify(err error, connected bool) (code, msg string) {
	if r, ok := isRefusal(err); ok {
		return CodeRefused, truncate(r.Error())
	}
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		return CodeForbiddenTarget, truncate(err.Error())
	case errors.Is(err, ErrUnsupportedCodec):
		return CodeUnsupportedCodec, truncate(err.Error())
	case errors.Is(err, ErrStalled):
		return CodeStalled, "no write progress within the stall timeout"
	case errors.Is(err, errTargetClosed):
		return CodeDisconnected, errTargetClosed.Error()
	case connected:
		return CodeWriteFailed, truncate(err.Error())
	}
	return CodeConnectFailed, truncate(err.Error())
}

func truncate(s string) string {
	r := []rune(s)
	if len(r) > maxErrorMessageRunes {
		return string(r[:maxErrorMessageRunes]) + "…"
	}
	return s
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func ptr[T any](v T) *T { return &v }
