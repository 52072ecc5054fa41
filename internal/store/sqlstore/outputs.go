package sqlstore

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Outputs returns the live input output store.
func (db *DB) Outputs() store.LiveInputOutputs { return outputs{db} }

// outputs is the store.LiveInputOutputs of a DB.
type outputs struct{ db *DB }

var _ store.LiveInputOutputs = outputs{}

const outputColumns = `id, live_input_id, name, url, stream_key, rendition, enabled, tls_skip_verify, created_at, updated_at`

func scanOutput(r rowScanner) (*store.LiveInputOutput, error) {
	var o store.LiveInputOutput
	if err := r.Scan(&o.ID, &o.LiveInputID, &o.Name, &o.URL, &o.StreamKey, &o.Rendition, &o.Enabled,
		&o.TLSSkipVerify, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, err
	}
	return &o, nil
}

// Create inserts o when its live input has fewer than max outputs. The
// live input's row is locked first (a no-op update: a row lock on
// PostgreSQL; SQLite's write transaction excludes other writers), so two
// concurrent creates cannot both pass the count.
func (s outputs) Create(ctx context.Context, o *store.LiveInputOutput, max int) error {
	err := s.db.inTx(ctx, func(tx runner) error {
		res, err := tx.ExecContext(ctx, `UPDATE live_inputs SET id = id WHERE id = ?`, o.LiveInputID)
		if err != nil {
			return err
		}
		if err := affectedOrNotFound(res); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_input_outputs WHERE live_input_id = ?`, o.LiveInputID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return store.ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO live_input_outputs (`+outputColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.LiveInputID, o.Name, o.URL, o.StreamKey, o.Rendition, o.Enabled, o.TLSSkipVerify, o.CreatedAt, o.UpdatedAt)
		return err
	})
	if err != nil {
		return s.db.errorf("create output %s: %w", o.ID, mapErr(s.db.d, err))
	}
	return nil
}

// Get returns output id of the live input, or ErrNotFound.
func (s outputs) Get(ctx context.Context, liveInputID, id string) (*store.LiveInputOutput, error) {
	o, err := scanOutput(s.db.r.QueryRowContext(ctx,
		`SELECT `+outputColumns+` FROM live_input_outputs WHERE id = ? AND live_input_id = ?`, id, liveInputID))
	if err != nil {
		return nil, s.db.errorf("get output %s: %w", id, err)
	}
	return o, nil
}

// List returns the outputs of a live input ordered by id.
func (s outputs) List(ctx context.Context, liveInputID string) ([]*store.LiveInputOutput, error) {
	rows, err := s.db.r.QueryContext(ctx,
		`SELECT `+outputColumns+` FROM live_input_outputs WHERE live_input_id = ? ORDER BY id`, liveInputID)
	if err != nil {
		return nil, s.db.errorf("list outputs: %w", err)
	}
	defer rows.Close()
	out := []*store.LiveInputOutput{}
	for rows.Next() {
		o, err := scanOutput(rows)
		if err != nil {
			return nil, s.db.errorf("list outputs: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.errorf("list outputs: %w", err)
	}
	return out, nil
}

// Update replaces the row's fields but the ids and CreatedAt; ErrNotFound.
func (s outputs) Update(ctx context.Context, o *store.LiveInputOutput) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE live_input_outputs SET name = ?, url = ?, stream_key = ?,
		rendition = ?, enabled = ?, tls_skip_verify = ?, updated_at = ? WHERE id = ? AND live_input_id = ?`,
		o.Name, o.URL, o.StreamKey, o.Rendition, o.Enabled, o.TLSSkipVerify, o.UpdatedAt, o.ID, o.LiveInputID)
	if err != nil {
		return s.db.errorf("update output %s: %w", o.ID, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("update output %s: %w", o.ID, err)
	}
	return nil
}

// Delete removes output id of the live input; ErrNotFound.
func (s outputs) Delete(ctx context.Context, liveInputID, id string) error {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM live_input_outputs WHERE id = ? AND live_input_id = ?`, id, liveInputID)
	if err != nil {
		return s.db.errorf("delete output %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("delete output %s: %w", id, err)
	}
	return nil
}
