package ingest

import (
	"fmt"
	"testing"
	"time"
)

func testThrottle(now *time.Time) *Throttle {
	th := NewThrottle(ThrottleConfig{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Lifetime: time.Minute, MaxEntries: 10})
	th.now = func() time.Time { return *now }
	return th
}

func TestThrottleRepeatedKeyBacksOff(t *testing.T) {
	now := time.Unix(1000, 0)
	th := testThrottle(&now)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if d := th.Fail("1.2.3.4", "stale-key"); d != w*time.Millisecond {
			t.Fatalf("failure %d: delay %v, want %v", i, d, w*time.Millisecond)
		}
	}
	// another address is not affected
	if d := th.Fail("5.6.7.8", "stale-key"); d != 100*time.Millisecond {
		t.Fatalf("another address: %v", d)
	}
	// forgotten after the lifetime
	now = now.Add(2 * time.Minute)
	if d := th.Fail("1.2.3.4", "stale-key"); d != 100*time.Millisecond {
		t.Fatalf("after the lifetime: %v", d)
	}
}

func TestThrottleDistinctKeysBackOff(t *testing.T) {
	now := time.Unix(1000, 0)
	th := testThrottle(&now)
	want := []time.Duration{100, 200, 400, 800, 1000}
	for i, w := range want {
		if d := th.Fail("1.2.3.4", fmt.Sprint("guess-", i)); d != w*time.Millisecond {
			t.Fatalf("guess %d: delay %v, want %v", i, d, w*time.Millisecond)
		}
	}
}

// Behind one NAT, an encoder retrying a stale key does not slow down a
// neighbour's single typo beyond the per-key pace.
func TestThrottleNeighbourNotPunished(t *testing.T) {
	now := time.Unix(1000, 0)
	th := testThrottle(&now)
	for range 20 {
		th.Fail("10.0.0.1", "stale-key")
	}
	if d := th.Fail("10.0.0.1", "typo"); d != 200*time.Millisecond {
		t.Fatalf("neighbour's first failure held %v, want 200ms (two distinct keys)", d)
	}
}

func TestThrottleBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	th := testThrottle(&now)
	for i := range 500 {
		th.Fail(fmt.Sprintf("10.0.%d.%d", i/250, i%250), fmt.Sprint("k", i))
		now = now.Add(time.Millisecond)
	}
	if n := th.Size(); n > 10 {
		t.Fatalf("throttle holds %d pairs, want <= 10", n)
	}
	th.mu.Lock()
	na := len(th.addrs)
	th.mu.Unlock()
	if na > 11 {
		t.Fatalf("throttle holds %d addresses", na)
	}
}
