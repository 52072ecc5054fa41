package sqlstore

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// SigningKeys implements store.Store.
func (db *DB) SigningKeys() store.SigningKeys { return signingRepo{db: db} }

// signingRepo is the store.SigningKeys of a DB.
type signingRepo struct{ db *DB }

var _ store.SigningKeys = signingRepo{}

// signingColumns are the columns scanSigningKey reads, in order.
const signingColumns = `id, algorithm, public_key, generated, created_at, revoked_at`

func scanSigningKey(r rowScanner) (*store.SigningKey, error) {
	var (
		k store.SigningKey
	)
	if err := r.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.Generated, &k.CreatedAt, &k.RevokedAt); err != nil {
		return nil, err
	}
	k.PublicKey = nonNilBytes(k.PublicKey)
	return &k, nil
}

// Create inserts k; ErrConflict when the id exists.
func (s signingRepo) Create(ctx context.Context, k *store.SigningKey) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO signing_keys (`+signingColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, nonNilBytes(k.PublicKey), k.Generated, k.CreatedAt, k.RevokedAt)
	if err != nil {
		return s.db.errorf("create signing key %s: %w", k.ID, err)
	}
	return nil
}

// Get returns the key id or ErrNotFound.
func (s signingRepo) Get(ctx context.Context, id string) (*store.SigningKey, error) {
	k, err := scanSigningKey(s.db.r.QueryRowContext(ctx, `SELECT `+signingColumns+` FROM signing_keys WHERE id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get signing key %s: %w", id, err)
	}
	return k, nil
}

// List returns up to opts.Limit keys after opts.After, by id.
func (s signingRepo) List(ctx context.Context, opts store.ListOptions) ([]*store.SigningKey, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list signing keys: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+signingColumns+` FROM signing_keys
		WHERE id > ? ORDER BY id LIMIT ?`, opts.After, opts.Limit+1)
	if err != nil {
		return nil, false, s.db.errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, false, s.db.errorf("list signing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list signing keys: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// Revoke sets RevokedAt unless already revoked; ErrNotFound when absent.
func (s signingRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx,
		`UPDATE signing_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, at, id)
	if err != nil {
		return s.db.errorf("revoke signing key %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("revoke signing key %s: %w", id, err)
	}
	return nil
}

// Secret returns the secret name, storing candidate when there is none.
func (s signingRepo) Secret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if _, err := s.db.w.ExecContext(ctx, `INSERT INTO playback_secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, nonNilBytes(candidate), time.Now()); err != nil {
		return nil, s.db.errorf("secret %s: %w", name, err)
	}
	var v []byte
	if err := s.db.w.QueryRowContext(ctx, `SELECT value FROM playback_secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, s.db.errorf("secret %s: %w", name, err)
	}
	return v, nil
}
