package sqlstore

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// idempotency is the store.Idempotency of a DB.
type idempotency struct{ db *DB }

// Get returns the record (scope, key) or ErrNotFound.
func (s idempotency) Get(ctx context.Context, scope, key string) (*store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Scope: scope, Key: key}
	err := s.db.r.QueryRowContext(ctx, `SELECT body_hash, status, body, created_at FROM idempotency
		WHERE scope = ? AND key = ?`, scope, key).Scan(&r.BodyHash, &r.Status, &r.Body, &r.CreatedAt)
	if err != nil {
		return nil, s.db.errorf("get idempotency record: %w", err)
	}
	r.BodyHash, r.Body = nonNilBytes(r.BodyHash), nonNilBytes(r.Body)
	return &r, nil
}

// Put stores r; ErrConflict when (scope, key) exists.
func (s idempotency) Put(ctx context.Context, r *store.IdempotencyRecord) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO idempotency (scope, key, body_hash, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		r.Scope, r.Key, nonNilBytes(r.BodyHash), r.Status, nonNilBytes(r.Body), r.CreatedAt)
	if err != nil {
		return s.db.errorf("put idempotency record: %w", err)
	}
	return nil
}

// Purge deletes the records created before t and returns how many.
func (s idempotency) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM idempotency WHERE created_at < ?`, before)
	if err != nil {
		return 0, s.db.errorf("purge idempotency records: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.db.errorf("purge idempotency records: %w", err)
	}
	return n, nil
}
