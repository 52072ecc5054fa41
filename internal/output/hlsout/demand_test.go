package hlsout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fakeDemand struct {
	err      error
	held     bool
	released int
}

func (d *fakeDemand) Demand(context.Context, string) (func(), error) {
	if d.err != nil || !d.held {
		return nil, d.err
	}
	return func() { d.released++ }, nil
}

// TestServeStreamDemand: a source that does not start gets 503 with
// Retry-After; an input without an on-demand source is 404 at once; an
// on-demand one whose stream never gets a muxer is 404 after a bounded
// wait, its hold released.
func TestServeStreamDemand(t *testing.T) {
	d := &fakeDemand{err: errors.New("not started")}
	s := New(Config{Demand: d})
	defer s.Close()
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.ServeStream(w, httptest.NewRequest(http.MethodGet, "/live/a/index.m3u8", nil), "a", "index.m3u8")
		return w
	}
	if w := get(); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("not started: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	d.err = nil
	t0 := time.Now()
	if w := get(); w.Code != http.StatusNotFound || time.Since(t0) > 500*time.Millisecond {
		t.Fatalf("no on-demand source: %d after %v", w.Code, time.Since(t0))
	}
	d.held = true
	t0 = time.Now()
	if w := get(); w.Code != http.StatusNotFound || time.Since(t0) < entryWait/2 || d.released != 1 {
		t.Fatalf("held but no muxer: %d after %v, released %d", w.Code, time.Since(t0), d.released)
	}
}

// TestDemands: every source is asked; a failure releases those that held
// the stream; no holder means a nil release.
func TestDemands(t *testing.T) {
	a, b := &fakeDemand{held: true}, &fakeDemand{}
	var ds Demands
	ds.Add(a)
	ds.Add(b)
	rel, err := ds.Demand(context.Background(), "x")
	if err != nil || rel == nil {
		t.Fatalf("held: %v %v", rel == nil, err)
	}
	rel()
	if a.released != 1 {
		t.Fatalf("released %d", a.released)
	}
	b.err = errors.New("down")
	if rel, err := ds.Demand(context.Background(), "x"); err == nil || rel != nil || a.released != 2 {
		t.Fatalf("failed: %v %v released %d", rel == nil, err, a.released)
	}
	a.held, b.err = false, nil
	if rel, err := ds.Demand(context.Background(), "x"); err != nil || rel != nil {
		t.Fatalf("none held: %v %v", rel == nil, err)
	}
}
