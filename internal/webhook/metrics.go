package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metricSet holds the webhook collectors. Label values are endpoint ids
// (bounded by the endpoints configured) and fixed outcome words.
type metricSet struct {
	deliveries *prometheus.CounterVec // endpoint, outcome: success | retry | failed | exhausted
	attempts   *prometheus.CounterVec // endpoint
	queued     prometheus.Counter
	lost       prometheus.Counter
	disabled   prometheus.Counter
	depth      prometheus.Gauge
	oldest     prometheus.Gauge
	latency    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metricSet, error) {
	m := &metricSet{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpegflow_webhook_deliveries_total",
			Help: "Webhook delivery attempts by endpoint and outcome (success, retry, failed: final 4xx, exhausted: retries over)."},
			[]string{"endpoint", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpegflow_webhook_attempts_total",
			Help: "HTTP attempts made to webhook endpoints, tests included."}, []string{"endpoint"}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "mpegflow_webhook_outbox_queued_total",
			Help: "Events written to the outbox by Service.Emit (the events of live input changes are written by the store, in their transactions)."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "mpegflow_webhook_outbox_errors_total",
			Help: "Events that could not be written to the outbox (store errors)."}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{Name: "mpegflow_webhook_endpoints_disabled_total",
			Help: "Endpoints disabled after failing for too long."}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mpegflow_webhook_outbox_depth",
			Help: "Pending deliveries in the outbox."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mpegflow_webhook_outbox_oldest_seconds",
			Help: "Age of the oldest undelivered event, 0 when none."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mpegflow_webhook_delivery_latency_seconds",
			Help:    "Time from the event to the receiver's 2xx.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.attempts, m.queued, m.lost, m.disabled, m.depth, m.oldest, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook: metrics: %w", err)
		}
	}
	return m, nil
}
