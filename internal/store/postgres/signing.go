package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mpegflow/mpegflow/internal/store"
)

// SigningKeys implements store.Store.
func (db *DB) SigningKeys() store.SigningKeys { return signingRepo{db: db} }

// signingRepo is the store.SigningKeys of a DB.
type signingRepo struct{ db *DB }

var _ store.SigningKeys = signingRepo{}

// signingColumns are the columns scanSigningKey reads, in order.
const signingColumns = `id, algorithm, public_key, generated, created_at, revoked_at`

func scanSigningKey(r pgx.Row) (*store.SigningKey, error) {
	var (
		k       store.SigningKey
		revoked *time.Time
	)
	if err := r.Scan(&k.ID, &k.Algorithm, &k.PublicKey, &k.Generated, &k.CreatedAt, &revoked); err != nil {
		return nil, mapErr(err)
	}
	k.PublicKey = nonNilBytes(k.PublicKey)
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = utcPtr(revoked)
	return &k, nil
}

// Create inserts k; ErrConflict when the id exists.
func (s signingRepo) Create(ctx context.Context, k *store.SigningKey) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO signing_keys (`+signingColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Algorithm, nonNilBytes(k.PublicKey), k.Generated, utc(k.CreatedAt), utcPtr(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: create signing key %s: %w", k.ID, mapErr(err))
	}
	return nil
}

// Get returns the key id or ErrNotFound.
func (s signingRepo) Get(ctx context.Context, id string) (*store.SigningKey, error) {
	k, err := scanSigningKey(s.db.pool.QueryRow(ctx, `SELECT `+signingColumns+` FROM signing_keys WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get signing key %s: %w", id, err)
	}
	return k, nil
}

// List returns up to opts.Limit keys after opts.After, by id.
func (s signingRepo) List(ctx context.Context, opts store.ListOptions) ([]*store.SigningKey, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+signingColumns+` FROM signing_keys
		WHERE id > $1 ORDER BY id LIMIT $2`, opts.After, opts.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, false, fmt.Errorf("postgres: list signing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// Revoke sets RevokedAt unless already revoked; ErrNotFound when absent.
func (s signingRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	tag, err := s.db.pool.Exec(ctx,
		`UPDATE signing_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, utc(at), id)
	if err != nil {
		return fmt.Errorf("postgres: revoke signing key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke signing key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Secret returns the secret name, storing candidate when there is none.
func (s signingRepo) Secret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO playback_secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, nonNilBytes(candidate), utc(time.Now())); err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	var v []byte
	if err := s.db.pool.QueryRow(ctx, `SELECT value FROM playback_secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, mapErr(err))
	}
	return v, nil
}
