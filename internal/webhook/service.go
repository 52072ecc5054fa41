package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Bus is the event bus the Service publishes the events it writes on,
// after their commit, and watches to wake its dispatcher when an event is
// published (events are published after they are committed to the
// outbox); *events.Bus satisfies it.
type Bus interface {
	Publish(events.Event)
	Subscribe(events.SubscribeOptions) *events.Subscription
}

// Config configures a Service. Store and Bus are required.
type Config struct {
	Store store.Webhooks
	Bus   Bus
	// Timeout bounds one attempt (connect, request, response headers and
	// the body prefix); default DefaultTimeout (10 s).
	Timeout time.Duration
	// Workers is the number of concurrent attempts over all endpoints;
	// default DefaultWorkers (8).
	Workers int
	// MaxPerEndpoint is the number of concurrent attempts to one endpoint;
	// default max(1, Workers/2).
	MaxPerEndpoint int
	// Retention is how long finished deliveries stay in the log; default
	// DefaultRetention (7 days).
	Retention time.Duration
	// Schedule is the delay before each retry; default DefaultSchedule().
	Schedule []time.Duration
	// MaxAge: no attempt is scheduled later than this after the event; the
	// delivery is then failed. Default DefaultMaxAge (3 days).
	MaxAge time.Duration
	// DisableAfter: an endpoint whose attempts have all failed for this
	// long is disabled; default DefaultDisableAfter (3 days).
	DisableAfter time.Duration
	// AllowPrivateTargets lets URLs resolve to loopback, private and
	// link-local addresses (tests, trusted networks). Default false.
	AllowPrivateTargets bool
	// UserAgent of deliveries; default "MpegFlow-Webhooks/dev".
	UserAgent string
	// Poll is how often the outbox is scanned for due retries; default 500 ms
	// (new events wake the dispatcher at once).
	Poll time.Duration
	// NodeID names this node's delivery worker in the leases it takes
	// (store.Webhooks.Claim); unique per process. Default: random.
	NodeID string
	// Lease is how long a claimed delivery is this node's alone; a node
	// that crashed holds its deliveries that long. Default 2×Timeout+30 s
	// (50 s); at least Timeout+5 s. An attempt starts only while at least
	// Timeout+1 s of its lease is left, so that it ends within the lease.
	Lease time.Duration
	// Registerer receives the metrics; nil = not registered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Resolver   Resolver // default net.DefaultResolver
	// Guard decides which addresses URLs and deliveries may reach; default
	// one built from AllowPrivateTargets, Resolver and Timeout.
	Guard *netguard.Guard
	Now   func() time.Time // default time.Now
}

// Service runs webhook delivery. Build it with New, run Run on a goroutine
// the caller waits for, and Close it after Run returned (or never ran).
type Service struct {
	cfg    Config
	st     store.Webhooks
	bus    Bus
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	m      *metricSet

	sub       *events.Subscription // wakes the dispatcher
	wake      chan struct{}
	closeOnce sync.Once

	// recovery holds, per endpoint id, the failures since its last
	// success (see expedite); guarded by recMu.
	recMu    sync.Mutex
	recovery map[string]*recoveryState
}

// New builds the Service. It watches the bus from now on: every event
// published wakes the dispatcher (events reach the outbox before the bus,
// by Emit or in the transaction of their change).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Bus == nil {
		return nil, errors.New("webhook: Store and Bus are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MaxPerEndpoint <= 0 {
		cfg.MaxPerEndpoint = max(1, cfg.Workers/2)
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule()
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "MpegFlow-Webhooks/dev"
	}
	if cfg.NodeID == "" {
		cfg.NodeID = ids.New("node", time.Now())
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2*cfg.Timeout + 30*time.Second
	}
	cfg.Lease = max(cfg.Lease, cfg.Timeout+5*time.Second)
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(netguard.Config{AllowPrivate: cfg.AllowPrivateTargets, Resolver: cfg.Resolver, Timeout: cfg.Timeout})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, st: cfg.Store, bus: cfg.Bus, log: cfg.Logger, now: cfg.Now, m: m,
		wake:     make(chan struct{}, 1),
		recovery: map[string]*recoveryState{},
	}
	tr := &http.Transport{
		Proxy:                 nil,                   // never through an environment proxy: the target is checked
		DialContext:           cfg.Guard.DialContext, // checked at connect time: DNS rebinding included
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	s.client = &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Match runs on the publisher's goroutine and only makes a
	// non-blocking send: nothing is ever queued, so the subscription is
	// never cut off.
	s.sub = s.bus.Subscribe(events.SubscribeOptions{Queue: 1, Match: func(events.Event) bool {
		s.Changed()
		return false
	}})
	return s, nil
}

// NodeID is the owner name of this node's delivery leases.
func (s *Service) NodeID() string { return s.cfg.NodeID }

// Close stops watching the bus and closes idle connections; idempotent.
// Call it after Run returned.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.sub.Close()
		s.client.CloseIdleConnections()
	})
}

// CheckURL validates a webhook URL for creation or change (see
// CheckTarget).
func (s *Service) CheckURL(ctx context.Context, raw string) error {
	return CheckTarget(ctx, s.cfg.Guard, raw)
}

// Changed wakes the dispatcher after an endpoint changed (enabled again,
// a delivery to retry now).
func (s *Service) Changed() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Retry makes a delivery of an endpoint due now (whatever its state); it
// is sent when it is the first pending one of its live input.
func (s *Service) Retry(ctx context.Context, endpointID, deliveryID string) (*store.WebhookDelivery, error) {
	d, err := s.st.GetDelivery(ctx, endpointID, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("webhook: retry: %w", err)
	}
	now := s.now().UTC()
	d.State, d.NextAttemptAt, d.UpdatedAt = store.DeliveryPending, &now, now
	if err := s.st.UpdateDelivery(ctx, d); err != nil {
		return nil, fmt.Errorf("webhook: retry: %w", err)
	}
	s.Changed()
	return d, nil
}

// Test sends a webhook.test event to e now (not stored, not retried) and
// returns the response status (0 when none) and the latency; err describes
// a failure to get a response.
func (s *Service) Test(ctx context.Context, e *store.WebhookEndpoint) (status int, latency time.Duration, err error) {
	ev := events.New(TypeTest, "", TestData{WebhookID: e.ID})
	body, err := ev.Envelope()
	if err != nil {
		return 0, 0, fmt.Errorf("webhook: test: %w", err)
	}
	r := s.send(ctx, e, ev.ID, body)
	s.m.attempts.WithLabelValues(e.ID).Inc()
	return r.status, r.latency, r.err
}
