package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrRestartNow is wrapped by a run's error to have Restart run it again at
// once, without counting a failure (the input changed under it, e.g. a
// publisher's timeline restarted).
var ErrRestartNow = errors.New("ffmpeg: restart now")

// ErrGaveUp is wrapped by Restart's error once MaxFailures runs in a row
// failed.
var ErrGaveUp = errors.New("ffmpeg: gave up")

// Restart is the restart policy of a long-running job: a failed run is
// started again after Backoff, doubled per consecutive failure up to
// MaxBackoff; MaxFailures failures in a row, each run shorter than Healthy,
// give up.
type Restart struct {
	// Backoff is the first delay (default 500 ms).
	Backoff time.Duration
	// MaxBackoff caps the delay (default 10 s).
	MaxBackoff time.Duration
	// MaxFailures is the number of failed runs in a row that give up
	// (default 5).
	MaxFailures int
	// Healthy is how long a run must last for its failure to start the
	// count afresh (default 30 s).
	Healthy time.Duration
}

func (r Restart) withDefaults() Restart {
	if r.Backoff <= 0 {
		r.Backoff = 500 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 10 * time.Second
	}
	if r.MaxFailures <= 0 {
		r.MaxFailures = 5
	}
	if r.Healthy <= 0 {
		r.Healthy = 30 * time.Second
	}
	return r
}

// Run calls run until it returns nil or ctx is done (then Run returns nil),
// restarting it after a failure as the policy says; onFailure, when not
// nil, is told about each failure (ErrRestartNow is none). The error after
// MaxFailures wraps ErrGaveUp and the last failure.
func (r Restart) Run(ctx context.Context, log *slog.Logger, run func(ctx context.Context) error, onFailure func(err error)) error {
	r = r.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	failures := 0
	backoff := r.Backoff
	for {
		start := time.Now()
		err := run(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRestartNow) {
			continue
		}
		if time.Since(start) >= r.Healthy {
			failures, backoff = 0, r.Backoff
		}
		failures++
		if onFailure != nil {
			onFailure(err)
		}
		if failures >= r.MaxFailures {
			return fmt.Errorf("%w after %d failures in a row: %w", ErrGaveUp, failures, err)
		}
		log.Warn("ffmpeg died; restarting", "error", err, "in", backoff, "failures", failures)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, r.MaxBackoff)
	}
}
