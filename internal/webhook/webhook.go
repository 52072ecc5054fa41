// Package webhook delivers MpegFlow's events to HTTP endpoints, signed as
// the Standard Webhooks specification describes
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
// from a durable outbox, with retries, per-endpoint per-live-input ordering,
// a delivery log and Prometheus metrics.
//
// Flow: the Service subscribes to the event bus when it is built; a
// persister goroutine writes every event, with one delivery per matching
// enabled endpoint, into the store's outbox (store.Webhooks.Enqueue, one
// transaction) as soon as it is published. Run's dispatcher sends the due
// deliveries (store.Webhooks.Due returns only the first pending delivery of
// each endpoint and live input, so receivers see the events of one input in
// order), records each attempt, and schedules retries. What is in the
// outbox survives a crash: Run resumes it at start-up.
//
// Guarantees: at-least-once (a receiver de-duplicates on webhook-id, the
// event id), ordered per endpoint per live input, parallel across endpoints
// (at most MaxPerEndpoint attempts of one endpoint run at a time, so one
// slow endpoint cannot take every worker). The window that is not durable
// is the time between Publish and the outbox write (milliseconds): the bus
// is in-process and the state changes are not written in the same
// transaction as their events.
package webhook

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
)

// Event types of the webhook feature itself (the list of types is open:
// every event published on the bus is a candidate, filters name any type).
const (
	// TypeTest is sent by POST /v1/webhooks/ID/test; never stored.
	TypeTest events.Type = "webhook.test"
	// TypeDisabled is published when an endpoint failing for DisableAfter
	// is disabled; it goes to the other endpoints.
	TypeDisabled events.Type = "webhook.disabled"
)

// Defaults of Config.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultWorkers      = 8
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultMaxAge       = 72 * time.Hour // retries stop 3 days after the event
	DefaultDisableAfter = 72 * time.Hour // an endpoint failing this long is disabled
	// MaxResponsePrefix is how much of a response body the delivery log keeps.
	MaxResponsePrefix = 256
	// jitter is the ± fraction applied to every retry delay.
	jitter = 0.2
)

// DefaultSchedule is the delay before each retry (after attempt 1, 2, ...):
// 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h until
// MaxAge (3 days) after the event; each delay ±20 % jitter.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
		30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}
}

// retryDelay returns the delay before attempt n+1 after n failed attempts
// (n >= 1): the schedule's entry, the last one repeated, with jitter.
func retryDelay(schedule []time.Duration, n int) time.Duration {
	if len(schedule) == 0 {
		schedule = DefaultSchedule()
	}
	d := schedule[min(max(n, 1), len(schedule))-1]
	f := 1 - jitter + 2*jitter*rand.Float64()
	return time.Duration(float64(d) * f)
}

// Errors.
var (
	// ErrInvalidURL: the URL is not an absolute http(s) URL without
	// credentials.
	ErrInvalidURL = errors.New("invalid webhook URL")
	// ErrForbiddenTarget: the URL's host resolves to a loopback,
	// link-local, private, multicast or unspecified address (SSRF).
	ErrForbiddenTarget = errors.New("webhook URL resolves to a forbidden address")
)

// Envelope is the JSON body of every delivery.
type Envelope struct {
	ID          string          `json:"id"`                      // the event id; also webhook-id
	Type        string          `json:"type"`                    // e.g. live_input.connected
	CreatedAt   time.Time       `json:"created_at"`              // when the event happened (UTC)
	LiveInputID string          `json:"live_input_id,omitempty"` //
	Data        json.RawMessage `json:"data"`                    // the event's object; {} when none
}

// envelope renders e as the delivery body.
func envelope(e events.Event) ([]byte, error) {
	data := json.RawMessage("{}")
	if e.Data != nil {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return nil, err
		}
		if string(b) != "null" {
			data = b
		}
	}
	return json.Marshal(Envelope{ID: e.ID, Type: string(e.Type), CreatedAt: e.Time.UTC(), LiveInputID: e.LiveInputID, Data: data})
}

// DisabledData is the data of webhook.disabled.
type DisabledData struct {
	WebhookID    string    `json:"webhook_id"`
	URL          string    `json:"url"`
	FailingSince time.Time `json:"failing_since"`
	Reason       string    `json:"reason"`
}

// TestData is the data of webhook.test.
type TestData struct {
	WebhookID string `json:"webhook_id"`
}
