package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Class says which share of the capacity a job draws on.
//
// The policy: live jobs (transcode ladders, the WHIP Opus→AAC step) may use
// the whole budget; on-demand jobs (thumbnails, MP4 builds) may use at most
// AccountConfig.OnDemandShare of it (default a quarter) and at most
// AccountConfig.OnDemandJobs at once (default one per core), and only while
// the whole budget has room too. So a flood of on-demand requests can never
// hold more than its share, and live ladders always find the rest; an
// on-demand job is refused (ErrCapacity) rather than queued in front of a
// live one. Nothing is preempted: a running job keeps its units until it
// releases them.
type Class uint8

const (
	// Live jobs follow a live input for as long as it is published.
	Live Class = iota
	// OnDemand jobs are made for one request (thumbnails, MP4 builds).
	OnDemand
)

// String is the class as it appears in metric labels.
func (c Class) String() string {
	if c == OnDemand {
		return "on_demand"
	}
	return "live"
}

// Unit costs of the jobs that are not ladders (a ladder costs its rungs'
// megapixels per second, see transcode.RungUnits).
const (
	// ThumbnailUnits: a thumbnail decodes up to one segment of the video as
	// fast as the CPU allows and encodes one JPEG: about a core for under a
	// second, weighted like a 720p30 rung's share of a core.
	ThumbnailUnits = 4
	// MP4Units: an MP4 build remuxes without re-encoding (-c copy): disk
	// bound, a fraction of a core.
	MP4Units = 2
	// AudioUnits: the Opus→AAC step of a WHIP session, a few percent of a
	// core.
	AudioUnits = 0.5
	// UnitsPerCore is the budget per CPU core of software encoding:
	// measured, one core encodes about 50 Mpx/s of libx264 veryfast output
	// and decodes the source besides; 30 leaves room for the daemon and for
	// sources harder to encode than test patterns.
	UnitsPerCore = 30
	// DefaultOnDemandShare is the part of the budget on-demand jobs may use.
	DefaultOnDemandShare = 0.25
)

// ErrCapacity is wrapped by the error Take returns when a job does not
// fit: the caller answers "busy, retry later" (HTTP 503 with Retry-After)
// or runs without the job.
var ErrCapacity = errors.New("ffmpeg: at capacity")

// CapacityError is the refusal of a job: Need units of Class did not fit
// in Limit with Used taken already.
type CapacityError struct {
	Class       Class
	Need, Used  float64
	Limit       float64
	Jobs, Total int // Jobs of the class running, and its job limit (0 = none)
}

func (e *CapacityError) Error() string {
	if e.Total > 0 && e.Jobs >= e.Total {
		return fmt.Sprintf("ffmpeg: at capacity: %d %s jobs running, the limit is %d", e.Jobs, e.Class, e.Total)
	}
	if e.Need > e.Limit {
		return fmt.Sprintf("ffmpeg: at capacity: the %s job costs %.1f units, more than the %.1f it may use", e.Class, e.Need, e.Limit)
	}
	return fmt.Sprintf("ffmpeg: at capacity: %.1f of %.1f %s units used, the job needs %.1f", e.Used, e.Limit, e.Class, e.Need)
}

// Unwrap makes errors.Is(err, ErrCapacity) hold.
func (e *CapacityError) Unwrap() error { return ErrCapacity }

// AccountConfig configures an Account.
type AccountConfig struct {
	// Total is the budget in units (megapixels per second of output, see
	// transcode.RungUnits). Required.
	Total float64
	// OnDemandShare is the fraction of Total on-demand jobs may use
	// (default DefaultOnDemandShare).
	OnDemandShare float64
	// OnDemandJobs bounds the on-demand jobs running at once (default the
	// number of CPU cores).
	OnDemandJobs int
	// Metrics may be nil.
	Metrics *Metrics
}

// Account is the one capacity budget every ffmpeg job of the daemon draws
// on (see Class for the policy). Safe for concurrent use.
type Account struct {
	cfg AccountConfig

	mu      sync.Mutex
	used    [2]float64
	jobs    [2]int
	changed chan struct{} // closed and replaced on every release
}

// NewAccount returns an Account.
func NewAccount(cfg AccountConfig) (*Account, error) {
	if !(cfg.Total > 0) || math.IsInf(cfg.Total, 0) {
		return nil, fmt.Errorf("ffmpeg: capacity must be a positive number, not %v", cfg.Total)
	}
	if !(cfg.OnDemandShare > 0) || cfg.OnDemandShare > 1 {
		cfg.OnDemandShare = DefaultOnDemandShare
	}
	if cfg.OnDemandJobs <= 0 {
		cfg.OnDemandJobs = runtime.NumCPU()
	}
	if m := cfg.Metrics; m != nil {
		m.capacity.Set(cfg.Total)
		m.onDemandCapacity.Set(cfg.Total * cfg.OnDemandShare)
	}
	return &Account{cfg: cfg, changed: make(chan struct{})}, nil
}

// Total is the budget in units.
func (a *Account) Total() float64 { return a.cfg.Total }

// Used is the units taken by running jobs of every class.
func (a *Account) Used() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used[Live] + a.used[OnDemand]
}

// Jobs is the number of running jobs of class c.
func (a *Account) Jobs(c Class) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.jobs[c]
}

// Take reserves units for a job of class c, or returns a *CapacityError
// (wrapping ErrCapacity) when they do not fit. The Lease gives them back.
func (a *Account) Take(c Class, units float64) (*Lease, error) {
	if c != Live && c != OnDemand {
		return nil, fmt.Errorf("ffmpeg: unknown job class %d", c)
	}
	if !(units >= 0) || math.IsInf(units, 0) {
		return nil, fmt.Errorf("ffmpeg: bad job cost %v", units)
	}
	a.mu.Lock()
	err := a.fits(c, units)
	if err == nil {
		a.used[c] += units
		a.jobs[c]++
	}
	a.mu.Unlock()
	m := a.cfg.Metrics
	if err != nil {
		if m != nil {
			m.refused.WithLabelValues(c.String()).Inc()
		}
		return nil, err
	}
	if m != nil {
		m.jobs.WithLabelValues(c.String()).Inc()
		m.classUsed.WithLabelValues(c.String()).Add(units)
		m.used.Add(units)
	}
	return &Lease{a: a, class: c, units: units}, nil
}

// Wait is Take that waits, until ctx is done, for room instead of
// refusing; a job that could never fit is refused at once.
func (a *Account) Wait(ctx context.Context, c Class, units float64) (*Lease, error) {
	for {
		a.mu.Lock()
		ch := a.changed
		a.mu.Unlock()
		l, err := a.Take(c, units)
		var ce *CapacityError
		if err == nil || !errors.As(err, &ce) || units > a.limit(c)+epsilon {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", err, ctx.Err())
		case <-ch:
		}
	}
}

// epsilon lets jobs summing exactly to the budget fit despite float sums.
const epsilon = 1e-9

func (a *Account) limit(c Class) float64 {
	if c == OnDemand {
		return a.cfg.Total * a.cfg.OnDemandShare
	}
	return a.cfg.Total
}

// fits reports why units of class c do not fit, nil when they do; a.mu is
// held.
func (a *Account) fits(c Class, units float64) error {
	all := a.used[Live] + a.used[OnDemand]
	if c == OnDemand {
		lim := a.limit(OnDemand)
		if a.jobs[OnDemand] >= a.cfg.OnDemandJobs {
			return &CapacityError{Class: c, Need: units, Used: a.used[OnDemand], Limit: lim, Jobs: a.jobs[OnDemand], Total: a.cfg.OnDemandJobs}
		}
		if a.used[OnDemand]+units > lim+epsilon {
			return &CapacityError{Class: c, Need: units, Used: a.used[OnDemand], Limit: lim}
		}
	}
	if all+units > a.cfg.Total+epsilon {
		return &CapacityError{Class: c, Need: units, Used: all, Limit: a.cfg.Total}
	}
	return nil
}

// Lease is the units a job holds.
type Lease struct {
	a     *Account
	class Class
	units float64
	once  sync.Once
}

// Units is what the lease holds.
func (l *Lease) Units() float64 { return l.units }

// Release gives the units back; idempotent.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		a := l.a
		a.mu.Lock()
		a.used[l.class] = math.Max(0, a.used[l.class]-l.units)
		a.jobs[l.class]--
		if a.jobs[l.class] == 0 {
			a.used[l.class] = 0 // no drift from float sums
		}
		total := a.used[Live] + a.used[OnDemand]
		classUsed := a.used[l.class]
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
		if m := a.cfg.Metrics; m != nil {
			m.jobs.WithLabelValues(l.class.String()).Dec()
			m.classUsed.WithLabelValues(l.class.String()).Set(classUsed)
			m.used.Set(total)
		}
	})
}

// Metrics are the account's collectors (nil when none), for the processes
// that draw on it (Config.Metrics).
func (a *Account) Metrics() *Metrics { return a.cfg.Metrics }
