package rtsp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// StateIdle is the state of an on-demand puller with no viewer: it holds
// no connection to the camera until someone asks for the stream.
const StateIdle = "idle"

// Defaults of PullConfig's on-demand timeouts.
const (
	DefaultOnDemandStartTimeout = 10 * time.Second
	DefaultOnDemandIdleTimeout  = 10 * time.Second
)

// ErrSourceNotStarted is returned by Demand when an on-demand camera did
// not deliver a stream within PullConfig.OnDemandStartTimeout, or its
// puller was removed while the viewer waited.
var ErrSourceNotStarted = errors.New("the live input's camera has not started")

// errNoViewers ends the session of an on-demand puller nobody watches.
var errNoViewers = errors.New("no viewers")

// Demand tells the puller of live input id that a viewer wants its stream
// now (an LL-HLS request, a WHEP offer). For a source pulled on demand an
// idle puller starts connecting, and Demand waits until the camera's stream
// is in the hub, at most OnDemandStartTimeout, or until ctx ends; the
// puller keeps its session while a hold is not released and for
// OnDemandIdleTimeout after the last release. For any other live input it
// returns at once, release and err nil. release is idempotent.
func (ps *Pullers) Demand(ctx context.Context, id string) (release func(), err error) {
	ps.mu.Lock()
	pl := ps.m[id]
	ps.mu.Unlock()
	if pl == nil || !pl.src.OnDemand {
		return nil, nil
	}
	pl.mu.Lock()
	pl.holds++
	pl.lastDemand = time.Now()
	ready := pl.ready
	pl.mu.Unlock()
	select {
	case pl.wake <- struct{}{}:
	default:
	}
	release = sync.OnceFunc(func() {
		pl.mu.Lock()
		pl.holds--
		pl.lastDemand = time.Now()
		pl.mu.Unlock()
	})
	select {
	case <-ready:
		return release, nil
	default:
	}
	timeout := ps.cfg.OnDemandStartTimeout
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ready:
		return release, nil
	case <-t.C:
		err = fmt.Errorf("%w within %s", ErrSourceNotStarted, timeout)
	case <-pl.done:
		err = fmt.Errorf("%w: its source was removed", ErrSourceNotStarted)
	case <-ctx.Done():
		err = ctx.Err()
	}
	release()
	return nil, err
}

// idleNow reports whether an on-demand puller has no viewer: no hold and
// no demand for OnDemandIdleTimeout.
func (pl *puller) idleNow() bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.holds == 0 && time.Since(pl.lastDemand) >= pl.ps.cfg.OnDemandIdleTimeout
}

// waitViewer blocks an on-demand puller without a viewer until one
// arrives; false when ctx ended.
func (pl *puller) waitViewer(ctx context.Context) bool {
	if !pl.src.OnDemand || !pl.idleNow() {
		return true
	}
	pl.setStatus(PullStatus{State: StateIdle})
	pl.log.Info("rtsp pull idle: waiting for a viewer")
	for pl.idleNow() {
		select {
		case <-ctx.Done():
			return false
		case <-pl.wake: // a stale signal leaves it idle: wait again
		}
	}
	pl.log.Info("rtsp pull woken by a viewer")
	return true
}

// published marks the session's stream as live for the viewers waiting
// in Demand.
func (pl *puller) published() {
	pl.mu.Lock()
	close(pl.ready)
	pl.mu.Unlock()
}

// unpublished makes later viewers wait for the next session's stream.
func (pl *puller) unpublished() {
	pl.mu.Lock()
	pl.ready = make(chan struct{})
	pl.mu.Unlock()
}

// idleTicker returns the channel on which a session checks for viewers:
// nil for a puller that pulls always.
func (pl *puller) idleTicker() (<-chan time.Time, func()) {
	if !pl.src.OnDemand {
		return nil, func() {}
	}
	every := min(max(pl.ps.cfg.OnDemandIdleTimeout/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	return t.C, t.Stop
}
