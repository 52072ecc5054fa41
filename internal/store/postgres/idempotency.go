package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// idempotency is the store.Idempotency of a DB.
type idempotency struct{ db *DB }

// Get returns the record (scope, key) or ErrNotFound.
func (s idempotency) Get(ctx context.Context, scope, key string) (*store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Scope: scope, Key: key}
	err := s.db.pool.QueryRow(ctx, `SELECT body_hash, status, body, created_at FROM idempotency
		WHERE scope = $1 AND key = $2`, scope, key).Scan(&r.BodyHash, &r.Status, &r.Body, &r.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("postgres: get idempotency record: %w", mapErr(err))
	}
	r.BodyHash, r.Body = nonNilBytes(r.BodyHash), nonNilBytes(r.Body)
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
}

// Put stores r; ErrConflict when (scope, key) exists.
func (s idempotency) Put(ctx context.Context, r *store.IdempotencyRecord) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO idempotency (scope, key, body_hash, status, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		r.Scope, r.Key, nonNilBytes(r.BodyHash), r.Status, nonNilBytes(r.Body), utc(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put idempotency record: %w", mapErr(err))
	}
	return nil
}

// Purge deletes the records created before t and returns how many.
func (s idempotency) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, utc(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: purge idempotency records: %w", err)
	}
	return tag.RowsAffected(), nil
}
