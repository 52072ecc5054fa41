// Package webhook delivers MpegFlow's events to HTTP endpoints, signed as
// the Standard Webhooks specification describes
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
// from a durable outbox, with retries, per-endpoint per-live-input ordering,
// a delivery log and Prometheus metrics.
//
// Flow (a transactional outbox): an event is written to the store's
// outbox, with one delivery per enabled endpoint whose filters want it, in
// the transaction of the state change that caused it (store.EventFunc:
// live input created, updated, deleted, connected) or, when the event is
// the state change itself (a publisher left, a broadcast ended, a session
// was kicked, a recording finished), on its own by Service.Emit. Only
// after the commit is it published on the in-process bus (WebSocket
// subscribers), which also wakes the dispatcher. An event exists in the
// outbox if and only if its change committed; a crash after the commit
// loses nothing: Run resumes the outbox at start-up.
//
// Run's dispatcher claims due deliveries (store.Webhooks.Claim: leased to
// this node for Config.Lease; only the first pending delivery of each
// endpoint and live input, so receivers see the events of one input in
// order, across nodes too), sends them, records each attempt
// (CompleteDelivery) and schedules retries. Several nodes on one database
// share the outbox: a delivery is attempted by one node at a time, and the
// deliveries of a node that crashed are claimed by another when their
// leases expire.
//
// Guarantees: at-least-once (a receiver de-duplicates on webhook-id, the
// event id; a delivery is sent twice when its attempt outlives its lease,
// or when the daemon stops between the receiver's 2xx and its record),
// ordered per endpoint per live input, parallel across endpoints (at most
// MaxPerEndpoint attempts of one endpoint run at a time, so one slow
// endpoint cannot take every worker).
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/store"
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

// ParseSchedule parses a comma-separated retry schedule ("200ms,500ms").
func ParseSchedule(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("invalid duration %q", f)
		}
		out = append(out, d)
	}
	return out, nil
}

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
	CreatedAt   jsontime.Time   `json:"created_at"`              // when the event happened (UTC)
	LiveInputID string          `json:"live_input_id,omitempty"` //
	Data        json.RawMessage `json:"data"`                    // the event's object; {} when none
}

// ToOutbox returns the outbox rows of evs, their bodies rendered.
func ToOutbox(evs ...events.Event) ([]*store.WebhookEvent, error) {
	out := make([]*store.WebhookEvent, 0, len(evs))
	for _, e := range evs {
		b, err := e.Envelope()
		if err != nil {
			return nil, fmt.Errorf("webhook: event %s: %w", e.Type, err)
		}
		out = append(out, &store.WebhookEvent{ID: e.ID, Type: string(e.Type), LiveInputID: e.LiveInputID, CreatedAt: e.Time.UTC(), Payload: b})
	}
	return out, nil
}

// EndpointData is the data of webhook.disabled: the endpoint as GET
// /v1/webhooks/ID returns it (never its secret).
type EndpointData struct {
	ID             string         `json:"id"`
	URL            string         `json:"url"`
	Description    string         `json:"description"`
	Enabled        bool           `json:"enabled"`
	EventTypes     []string       `json:"event_types"`
	LiveInputIDs   []string       `json:"live_input_ids"`
	CreatedAt      jsontime.Time  `json:"created_at"`
	UpdatedAt      jsontime.Time  `json:"updated_at"`
	FailingSince   *jsontime.Time `json:"failing_since"`
	DisabledReason string         `json:"disabled_reason,omitempty"`
	// while the previous secret still signs alongside the new one
	PreviousSecretExpiresAt *jsontime.Time `json:"previous_secret_expires_at,omitempty"`
}

// Endpoint renders e as the API returns it, without its secrets.
func Endpoint(e *store.WebhookEndpoint) EndpointData {
	d := EndpointData{ID: e.ID, URL: e.URL, Description: e.Description, Enabled: e.Enabled, EventTypes: e.EventTypes,
		LiveInputIDs: e.LiveInputIDs, CreatedAt: jsontime.Of(e.CreatedAt), UpdatedAt: jsontime.Of(e.UpdatedAt),
		FailingSince: jsontime.Ptr(e.FailingSince), DisabledReason: e.DisabledReason}
	if e.PreviousSecret != "" {
		d.PreviousSecretExpiresAt = jsontime.Ptr(e.PreviousSecretExpiresAt)
	}
	if d.EventTypes == nil {
		d.EventTypes = []string{}
	}
	if d.LiveInputIDs == nil {
		d.LiveInputIDs = []string{}
	}
	return d
}

// TestData is the data of webhook.test.
type TestData struct {
	WebhookID string `json:"webhook_id"`
}

// EventPayload implements events.Payload.
func (EndpointData) EventPayload() {}

// EventPayload implements events.Payload.
func (TestData) EventPayload() {}
