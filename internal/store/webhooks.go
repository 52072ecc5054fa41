package store

import (
	"context"
	"slices"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
)

// WebhookEndpoint is a URL that receives signed webhook deliveries
// (Standard Webhooks, https://www.standardwebhooks.com/).
//
// Secrets are stored in plain text, as stream keys are: the daemon must
// sign every delivery with them, so a hash would not do, and encrypting them
// with a key kept next to the database protects nothing the database file's
// permissions do not already protect. The API shows a secret once, in the
// response that creates or rotates it.
type WebhookEndpoint struct {
	ID           string   // public id, "whk_..."
	URL          string   // http or https
	Description  string   //
	Enabled      bool     // false: nothing is sent (pending deliveries wait)
	EventTypes   []string // filter; empty = every type; never nil after a read
	LiveInputIDs []string // filter; empty = every live input; never nil after a read
	// Secret signs deliveries: "whsec_" + base64 of 32 random bytes.
	Secret string
	// PreviousSecret, until PreviousSecretExpiresAt, signs alongside Secret
	// (after rotate_secret); "" = none.
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// FailingSince is the time of the first failed attempt of the current
	// run of failures; nil after a success.
	FailingSince *time.Time
	// DisabledReason says why the daemon disabled the endpoint ("" when
	// enabled or disabled over the API).
	DisabledReason       string
	CreatedAt, UpdatedAt time.Time // UTC, microsecond precision
}

// WebhookEvent is one event in the outbox: the exact JSON body every
// endpoint receives.
type WebhookEvent struct {
	ID          string    // "evt_..."; the webhook-id header
	Type        string    // e.g. live_input.connected
	LiveInputID string    // "" when about no live input
	CreatedAt   time.Time //
	Payload     []byte    // the JSON envelope
}

// States of a WebhookDelivery.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliverySucceeded = "succeeded" // a 2xx was received
	DeliveryFailed    = "failed"    // final: a 4xx other than 408/429, or retries exhausted
)

// WebhookDelivery is one event to one endpoint, with its attempts.
type WebhookDelivery struct {
	ID          string // "whd_..."
	EndpointID  string
	EventID     string
	EventType   string
	LiveInputID string // the ordering key: deliveries of one endpoint and live input go in Seq order
	// Seq is the insertion order, assigned by the store.
	Seq            int64
	State          string // DeliveryPending | DeliverySucceeded | DeliveryFailed
	Attempts       int
	LastStatus     int           // HTTP status of the last attempt; 0 = none or no response
	LastLatency    time.Duration // of the last attempt (microsecond precision)
	LastError      string        // of the last attempt; "" when it got a response
	ResponsePrefix string        // the first bytes of the last response body
	NextAttemptAt  *time.Time    // nil unless pending
	CreatedAt      time.Time     // the event's time
	UpdatedAt      time.Time     //
	// Payload is the event's body; filled by Due and Claim only.
	Payload []byte
	// LeaseOwner is the node whose delivery worker holds the delivery until
	// LeaseUntil (Claim); "" and nil when no lease was taken or it was
	// released.
	LeaseOwner string
	LeaseUntil *time.Time
}

// Webhooks persists webhook endpoints and the delivery outbox.
type Webhooks interface {
	// CreateEndpoint inserts e; ErrConflict when the id exists.
	CreateEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// GetEndpoint returns the endpoint id or ErrNotFound.
	GetEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	// ListEndpoints pages by id; opts.Enabled is honoured, Name ignored.
	ListEndpoints(ctx context.Context, opts ListOptions) ([]*WebhookEndpoint, bool, error)
	// UpdateEndpoint replaces every field but ID and CreatedAt; ErrNotFound.
	UpdateEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// DeleteEndpoint removes the endpoint and its deliveries; ErrNotFound.
	DeleteEndpoint(ctx context.Context, id string) error

	// Enqueue stores ev and its deliveries in one transaction (Seq is
	// assigned in slice order). ErrConflict when the event id exists.
	Enqueue(ctx context.Context, ev *WebhookEvent, ds []*WebhookDelivery) error
	// Due returns up to limit pending deliveries of enabled endpoints whose
	// NextAttemptAt is not after now and that are the first pending one of
	// their endpoint and live input (ordering), in Seq order, with Payload.
	Due(ctx context.Context, now time.Time, limit int) ([]*WebhookDelivery, error)
	// GetDelivery returns a delivery of an endpoint or ErrNotFound.
	GetDelivery(ctx context.Context, endpointID, id string) (*WebhookDelivery, error)
	// ListDeliveries pages the deliveries of an endpoint, newest first:
	// opts.After returns ids strictly less than it.
	ListDeliveries(ctx context.Context, endpointID string, opts ListOptions) ([]*WebhookDelivery, bool, error)
	// UpdateDelivery stores State, Attempts, the Last* fields,
	// NextAttemptAt and UpdatedAt; ErrNotFound.
	UpdateDelivery(ctx context.Context, d *WebhookDelivery) error
	// ExpediteDeliveries makes the pending deliveries of an endpoint that
	// are scheduled after now, and whose last attempt found the endpoint
	// unreachable (no response, 502, 503 or 504), due at now: called when
	// an attempt succeeds after failures, so the retries of an outage do
	// not wait for their backoff. NextAttemptAt is the only field changed;
	// Due still returns only the head of each queue. It returns how many
	// deliveries changed.
	ExpediteDeliveries(ctx context.Context, endpointID string, now time.Time) (int64, error)
	// OutboxStats returns the number of pending deliveries and the time of
	// the oldest pending one's event (nil when none).
	OutboxStats(ctx context.Context) (pending int64, oldest *time.Time, err error)
	// Emit stores events in one transaction, each with one pending delivery
	// (due at the event's time) per enabled endpoint whose filters want it
	// (WebhookEndpoint.Wants); an event no endpoint wants is not stored.
	// ErrConflict when an event id exists. For events that are the state
	// change themselves (a publisher left, a session was kicked); changes
	// to stored rows emit theirs in their own transaction (EventFunc).
	Emit(ctx context.Context, evs ...*WebhookEvent) error
	// Claim leases, to owner until now+lease, up to limit deliveries that
	// Due would return and that no other owner holds (no lease, or an
	// expired one), and returns them with Payload, LeaseOwner and
	// LeaseUntil. Nodes sharing a database claim disjoint deliveries, and
	// a queue's next delivery is never claimed while its head is pending,
	// leased or not, so the order per endpoint per live input holds across
	// nodes. A crashed owner's leases expire and are claimed again.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*WebhookDelivery, error)
	// CompleteDelivery is UpdateDelivery for the holder of a lease: it
	// stores the attempt and releases the lease, if owner still holds it
	// (expired or not); ErrPrecondition when another owner took it over,
	// ErrNotFound when the delivery is gone.
	CompleteDelivery(ctx context.Context, owner string, d *WebhookDelivery) error
	// ReleaseLeases ends every lease of owner (at shutdown, for the
	// attempts it abandons) and returns how many it held.
	ReleaseLeases(ctx context.Context, owner string) (int64, error)
	// RecordHealth records the outcome of an attempt to endpoint id in one
	// atomic UPDATE: a success clears FailingSince; a failure sets it when
	// unset and, when it is at least disableAfter before now, disables the
	// endpoint (Enabled false, DisabledReason). Only the call that disables
	// it gets the endpoint back (else nil), with the events of disabled
	// written in the same transaction (webhook.disabled; the endpoint is
	// disabled already, so it does not receive them).
	RecordHealth(ctx context.Context, id string, ok bool, now time.Time, disableAfter time.Duration,
		disabled func(e *WebhookEndpoint) ([]*WebhookEvent, error)) (*WebhookEndpoint, error)

	// PurgeDeliveries deletes finished deliveries last updated before t and
	// the events no delivery refers to any more; it returns how many
	// deliveries went.
	PurgeDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// EventFunc returns the outbox events of a change to a live input, given the
// row as the change's transaction sees it: after the change (creation,
// update, last_connected_at), or before it (deletion). The events are
// written in that transaction: they exist if and only if the change
// committed. An error aborts the change.
type EventFunc func(li *LiveInput) ([]*WebhookEvent, error)

// Wants reports whether endpoint e receives events of type t about live
// input liveInputID: each filter is empty or contains the value.
func (e *WebhookEndpoint) Wants(t, liveInputID string) bool {
	return (len(e.EventTypes) == 0 || slices.Contains(e.EventTypes, t)) &&
		(len(e.LiveInputIDs) == 0 || slices.Contains(e.LiveInputIDs, liveInputID))
}

// NewDeliveryID returns "whd_" + 26 characters (the rule of package ids:
// milliseconds then random bits, so ids sort by creation time).
func NewDeliveryID(now time.Time) string { return ids.New("whd", now) }

// FanOut returns the pending deliveries of ev to the endpoints of eps that
// want it, due at the event's time (the store's Emit uses it).
func FanOut(ev *WebhookEvent, eps []*WebhookEndpoint) []*WebhookDelivery {
	var ds []*WebhookDelivery
	at := ev.CreatedAt
	for _, e := range eps {
		if !e.Enabled || !e.Wants(ev.Type, ev.LiveInputID) {
			continue
		}
		ds = append(ds, &WebhookDelivery{ID: NewDeliveryID(at), EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type,
			LiveInputID: ev.LiveInputID, State: DeliveryPending, NextAttemptAt: &at, CreatedAt: at, UpdatedAt: at})
	}
	return ds
}

// DisabledReason is the WebhookEndpoint.DisabledReason RecordHealth sets.
const DisabledReason = "every delivery attempt failed for too long"
