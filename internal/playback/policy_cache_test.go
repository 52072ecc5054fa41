package playback

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPolicyRefreshOnce: when a cached policy expires, one request reads
// it again while the others keep the expired entry; a refresh that takes
// longer than another TTL no longer holds them; a failed refresh lets the
// next request try.
func TestPolicyRefreshOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	var calls atomic.Int32
	entered := make(chan struct{}, 1)
	var release chan struct{} // nil: answer at once
	var fail atomic.Bool
	v, _ := NewVerifier(VerifierConfig{Keys: newFixture(t).keys})
	g, err := NewGate(GateConfig{Verifier: v, Now: clock, PolicyTTL: time.Second,
		Policies: func(context.Context, string) (Policy, error) {
			n := calls.Add(1)
			if release != nil {
				entered <- struct{}{}
				<-release
			}
			if fail.Load() {
				return Policy{}, errors.New("store down")
			}
			return Policy{ID: "li_a", RequireSignedURLs: n > 1}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, _ := g.policy(ctx, "li_a"); p.RequireSignedURLs || calls.Load() != 1 {
		t.Fatalf("first read: %+v after %d calls", p, calls.Load())
	}
	advance(1500 * time.Millisecond)
	release = make(chan struct{})
	done := make(chan Policy)
	go func() { p, _ := g.policy(ctx, "li_a"); done <- p }()
	<-entered
	for range 5 {
		if p, _ := g.policy(ctx, "li_a"); p.RequireSignedURLs {
			t.Fatal("the expired entry was not kept during its refresh")
		}
	}
	if c := calls.Load(); c != 2 {
		t.Fatalf("%d reads of the store during one refresh, want 2 in all", c)
	}
	close(release)
	if p := <-done; !p.RequireSignedURLs {
		t.Fatal("the refresh did not return the new policy")
	}
	if p, _ := g.policy(ctx, "li_a"); !p.RequireSignedURLs || calls.Load() != 2 {
		t.Fatalf("after the refresh: %+v after %d calls", p, calls.Load())
	}

	// a refresh stuck for more than another TTL: the next request reads itself
	advance(1500 * time.Millisecond)
	release = make(chan struct{})
	go func() { p, _ := g.policy(ctx, "li_a"); done <- p }()
	<-entered
	advance(time.Second)
	go func() { p, _ := g.policy(ctx, "li_a"); done <- p }()
	<-entered
	close(release)
	<-done
	<-done
	if c := calls.Load(); c != 4 {
		t.Fatalf("%d reads, want 4", c)
	}

	// a failed refresh is not cached and does not hold the next request
	release = nil
	advance(1500 * time.Millisecond)
	fail.Store(true)
	if _, err := g.policy(ctx, "li_a"); err == nil {
		t.Fatal("store error not returned")
	}
	fail.Store(false)
	if _, err := g.policy(ctx, "li_a"); err != nil || calls.Load() != 6 {
		t.Fatalf("after a failed refresh: %v after %d calls", err, calls.Load())
	}
}
