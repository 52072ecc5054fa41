package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// emitTx writes evs and their deliveries to the enabled endpoints that
// want them (store.FanOut) in tx; an event no endpoint wants is skipped.
func emitTx(ctx context.Context, tx runner, evs []*store.WebhookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE enabled = TRUE`)
	if err != nil {
		return err
	}
	var eps []*store.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			_ = rows.Close()
			return err
		}
		eps = append(eps, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
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
func insertEvent(ctx context.Context, tx runner, ev *store.WebhookEvent, ds []*store.WebhookDelivery) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, type, live_input_id, created_at, payload)
		VALUES (?, ?, ?, ?, ?)`, ev.ID, ev.Type, ev.LiveInputID, ev.CreatedAt, nonNilBytes(ev.Payload)); err != nil {
		return err
	}
	for _, d := range ds {
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryInsertColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`, deliveryArgs(d)...).Scan(&d.Seq); err != nil {
			return err
		}
	}
	return nil
}

// getTx reads live input id in tx.
func getTx(ctx context.Context, tx runner, id string) (*store.LiveInput, error) {
	return scanLiveInput(tx.QueryRowContext(ctx, `SELECT `+liveInputColumns+` FROM live_inputs WHERE id = ?`, id))
}

// emitFor writes the events evf returns for the row id as tx sees it.
func emitFor(ctx context.Context, tx runner, id string, evf store.EventFunc) error {
	return emitting(ctx, tx, evf)(getTx(ctx, tx, id))
}

// emitting returns the function that writes in tx the events evf returns
// for a row read in tx (by a SELECT, or by an UPDATE or DELETE ...
// RETURNING), or returns the error of that read.
func emitting[T any](ctx context.Context, tx runner, evf func(T) ([]*store.WebhookEvent, error)) func(T, error) error {
	return func(row T, err error) error {
		if err != nil {
			return err
		}
		evs, err := evf(row)
		if err != nil {
			return err
		}
		return emitTx(ctx, tx, evs)
	}
}

// CreateEmitting is Create plus the events of evf, in one transaction.
func (s liveInputs) CreateEmitting(ctx context.Context, li *store.LiveInput, evf store.EventFunc) error {
	if evf == nil {
		return s.Create(ctx, li)
	}
	args, err := liveInputArgs(li)
	if err != nil {
		return s.db.errorf("create live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.CreatedAt)
	err = s.db.inTx(ctx, func(tx runner) error {
		if _, err := tx.ExecContext(ctx, insertLiveInput, args...); err != nil {
			return err
		}
		return emitFor(ctx, tx, li.ID, evf)
	})
	if err != nil {
		return s.db.errorf("create live input %s: %w", li.ID, err)
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
		return s.db.errorf("update live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.Version)
	err = s.db.inTx(ctx, func(tx runner) error {
		res, err := tx.ExecContext(ctx, updateLiveInput, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			if _, err := getTx(ctx, tx, li.ID); err != nil {
				return err
			}
			return store.ErrPrecondition
		}
		return emitFor(ctx, tx, li.ID, evf)
	})
	if err != nil {
		return s.db.errorf("update live input %s: %w", li.ID, err)
	}
	li.Version++
	return nil
}

// DeleteEmitting is Delete plus the events of evf, in one transaction.
func (s liveInputs) DeleteEmitting(ctx context.Context, id string, evf store.EventFunc) error {
	if evf == nil {
		return s.Delete(ctx, id)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		return emitting(ctx, tx, evf)(scanLiveInput(tx.QueryRowContext(ctx,
			`DELETE FROM live_inputs WHERE id = ? RETURNING `+liveInputColumns, id)))
	})
	if err != nil {
		return s.db.errorf("delete live input %s: %w", id, err)
	}
	return nil
}

// SetLastConnectedEmitting is SetLastConnected plus the events of evf, in
// one transaction.
func (s liveInputs) SetLastConnectedEmitting(ctx context.Context, id string, at time.Time, evf store.EventFunc) error {
	if evf == nil {
		return s.SetLastConnected(ctx, id, at)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		return emitting(ctx, tx, evf)(scanLiveInput(tx.QueryRowContext(ctx,
			`UPDATE live_inputs SET last_connected_at = ? WHERE id = ? RETURNING `+liveInputColumns, at, id)))
	})
	if err != nil {
		return s.db.errorf("set last connected %s: %w", id, err)
	}
	return nil
}

// Emit stores evs and their deliveries in one transaction.
func (s webhooksRepo) Emit(ctx context.Context, evs ...*store.WebhookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	if err := s.db.inTx(ctx, func(tx runner) error { return emitTx(ctx, tx, evs) }); err != nil {
		return s.db.errorf("emit %d events: %w", len(evs), err)
	}
	return nil
}

// Claim leases due queue heads to owner, in one write transaction: the
// candidates are read with the dialect's row locking (on SQLite the
// transaction holds the database's write lock from the read to the update;
// on PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, skipping those
// another node is claiming now), then leased.
func (s webhooksRepo) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.WebhookDelivery, error) {
	var out []*store.WebhookDelivery
	until := now.Add(lease).Truncate(time.Microsecond).UTC()
	err := s.db.inTx(ctx, func(tx runner) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+`, ev.payload
			FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled = TRUE
			JOIN webhook_events ev ON ev.id = d.event_id
			WHERE d.state = 'pending' AND d.next_attempt_at <= ?
			AND (d.lease_until IS NULL OR d.lease_until <= ?)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending'
				AND p.endpoint_id = d.endpoint_id AND p.live_input_id = d.live_input_id AND p.seq < d.seq)
			ORDER BY d.seq LIMIT ?`+s.db.d.skipLocked("d"), now, now, limit)
		if err != nil {
			return err
		}
		if out, err = collectDeliveries(rows, true); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		args := []any{owner, until}
		for _, d := range out {
			args = append(args, d.Seq)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
			WHERE seq IN (`+placeholders(len(out))+`)`, args...); err != nil {
			return err
		}
		for _, d := range out {
			d.LeaseOwner, d.LeaseUntil = owner, &until
		}
		return nil
	})
	if err != nil {
		return nil, s.db.errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// CompleteDelivery stores the attempt of a leased delivery and releases
// the lease, when owner still holds it.
func (s webhooksRepo) CompleteDelivery(ctx context.Context, owner string, d *store.WebhookDelivery) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?,
		last_latency_us = ?, last_error = ?, response_prefix = ?, next_attempt_at = ?, updated_at = ?,
		lease_owner = '', lease_until = NULL WHERE id = ? AND lease_owner = ?`,
		d.State, d.Attempts, d.LastStatus, d.LastLatency.Microseconds(), d.LastError, d.ResponsePrefix,
		d.NextAttemptAt, d.UpdatedAt, d.ID, owner)
	if err != nil {
		return s.db.errorf("complete delivery %s: %w", d.ID, err)
	}
	if err := s.db.checkAffected(ctx, res, "webhook_deliveries", d.ID, store.ErrPrecondition); err != nil {
		return s.db.errorf("complete delivery %s: %w", d.ID, err)
	}
	d.LeaseOwner, d.LeaseUntil = "", nil
	return nil
}

// ReleaseLeases ends the leases of owner.
func (s webhooksRepo) ReleaseLeases(ctx context.Context, owner string) (int64, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET lease_owner = '', lease_until = NULL
		WHERE lease_owner = ?`, owner)
	if err != nil {
		return 0, s.db.errorf("release leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.db.errorf("release leases: %w", err)
	}
	return n, nil
}

// RecordHealth records an attempt's outcome on the endpoint in one UPDATE
// (the conditions and the new values are computed from the row itself), in
// a transaction with the events of disabled.
func (s webhooksRepo) RecordHealth(ctx context.Context, id string, ok bool, now time.Time, disableAfter time.Duration,
	disabled func(e *store.WebhookEndpoint) ([]*store.WebhookEvent, error)) (*store.WebhookEndpoint, error) {
	if ok {
		if _, err := s.db.w.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL, updated_at = ?
			WHERE id = ? AND failing_since IS NOT NULL`, now, id); err != nil {
			return nil, s.db.errorf("record health of %s: %w", id, err)
		}
		return nil, nil
	}
	var out *store.WebhookEndpoint
	err := s.db.inTx(ctx, func(tx runner) error {
		// In SET and WHERE, column names are the values before the update.
		cutoff := now.Add(-disableAfter)
		e, err := scanEndpoint(tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET
			failing_since = COALESCE(failing_since, ?),
			enabled = CASE WHEN failing_since <= ? THEN FALSE ELSE enabled END,
			disabled_reason = CASE WHEN failing_since <= ? THEN ? ELSE disabled_reason END,
			updated_at = ?
			WHERE id = ? AND enabled = TRUE AND (failing_since IS NULL OR failing_since <= ?)
			RETURNING `+endpointColumns, now, cutoff, cutoff, store.DisabledReason, now, id, cutoff))
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
		return nil, s.db.errorf("record health of %s: %w", id, err)
	}
	return out, nil
}
