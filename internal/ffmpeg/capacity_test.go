package ffmpeg

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// value is a gauge's or counter's value.
func value(c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return math.NaN()
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestAccountLive: live jobs are admitted while their units fit the whole
// budget, a released job makes room, a job larger than the budget never
// fits, and the sums do not drift.
func TestAccountLive(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAccount(AccountConfig{Total: 60, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	const ladder = 19.2096
	var leases []*Lease
	for i := range 3 {
		l, err := a.Take(Live, ladder)
		if err != nil {
			t.Fatalf("ladder %d refused: %v", i+1, err)
		}
		leases = append(leases, l)
	}
	_, err = a.Take(Live, ladder)
	var ce *CapacityError
	if !errors.Is(err, ErrCapacity) || !errors.As(err, &ce) || ce.Class != Live {
		t.Fatalf("a fourth ladder: %v, want a live CapacityError", err)
	}
	if got := a.Used(); !near(got, 3*ladder) {
		t.Fatalf("Used = %v, want %v", got, 3*ladder)
	}
	if g := value(m.used); !near(g, 3*ladder) {
		t.Errorf("used gauge %v", g)
	}
	if g := value(m.refused.WithLabelValues("live")); g != 1 {
		t.Errorf("refused{live} = %v, want 1", g)
	}
	leases[0].Release()
	leases[0].Release() // idempotent
	if l, err := a.Take(Live, ladder); err != nil {
		t.Fatalf("a released ladder's room was not reused: %v", err)
	} else {
		leases[0] = l
	}
	for _, l := range leases {
		l.Release()
	}
	if a.Used() != 0 || a.Jobs(Live) != 0 || value(m.used) != 0 {
		t.Fatalf("after releasing everything: %v units, %d jobs, gauge %v", a.Used(), a.Jobs(Live), value(m.used))
	}
	if _, err := a.Take(Live, 60.5); !errors.Is(err, ErrCapacity) {
		t.Fatal("a job above the whole budget admitted")
	}
	exact, _ := NewAccount(AccountConfig{Total: 2 * 6.912})
	if _, err := exact.Take(Live, 6.912); err != nil {
		t.Fatal(err)
	}
	if _, err := exact.Take(Live, 6.912); err != nil {
		t.Fatal("jobs summing exactly to the budget refused")
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := a.Take(Live, bad); err == nil || errors.Is(err, ErrCapacity) {
			t.Errorf("Take(%v) = %v, want a bad-cost error", bad, err)
		}
	}
	for _, bad := range []float64{0, -5, math.NaN(), math.Inf(1)} {
		if _, err := NewAccount(AccountConfig{Total: bad}); err == nil {
			t.Errorf("NewAccount(Total %v) accepted", bad)
		}
	}
}

// TestAccountOnDemandShare: on-demand jobs stop at their share (a quarter)
// and at their job limit while live ladders still get the rest; when live
// ladders hold the budget, on-demand jobs are refused.
func TestAccountOnDemandShare(t *testing.T) {
	a, _ := NewAccount(AccountConfig{Total: 40, OnDemandJobs: 3})
	var od []*Lease
	for range 2 { // 2 x 4 of the 10 on-demand units
		l, err := a.Take(OnDemand, ThumbnailUnits)
		if err != nil {
			t.Fatal(err)
		}
		od = append(od, l)
	}
	if _, err := a.Take(OnDemand, ThumbnailUnits); !errors.Is(err, ErrCapacity) {
		t.Fatalf("a third thumbnail past the on-demand share: %v", err)
	}
	// the live part is untouched by the flood: 30 units
	live, err := a.Take(Live, 30)
	if err != nil {
		t.Fatalf("a live ladder refused while on-demand jobs hold their share: %v", err)
	}
	od[0].Release()
	// live jobs may take any free room, the on-demand share's included
	live2, err := a.Take(Live, 6)
	if err != nil {
		t.Fatal(err)
	}
	// the share has room (4 of 10 used), the whole budget none: refused
	if _, err := a.Take(OnDemand, ThumbnailUnits); !errors.Is(err, ErrCapacity) {
		t.Fatalf("an on-demand job admitted past the whole budget: %v", err)
	}
	live.Release()
	live2.Release()
	l1, err := a.Take(OnDemand, 1)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := a.Take(OnDemand, 1)
	if err != nil {
		t.Fatal(err)
	}
	// three on-demand jobs run: the job limit refuses a fourth
	var ce *CapacityError
	if _, err := a.Take(OnDemand, 0.1); !errors.As(err, &ce) || ce.Total != 3 {
		t.Fatalf("a fourth on-demand job: %v", err)
	}
	for _, l := range []*Lease{od[1], l1, l2} {
		l.Release()
	}
	if a.Used() != 0 || a.Jobs(OnDemand) != 0 {
		t.Fatalf("left %v units, %d jobs", a.Used(), a.Jobs(OnDemand))
	}
}

// TestAccountWait: Wait gets the room a release makes, gives up with the
// context, and refuses at once a job that can never fit.
func TestAccountWait(t *testing.T) {
	a, _ := NewAccount(AccountConfig{Total: 8, OnDemandShare: 1})
	held, err := a.Take(OnDemand, 8)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := a.Wait(context.Background(), OnDemand, 4)
		l.Release()
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Wait returned before a release: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	held.Release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake on the release")
	}
	held, _ = a.Take(Live, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := a.Wait(ctx, OnDemand, 4); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrCapacity) {
		t.Fatalf("Wait past its context: %v", err)
	}
	held.Release()
	start := time.Now()
	if _, err := a.Wait(context.Background(), OnDemand, 9); !errors.Is(err, ErrCapacity) || time.Since(start) > time.Second {
		t.Fatalf("a job above the budget: %v after %v", err, time.Since(start))
	}
}
