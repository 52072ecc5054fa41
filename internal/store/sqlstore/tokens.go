package sqlstore

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// tokens is the store.Tokens of a DB.
type tokens struct{ db *DB }

// tokenColumns are the columns scanToken reads, in order.
const tokenColumns = `id, name, prefix, hash, scopes, created_at, last_used_at, revoked_at`

// scanToken reads one row of tokenColumns.
func scanToken(r rowScanner) (*store.APIToken, error) {
	var (
		t      store.APIToken
		scopes []byte
	)
	if err := r.Scan(&t.ID, &t.Name, &t.Prefix, &t.Hash, &scopes, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	var err error
	if t.Scopes, err = decodeStrings(scopes); err != nil {
		return nil, err
	}
	t.Hash = nonNilBytes(t.Hash)
	return &t, nil
}

// Create inserts t; ErrConflict when the id or the hash exists.
func (s tokens) Create(ctx context.Context, t *store.APIToken) error {
	scopes, err := encodeStrings(t.Scopes)
	if err != nil {
		return s.db.errorf("create token %s: %w", t.ID, err)
	}
	_, err = s.db.w.ExecContext(ctx, `INSERT INTO api_tokens (`+tokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Prefix, nonNilBytes(t.Hash), scopes, t.CreatedAt,
		t.LastUsedAt, t.RevokedAt)
	if err != nil {
		return s.db.errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

// Get returns the token id or ErrNotFound.
func (s tokens) Get(ctx context.Context, id string) (*store.APIToken, error) {
	t, err := scanToken(s.db.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get token %s: %w", id, err)
	}
	return t, nil
}

// GetByHash returns the token with that hash, revoked or not, or
// ErrNotFound.
func (s tokens) GetByHash(ctx context.Context, hash []byte) (*store.APIToken, error) {
	t, err := scanToken(s.db.r.QueryRowContext(ctx,
		`SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, nonNilBytes(hash)))
	if err != nil {
		return nil, s.db.errorf("get token by hash: %w", err)
	}
	return t, nil
}

// List returns up to opts.Limit tokens with ids after opts.After, ordered
// by id, and whether more follow. Name and Enabled are ignored.
func (s tokens) List(ctx context.Context, opts store.ListOptions) ([]*store.APIToken, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list tokens: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE id > ? ORDER BY id LIMIT ?`, opts.After, opts.Limit+1)
	if err != nil {
		return nil, false, s.db.errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*store.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, false, s.db.errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list tokens: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// Revoke sets RevokedAt to at unless the token is revoked already (the
// first revocation time is kept). ErrNotFound when absent.
func (s tokens) Revoke(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx,
		`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, at, id)
	if err != nil {
		return s.db.errorf("revoke token %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// Touch sets LastUsedAt to at when at is later than the stored value (so
// concurrent requests never move it back). ErrNotFound when absent.
func (s tokens) Touch(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx,
		`UPDATE api_tokens SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END
		WHERE id = ?`, at, at, id)
	if err != nil {
		return s.db.errorf("touch token %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("touch token %s: %w", id, err)
	}
	return nil
}
