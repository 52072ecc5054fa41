package webhook

import (
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// TestRecoveryExpeditesRetries: the receiver is down long enough for the
// queue heads to reach the long second step of the schedule (1 min); when
// it is back, the first success (a new event) makes every retry due, so
// the backlog arrives within seconds, in order per live input, once each.
func TestRecoveryExpeditesRetries(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	tries := map[string]int{} // event id -> requests while down
	rc := newReceiver(t, func(_ int, e Envelope) int {
		if down.Load() {
			mu.Lock()
			tries[e.ID]++
			mu.Unlock()
			return 503
		}
		return 200
	})
	addEndpoint(t, st, "whk_a", rc.srv.URL, nil)
	svc, _ := start(t, st, bus, func(c *Config) { c.Schedule = []time.Duration{50 * time.Millisecond, time.Minute} })
	inputs := []string{"li_a", "li_b", "li_c"}
	var heads []string
	for _, in := range inputs {
		for i, tp := range lifecycle {
			e := events.New(tp, in, nil)
			if i == 0 {
				heads = append(heads, e.ID)
			}
			svc.Publish(e)
		}
	}
	// every queue head fails twice: its next attempt is a minute away
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, id := range heads {
			if tries[id] >= 2 {
				n++
			}
		}
		mu.Unlock()
		if n == len(heads) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue heads not retried while down: %v", tries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the second failures are recorded
	ds, _, err := st.Webhooks().ListDeliveries(t.Context(), "whk_a", store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if slices.Contains(heads, d.EventID) && (d.Attempts != 2 || d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 30*time.Second) {
			t.Fatalf("head not waiting for the long step: %+v", d)
		}
	}
	down.Store(false)
	up := time.Now()
	svc.Publish(events.New(events.LiveInputConnected, "li_new", nil)) // succeeds at once
	total := len(inputs)*len(lifecycle) + 1
	got := rc.waitCount(t, total, 3*time.Second)
	t.Logf("backlog of %d delivered %v after the receiver came back", total, time.Since(up).Round(time.Millisecond))
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %s delivered twice", e.ID)
		}
		seen[e.ID] = true
	}
	w := []string{"live_input.connected", "live_input.disconnected", "live_input.idle"}
	for _, in := range inputs {
		if g := types(got, in); !slices.Equal(g, w) {
			t.Fatalf("%s: order %v, want %v", in, g, w)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.events()); n != total {
		t.Fatalf("%d deliveries received, want %d", n, total)
	}
}

// TestDownEndpointKeepsSchedule: an endpoint that stays down is not
// retried early (no success, no expedite).
func TestDownEndpointKeepsSchedule(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	rc := newReceiver(t, func(int, Envelope) int { return 503 })
	addEndpoint(t, st, "whk_a", rc.srv.URL, nil)
	svc, _ := start(t, st, bus, func(c *Config) { c.Schedule = []time.Duration{50 * time.Millisecond, time.Minute} })
	for _, in := range []string{"li_a", "li_b"} {
		svc.Publish(events.New(events.LiveInputConnected, in, nil))
	}
	// 2 attempts each (at once, then after 50 ms), then nothing for the
	// 1 min step: wait for the 4th (a loaded machine takes its time), then
	// make sure no 5th follows.
	deadline := time.Now().Add(10 * time.Second)
	for rc.n.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if n := rc.n.Load(); n != 4 {
		t.Fatalf("%d attempts to a down endpoint, want 4 (2 each, then the 1 min step)", n)
	}
}
