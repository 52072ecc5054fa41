package webhook

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// A receiver slower than the timeout is retried, and the others are not
// delayed meanwhile.
func TestTimeoutRetried(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	var n atomic.Int64
	slow := newReceiver(t, func(int, Envelope) int {
		if n.Add(1) == 1 {
			time.Sleep(600 * time.Millisecond) // longer than the timeout
		}
		return 200
	})
	fast := newReceiver(t, nil)
	addEndpoint(t, st, "whk_slow", slow.srv.URL, nil)
	addEndpoint(t, st, "whk_fast", fast.srv.URL, nil)
	svc, _ := start(t, st, bus, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	t0 := time.Now()
	svc.Publish(events.New(events.LiveInputCreated, "li_1", nil))
	fast.waitCount(t, 1, time.Second)
	if d := time.Since(t0); d > 150*time.Millisecond {
		t.Errorf("the fast endpoint waited %v", d)
	}
	slow.waitCount(t, 1, 5*time.Second)
	ds, _, _ := st.Webhooks().ListDeliveries(t.Context(), "whk_slow", store.ListOptions{Limit: 10})
	if len(ds) != 1 || ds[0].Attempts < 2 || ds[0].State != store.DeliverySucceeded {
		t.Fatalf("slow delivery %+v", ds[0])
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
