package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

func scanEndpoint(r pgx.Row) (*store.WebhookEndpoint, error) {
	var (
		e                store.WebhookEndpoint
		types, ids       []byte
		prevExp, failing *time.Time
	)
	if err := r.Scan(&e.ID, &e.URL, &e.Description, &e.Enabled, &types, &ids, &e.Secret,
		&e.PreviousSecret, &prevExp, &failing, &e.DisabledReason, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	var err error
	if e.EventTypes, err = decodeStrings(types); err != nil {
		return nil, err
	}
	if e.LiveInputIDs, err = decodeStrings(ids); err != nil {
		return nil, err
	}
	e.PreviousSecretExpiresAt, e.FailingSince = utcPtr(prevExp), utcPtr(failing)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
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
		utcPtr(e.PreviousSecretExpiresAt), utcPtr(e.FailingSince), e.DisabledReason,
		utc(e.CreatedAt), utc(e.UpdatedAt)}, nil
}

// CreateEndpoint inserts e; ErrConflict when the id exists.
func (s webhooksRepo) CreateEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	args, err := endpointArgs(e)
	if err == nil {
		_, err = s.db.pool.Exec(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, args...)
	}
	if err != nil {
		return fmt.Errorf("postgres: create webhook %s: %w", e.ID, mapErr(err))
	}
	return nil
}

// GetEndpoint returns the endpoint id or ErrNotFound.
func (s webhooksRepo) GetEndpoint(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.db.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhook %s: %w", id, err)
	}
	return e, nil
}

// ListEndpoints pages by id; opts.Enabled is honoured.
func (s webhooksRepo) ListEndpoints(ctx context.Context, opts store.ListOptions) ([]*store.WebhookEndpoint, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE id > $1 AND ($2::boolean IS NULL OR enabled = $2) ORDER BY id LIMIT $3`,
		opts.After, opts.Enabled, opts.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*store.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, false, fmt.Errorf("postgres: list webhooks: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres: list webhooks: %w", err)
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
		return fmt.Errorf("postgres: update webhook %s: %w", e.ID, err)
	}
	upd := append(append([]any{}, args[1:11]...), args[12], e.ID)
	tag, err := s.db.pool.Exec(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, enabled = $3,
		event_types = $4, live_input_ids = $5, secret = $6, previous_secret = $7, previous_secret_expires_at = $8,
		failing_since = $9, disabled_reason = $10, updated_at = $11 WHERE id = $12`, upd...)
	if err != nil {
		return fmt.Errorf("postgres: update webhook %s: %w", e.ID, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update webhook %s: %w", e.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteEndpoint removes the endpoint and (ON DELETE CASCADE) its
// deliveries; ErrNotFound.
func (s webhooksRepo) DeleteEndpoint(ctx context.Context, id string) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete webhook %s: %w", id, store.ErrNotFound)
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
		d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix, utcPtr(d.NextAttemptAt),
		utc(d.CreatedAt), utc(d.UpdatedAt)}
}

// Enqueue stores ev and its deliveries in one transaction.
func (s webhooksRepo) Enqueue(ctx context.Context, ev *store.WebhookEvent, ds []*store.WebhookDelivery) error {
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, type, live_input_id, created_at, payload)
			VALUES ($1, $2, $3, $4, $5)`, ev.ID, ev.Type, ev.LiveInputID, utc(ev.CreatedAt), nonNilBytes(ev.Payload)); err != nil {
			return err
		}
		for _, d := range ds {
			if err := tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (`+deliveryInsertColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq`,
				deliveryArgs(d)...).Scan(&d.Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: enqueue event %s: %w", ev.ID, mapErr(err))
	}
	return nil
}

func scanDelivery(r pgx.Row, extra ...any) (*store.WebhookDelivery, error) {
	var (
		d       store.WebhookDelivery
		latency int64
		next    *time.Time
		lease   *time.Time
	)
	dest := append([]any{&d.Seq, &d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.LiveInputID, &d.State, &d.Attempts,
		&d.LastStatus, &latency, &d.LastError, &d.ResponsePrefix, &next, &d.CreatedAt, &d.UpdatedAt, &d.LeaseOwner, &lease}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, mapErr(err)
	}
	d.LastLatency = time.Duration(latency) * time.Microsecond
	d.NextAttemptAt, d.LeaseUntil = utcPtr(next), utcPtr(lease)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

func collectDeliveries(rows pgx.Rows, withPayload bool) ([]*store.WebhookDelivery, error) {
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
	rows, err := s.db.pool.Query(ctx, `SELECT `+deliveryColumns+`, ev.payload
		FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
		JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.state = 'pending' AND d.next_attempt_at <= $1
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending'
			AND p.endpoint_id = d.endpoint_id AND p.live_input_id = d.live_input_id AND p.seq < d.seq)
		ORDER BY d.seq LIMIT $2`, utc(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: due deliveries: %w", err)
	}
	out, err := collectDeliveries(rows, true)
	if err != nil {
		return nil, fmt.Errorf("postgres: due deliveries: %w", err)
	}
	return out, nil
}

// GetDelivery returns a delivery of an endpoint or ErrNotFound.
func (s webhooksRepo) GetDelivery(ctx context.Context, endpointID, id string) (*store.WebhookDelivery, error) {
	d, err := scanDelivery(s.db.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		WHERE d.endpoint_id = $1 AND d.id = $2`, endpointID, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get delivery %s: %w", id, err)
	}
	return d, nil
}

// ListDeliveries pages the deliveries of an endpoint, newest first.
func (s webhooksRepo) ListDeliveries(ctx context.Context, endpointID string, opts store.ListOptions) ([]*store.WebhookDelivery, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		WHERE d.endpoint_id = $1 AND ($2 = '' OR d.id < $2) ORDER BY d.id DESC LIMIT $3`,
		endpointID, opts.After, opts.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	out, err := collectDeliveries(rows, false)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// UpdateDelivery stores the attempt fields of d; ErrNotFound.
func (s webhooksRepo) UpdateDelivery(ctx context.Context, d *store.WebhookDelivery) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, last_status = $3,
		last_latency_us = $4, last_error = $5, response_prefix = $6, next_attempt_at = $7, updated_at = $8 WHERE id = $9`,
		d.State, d.Attempts, d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix,
		utcPtr(d.NextAttemptAt), utc(d.UpdatedAt), d.ID)
	if err != nil {
		return fmt.Errorf("postgres: update delivery %s: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update delivery %s: %w", d.ID, store.ErrNotFound)
	}
	return nil
}

// ExpediteDeliveries makes the endpoint's pending retries after an
// unreachable attempt due at now.
func (s webhooksRepo) ExpediteDeliveries(ctx context.Context, endpointID string, now time.Time) (int64, error) {
	tag, err := s.db.pool.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1
		WHERE endpoint_id = $2 AND state = 'pending' AND next_attempt_at > $1
		AND last_status IN (0, 502, 503, 504)`, utc(now), endpointID)
	if err != nil {
		return 0, fmt.Errorf("postgres: expedite deliveries of %s: %w", endpointID, err)
	}
	return tag.RowsAffected(), nil
}

// OutboxStats returns the pending count and the oldest pending event time.
func (s webhooksRepo) OutboxStats(ctx context.Context) (int64, *time.Time, error) {
	var (
		n      int64
		oldest *time.Time
	)
	if err := s.db.pool.QueryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries
		WHERE state = 'pending'`).Scan(&n, &oldest); err != nil {
		return 0, nil, fmt.Errorf("postgres: outbox stats: %w", err)
	}
	return n, utcPtr(oldest), nil
}

// PurgeDeliveries deletes finished deliveries updated before t, then the
// events left without deliveries.
func (s webhooksRepo) PurgeDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1`, utc(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM webhook_events ev WHERE NOT EXISTS
			(SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: purge deliveries: %w", err)
	}
	return n, nil
}
