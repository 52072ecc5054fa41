package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mpegflow/mpegflow/internal/store"
)

// emitTx writes evs and their deliveries to the enabled endpoints that
// want them (store.FanOut) in tx; an event no endpoint wants is skipped.
func emitTx(ctx context.Context, tx pgx.Tx, evs []*store.WebhookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE enabled`)
	if err != nil {
		return err
	}
	var eps []*store.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			rows.Close()
			return err
		}
		eps = append(eps, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ev := range evs {
		ds := store.FanOut(ev, eps)
		if len(ds) == 0 {
			continue
		}
		if err := insertEvent(ctx, tx, ev, ds); err != nil {
			return err
		}
	}
	return nil
}

// insertEvent inserts ev and ds in tx, setting each delivery's Seq.
func insertEvent(ctx context.Context, tx pgx.Tx, ev *store.WebhookEvent, ds []*store.WebhookDelivery) error {
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, type, live_input_id, created_at, payload)
		VALUES ($1, $2, $3, $4, $5)`, ev.ID, ev.Type, ev.LiveInputID, utc(ev.CreatedAt), nonNilBytes(ev.Payload)); err != nil {
		return mapErr(err)
	}
	for _, d := range ds {
		if err := tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (`+deliveryInsertColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq`,
			deliveryArgs(d)...).Scan(&d.Seq); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// getTx reads live input id in tx.
func getTx(ctx context.Context, tx pgx.Tx, id string) (*store.LiveInput, error) {
	return scanLiveInput(tx.QueryRow(ctx, `SELECT `+liveInputColumns+` FROM live_inputs WHERE id = $1`, id))
}

// emitFor writes the events evf returns for the row id as tx sees it.
func emitFor(ctx context.Context, tx pgx.Tx, id string, evf store.EventFunc) error {
	li, err := getTx(ctx, tx, id)
	if err != nil {
		return err
	}
	evs, err := evf(li)
	if err != nil {
		return err
	}
	return emitTx(ctx, tx, evs)
}

// CreateEmitting is Create plus the events of evf, in one transaction.
func (s liveInputs) CreateEmitting(ctx context.Context, li *store.LiveInput, evf store.EventFunc) error {
	if evf == nil {
		return s.Create(ctx, li)
	}
	args, err := liveInputArgs(li)
	if err != nil {
		return fmt.Errorf("postgres: create live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, utc(li.CreatedAt))
	err = pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertLiveInput, args...); err != nil {
			return mapErr(err)
		}
		return emitFor(ctx, tx, li.ID, evf)
	})
	if err != nil {
		return fmt.Errorf("postgres: create live input %s: %w", li.ID, err)
	}
	li.Version = 1
	return nil
}

// UpdateEmitting is Update plus the events of evf, in one transaction.
func (s liveInputs) UpdateEmitting(ctx context.Context, li *store.LiveInput, evf store.EventFunc) error {
	if evf == nil {
		return s.Update(ctx, li)
	}
	args, err := liveInputArgs(li)
	if err != nil {
		return fmt.Errorf("postgres: update live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.Version)
	err = pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, updateLiveInput, args...)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			if _, err := getTx(ctx, tx, li.ID); err != nil {
				return err
			}
			return store.ErrPrecondition
		}
		return emitFor(ctx, tx, li.ID, evf)
	})
	if err != nil {
		return fmt.Errorf("postgres: update live input %s: %w", li.ID, err)
	}
	li.Version++
	return nil
}

// DeleteEmitting is Delete plus the events of evf, in one transaction.
func (s liveInputs) DeleteEmitting(ctx context.Context, id string, evf store.EventFunc) error {
	if evf == nil {
		return s.Delete(ctx, id)
	}
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		li, err := scanLiveInput(tx.QueryRow(ctx, `DELETE FROM live_inputs WHERE id = $1 RETURNING `+liveInputColumns, id))
		if err != nil {
			return err
		}
		evs, err := evf(li)
		if err != nil {
			return err
		}
		return emitTx(ctx, tx, evs)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete live input %s: %w", id, err)
	}
	return nil
}

// SetLastConnectedEmitting is SetLastConnected plus the events of evf, in
// one transaction.
func (s liveInputs) SetLastConnectedEmitting(ctx context.Context, id string, at time.Time, evf store.EventFunc) error {
	if evf == nil {
		return s.SetLastConnected(ctx, id, at)
	}
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		li, err := scanLiveInput(tx.QueryRow(ctx, `UPDATE live_inputs SET last_connected_at = $1 WHERE id = $2
			RETURNING `+liveInputColumns, utc(at), id))
		if err != nil {
			return err
		}
		evs, err := evf(li)
		if err != nil {
			return err
		}
		return emitTx(ctx, tx, evs)
	})
	if err != nil {
		return fmt.Errorf("postgres: set last connected %s: %w", id, err)
	}
	return nil
}

// Emit stores evs and their deliveries in one transaction.
func (s webhooksRepo) Emit(ctx context.Context, evs ...*store.WebhookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	if err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error { return emitTx(ctx, tx, evs) }); err != nil {
		return fmt.Errorf("postgres: emit %d events: %w", len(evs), err)
	}
	return nil
}

// Claim leases due queue heads to owner: the candidates are locked FOR
// UPDATE SKIP LOCKED (rows another node is claiming now are skipped, and a
// row claimed and committed since this statement's snapshot is re-checked
// against its newest version, whose lease then excludes it), then leased in
// the same transaction.
func (s webhooksRepo) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.WebhookDelivery, error) {
	var out []*store.WebhookDelivery
	until := utc(now.Add(lease))
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+`, ev.payload
			FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
			JOIN webhook_events ev ON ev.id = d.event_id
			WHERE d.state = 'pending' AND d.next_attempt_at <= $1
			AND (d.lease_until IS NULL OR d.lease_until <= $1)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending'
				AND p.endpoint_id = d.endpoint_id AND p.live_input_id = d.live_input_id AND p.seq < d.seq)
			ORDER BY d.seq LIMIT $2
			FOR UPDATE OF d SKIP LOCKED`, utc(now), limit)
		if err != nil {
			return err
		}
		if out, err = collectDeliveries(rows, true); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		seqs := make([]int64, len(out))
		for i, d := range out {
			seqs[i] = d.Seq
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
			WHERE seq = ANY($3)`, owner, until, seqs); err != nil {
			return err
		}
		for _, d := range out {
			d.LeaseOwner, d.LeaseUntil = owner, &until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	return out, nil
}

// CompleteDelivery stores the attempt of a leased delivery and releases
// the lease, when owner still holds it.
func (s webhooksRepo) CompleteDelivery(ctx context.Context, owner string, d *store.WebhookDelivery) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, last_status = $3,
		last_latency_us = $4, last_error = $5, response_prefix = $6, next_attempt_at = $7, updated_at = $8,
		lease_owner = '', lease_until = NULL WHERE id = $9 AND lease_owner = $10`,
		d.State, d.Attempts, d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix,
		utcPtr(d.NextAttemptAt), utc(d.UpdatedAt), d.ID, owner)
	if err != nil {
		return fmt.Errorf("postgres: complete delivery %s: %w", d.ID, err)
	}
	if err := s.db.checkAffected(ctx, tag, "webhook_deliveries", d.ID, store.ErrPrecondition); err != nil {
		return fmt.Errorf("postgres: complete delivery %s: %w", d.ID, err)
	}
	d.LeaseOwner, d.LeaseUntil = "", nil
	return nil
}

// ReleaseLeases ends the leases of owner.
func (s webhooksRepo) ReleaseLeases(ctx context.Context, owner string) (int64, error) {
	tag, err := s.db.pool.Exec(ctx, `UPDATE webhook_deliveries SET lease_owner = '', lease_until = NULL
		WHERE lease_owner = $1`, owner)
	if err != nil {
		return 0, fmt.Errorf("postgres: release leases: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RecordHealth records an attempt's outcome on the endpoint in one UPDATE
// (the conditions and the new values are computed from the row itself,
// which the UPDATE locks), in a transaction with the events of disabled.
func (s webhooksRepo) RecordHealth(ctx context.Context, id string, ok bool, now time.Time, disableAfter time.Duration,
	disabled func(e *store.WebhookEndpoint) ([]*store.WebhookEvent, error)) (*store.WebhookEndpoint, error) {
	if ok {
		if _, err := s.db.pool.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL, updated_at = $1
			WHERE id = $2 AND failing_since IS NOT NULL`, utc(now), id); err != nil {
			return nil, fmt.Errorf("postgres: record health of %s: %w", id, err)
		}
		return nil, nil
	}
	var out *store.WebhookEndpoint
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		// In SET and WHERE, column names are the values before the update.
		e, err := scanEndpoint(tx.QueryRow(ctx, `UPDATE webhook_endpoints SET
			failing_since = COALESCE(failing_since, $1),
			enabled = CASE WHEN failing_since <= $2 THEN false ELSE enabled END,
			disabled_reason = CASE WHEN failing_since <= $2 THEN $3 ELSE disabled_reason END,
			updated_at = $1
			WHERE id = $4 AND enabled AND (failing_since IS NULL OR failing_since <= $2)
			RETURNING `+endpointColumns, utc(now), utc(now.Add(-disableAfter)), store.DisabledReason, id))
		if errors.Is(err, store.ErrNotFound) || err == nil && e.Enabled {
			return nil // failing already, not for long enough; or just started failing
		}
		if err != nil {
			return err
		}
		out = e
		if disabled == nil {
			return nil
		}
		evs, err := disabled(e)
		if err != nil {
			return err
		}
		return emitTx(ctx, tx, evs)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: record health of %s: %w", id, err)
	}
	return out, nil
}
