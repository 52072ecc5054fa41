package sqlstore

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Webhooks implements store.Store.
func (db *DB) Webhooks() store.Webhooks { return webhooksRepo{db: db} }

// webhooksRepo is the store.Webhooks of a DB.
type webhooksRepo struct{ db *DB }

var _ store.Webhooks = webhooksRepo{}

// endpointColumns are the columns scanEndpoint reads, in order.
const endpointColumns = `id, url, description, enabled, event_types, live_input_ids, secret,
	previous_secret, previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at`

func scanEndpoint(r rowScanner) (*store.WebhookEndpoint, error) {
	var (
		e          store.WebhookEndpoint
		types, ids []byte
	)
	if err := r.Scan(&e.ID, &e.URL, &e.Description, &e.Enabled, &types, &ids, &e.Secret,
		&e.PreviousSecret, &e.PreviousSecretExpiresAt, &e.FailingSince, &e.DisabledReason, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, err
	}
	var err error
	if e.EventTypes, err = decodeStrings(types); err != nil {
		return nil, err
	}
	if e.LiveInputIDs, err = decodeStrings(ids); err != nil {
		return nil, err
	}
	return &e, nil
}

func endpointArgs(e *store.WebhookEndpoint) ([]any, error) {
	types, err := encodeStrings(e.EventTypes)
	if err != nil {
		return nil, err
	}
	ids, err := encodeStrings(e.LiveInputIDs)
	if err != nil {
		return nil, err
	}
	return []any{e.ID, e.URL, e.Description, e.Enabled, types, ids, e.Secret, e.PreviousSecret,
		e.PreviousSecretExpiresAt, e.FailingSince, e.DisabledReason,
		e.CreatedAt, e.UpdatedAt}, nil
}

// CreateEndpoint inserts e; ErrConflict when the id exists.
func (s webhooksRepo) CreateEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	args, err := endpointArgs(e)
	if err == nil {
		_, err = s.db.w.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	}
	if err != nil {
		return s.db.errorf("create webhook %s: %w", e.ID, err)
	}
	return nil
}

// GetEndpoint returns the endpoint id or ErrNotFound.
func (s webhooksRepo) GetEndpoint(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.db.r.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get webhook %s: %w", id, err)
	}
	return e, nil
}

// ListEndpoints pages by id; opts.Enabled is honoured.
func (s webhooksRepo) ListEndpoints(ctx context.Context, opts store.ListOptions) ([]*store.WebhookEndpoint, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list webhooks: %w", err)
	}
	q := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE id > ?`
	args := []any{opts.After}
	if opts.Enabled != nil {
		q += ` AND enabled = ?`
		args = append(args, *opts.Enabled)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, opts.Limit+1)
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, s.db.errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*store.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, false, s.db.errorf("list webhooks: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list webhooks: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// UpdateEndpoint replaces every field but ID and CreatedAt; ErrNotFound.
func (s webhooksRepo) UpdateEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	args, err := endpointArgs(e)
	if err != nil {
		return s.db.errorf("update webhook %s: %w", e.ID, err)
	}
	// args without id and created_at, then the id
	upd := append(append([]any{}, args[1:11]...), args[12], e.ID)
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, enabled = ?,
		event_types = ?, live_input_ids = ?, secret = ?, previous_secret = ?, previous_secret_expires_at = ?,
		failing_since = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`, upd...)
	if err != nil {
		return s.db.errorf("update webhook %s: %w", e.ID, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("update webhook %s: %w", e.ID, err)
	}
	return nil
}

// DeleteEndpoint removes the endpoint and (ON DELETE CASCADE) its
// deliveries; ErrNotFound.
func (s webhooksRepo) DeleteEndpoint(ctx context.Context, id string) error {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
	if err != nil {
		return s.db.errorf("delete webhook %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// Enqueue stores ev and its deliveries in one transaction.
func (s webhooksRepo) Enqueue(ctx context.Context, ev *store.WebhookEvent, ds []*store.WebhookDelivery) error {
	if err := s.db.inTx(ctx, func(tx runner) error { return insertEvent(ctx, tx, ev, ds) }); err != nil {
		return s.db.errorf("enqueue event %s: %w", ev.ID, err)
	}
	return nil
}

const deliveryInsertColumns = `id, endpoint_id, event_id, event_type, live_input_id, state, attempts,
	last_status, last_latency_us, last_error, response_prefix, next_attempt_at, created_at, updated_at`

// deliveryColumns are the columns scanDelivery reads, in order.
const deliveryColumns = `d.seq, d.id, d.endpoint_id, d.event_id, d.event_type, d.live_input_id, d.state, d.attempts,
	d.last_status, d.last_latency_us, d.last_error, d.response_prefix, d.next_attempt_at, d.created_at, d.updated_at,
	d.lease_owner, d.lease_until`

func deliveryArgs(d *store.WebhookDelivery) []any {
	return []any{d.ID, d.EndpointID, d.EventID, d.EventType, d.LiveInputID, d.State, d.Attempts,
		d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix, d.NextAttemptAt,
		d.CreatedAt, d.UpdatedAt}
}

func scanDelivery(r rowScanner, extra ...any) (*store.WebhookDelivery, error) {
	var (
		d       store.WebhookDelivery
		latency int64
	)
	dest := append([]any{&d.Seq, &d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.LiveInputID, &d.State, &d.Attempts,
		&d.LastStatus, &latency, &d.LastError, &d.ResponsePrefix, &d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt, &d.LeaseOwner, &d.LeaseUntil}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.LastLatency = time.Duration(latency) * time.Microsecond
	return &d, nil
}

// collectDeliveries reads the deliveries of rows (deliveryColumns, then
// the event's payload when withPayload) and closes rows.
func collectDeliveries(rows *rows, withPayload bool) ([]*store.WebhookDelivery, error) {
	defer rows.Close()
	var out []*store.WebhookDelivery
	for rows.Next() {
		var payload []byte
		var extra []any
		if withPayload {
			extra = append(extra, &payload)
		}
		d, err := scanDelivery(rows, extra...)
		if err != nil {
			return nil, err
		}
		if withPayload {
			d.Payload = nonNilBytes(payload)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Due returns the heads of the pending queues of enabled endpoints.
func (s webhooksRepo) Due(ctx context.Context, now time.Time, limit int) ([]*store.WebhookDelivery, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+deliveryColumns+`, ev.payload
		FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled = TRUE
		JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.state = 'pending' AND d.next_attempt_at <= ?
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending'
			AND p.endpoint_id = d.endpoint_id AND p.live_input_id = d.live_input_id AND p.seq < d.seq)
		ORDER BY d.seq LIMIT ?`, now, limit)
	if err != nil {
		return nil, s.db.errorf("due deliveries: %w", err)
	}
	out, err := collectDeliveries(rows, true)
	if err != nil {
		return nil, s.db.errorf("due deliveries: %w", err)
	}
	return out, nil
}

// GetDelivery returns a delivery of an endpoint or ErrNotFound.
func (s webhooksRepo) GetDelivery(ctx context.Context, endpointID, id string) (*store.WebhookDelivery, error) {
	d, err := scanDelivery(s.db.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		WHERE d.endpoint_id = ? AND d.id = ?`, endpointID, id))
	if err != nil {
		return nil, s.db.errorf("get delivery %s: %w", id, err)
	}
	return d, nil
}

// ListDeliveries pages the deliveries of an endpoint, newest first.
func (s webhooksRepo) ListDeliveries(ctx context.Context, endpointID string, opts store.ListOptions) ([]*store.WebhookDelivery, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list deliveries: %w", err)
	}
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d WHERE d.endpoint_id = ?`
	args := []any{endpointID}
	if opts.After != "" {
		q += ` AND d.id < ?`
		args = append(args, opts.After)
	}
	rows, err := s.db.r.QueryContext(ctx, q+` ORDER BY d.id DESC LIMIT ?`, append(args, opts.Limit+1)...)
	if err != nil {
		return nil, false, s.db.errorf("list deliveries: %w", err)
	}
	out, err := collectDeliveries(rows, false)
	if err != nil {
		return nil, false, s.db.errorf("list deliveries: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// UpdateDelivery stores the attempt fields of d; ErrNotFound.
func (s webhooksRepo) UpdateDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?,
		last_latency_us = ?, last_error = ?, response_prefix = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?`,
		d.State, d.Attempts, d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix,
		d.NextAttemptAt, d.UpdatedAt, d.ID)
	if err != nil {
		return s.db.errorf("update delivery %s: %w", d.ID, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("update delivery %s: %w", d.ID, err)
	}
	return nil
}

// ExpediteDeliveries makes the endpoint's pending retries after an
// unreachable attempt due at now.
func (s webhooksRepo) ExpediteDeliveries(ctx context.Context, endpointID string, now time.Time) (int64, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?
		WHERE endpoint_id = ? AND state = 'pending' AND next_attempt_at > ?
		AND last_status IN (0, 502, 503, 504)`, now, endpointID, now)
	if err != nil {
		return 0, s.db.errorf("expedite deliveries of %s: %w", endpointID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.db.errorf("expedite deliveries of %s: %w", endpointID, err)
	}
	return n, nil
}

// OutboxStats returns the pending count and the oldest pending event time.
func (s webhooksRepo) OutboxStats(ctx context.Context) (int64, *time.Time, error) {
	var (
		n      int64
		oldest *time.Time
	)
	if err := s.db.r.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries
		WHERE state = 'pending'`).Scan(&n, &oldest); err != nil {
		return 0, nil, s.db.errorf("outbox stats: %w", err)
	}
	return n, oldest, nil
}

// PurgeDeliveries deletes finished deliveries updated before t, then the
// events left without deliveries.
func (s webhooksRepo) PurgeDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.inTx(ctx, func(tx runner) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?`, before)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE NOT EXISTS
			(SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`)
		return err
	})
	if err != nil {
		return 0, s.db.errorf("purge deliveries: %w", err)
	}
	return n, nil
}
