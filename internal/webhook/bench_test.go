package webhook

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// A receiver slower than the timeout is retried, and the others are not
// delayed meanwhile.
//
// Ordered by events rather than by the clock (the machine may be loaded):
// the slow receiver holds its first request until the fast receiver has its
// event and then until the service gives that request up (its timeout), so
// that attempt fails; the fast receiver must get its event while the slow
// request is still open, which fails when the slow attempt holds the others
// up until its timeout.
func TestTimeoutRetried(t *testing.T) {
	const within = 30 * time.Second
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	fastGot := make(chan struct{})
	var fastOnce sync.Once
	var n atomic.Int64
	var fastFirst atomic.Bool
	slow := newRequestReceiver(t, func(req *http.Request, _ int, _ Envelope) int {
		if n.Add(1) == 1 {
			select {
			case <-fastGot:
				fastFirst.Store(true)
			case <-req.Context().Done(): // given up before the fast one got its event
			case <-time.After(within):
			}
			select {
			case <-req.Context().Done():
			case <-time.After(within):
				t.Errorf("the service did not give up the slow request within %v", within)
			}
		}
		return 200
	})
	fast := newReceiver(t, func(int, Envelope) int {
		fastOnce.Do(func() { close(fastGot) })
		return 200
	})
	addEndpoint(t, st, "whk_slow", slow.srv.URL, nil)
	addEndpoint(t, st, "whk_fast", fast.srv.URL, nil)
	svc, _ := start(t, st, bus, func(c *Config) { c.Timeout = 3 * time.Second })
	svc.Publish(events.New(events.LiveInputCreated, "li_1", nil))
	fast.waitCount(t, 1, within)
	var last *store.WebhookDelivery
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		ds, _, err := st.Webhooks().ListDeliveries(t.Context(), "whk_slow", store.ListOptions{Limit: 10})
		if err != nil || len(ds) != 1 {
			t.Fatalf("slow deliveries %v: %v", ds, err)
		}
		if last = ds[0]; last.State != store.DeliveryPending || time.Now().After(deadline) {
			break
		}
	}
	if !fastFirst.Load() {
		t.Error("the fast endpoint got its event only after the slow request timed out")
	}
	if last.Attempts < 2 || last.State != store.DeliverySucceeded || n.Load() < 2 {
		t.Fatalf("slow delivery %+v after %d requests", last, n.Load())
	}
}

// BenchmarkDeliver10Endpoints: events per second from Publish to ten
// local receivers' 2xx (SQLite outbox), and the latency percentiles.
func BenchmarkDeliver10Endpoints(b *testing.B) { benchDeliver(b, 0) }

// BenchmarkLatency10Endpoints: latency from the event to the receiver's
// 2xx with healthy receivers under a steady 20 events/s (200 deliveries/s).
func BenchmarkLatency10Endpoints(b *testing.B) { benchDeliver(b, 50*time.Millisecond) }

// benchDeliver publishes b.N events, every (0 = as fast as possible), to
// ten endpoints and reports throughput and latency.
func benchDeliver(b *testing.B, every time.Duration) {
	st := openStore(b, filepath.Join(b.TempDir(), "db"))
	bus := events.NewBus()
	var rcs []*receiver
	for i := range 10 {
		rc := newReceiver(b, nil)
		rcs = append(rcs, rc)
		now := time.Now().UTC()
		if err := st.Webhooks().CreateEndpoint(b.Context(), &store.WebhookEndpoint{ID: fmt.Sprintf("whk_%d", i), URL: rc.srv.URL,
			Enabled: true, Secret: testSecret, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	svc, _ := start(b, st, bus, func(c *Config) { c.Workers = 16 })
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		svc.Publish(events.New(events.LiveInputUpdated, fmt.Sprintf("li_%d", i%50), nil))
		if every > 0 {
			time.Sleep(every)
		} else if i%200 == 199 {
			time.Sleep(time.Millisecond) // a pause, as between bursts of real events
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, rc := range rcs {
		for len(rc.events()) < b.N && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	el := time.Since(t0)
	b.StopTimer()
	var lat []time.Duration
	for _, rc := range rcs {
		rc.mu.Lock()
		lat = append(lat, rc.lat...)
		rc.mu.Unlock()
	}
	if len(lat) < b.N*10 {
		b.Fatalf("%d of %d deliveries", len(lat), b.N*10)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*10)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
