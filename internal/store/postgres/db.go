// Package postgres is the store.Store of MpegFlow for several nodes: one
// PostgreSQL database shared by every node, through a pgx connection pool
// (github.com/jackc/pgx/v5/pgxpool).
//
// Open migrates the database inside a transaction that holds a transaction
// advisory lock (pg_advisory_xact_lock), so nodes starting together migrate
// it once. Ids are stored with the "C" collation: lists order and page by
// bytes, as store/sqlite does, whatever the database's locale.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mpegflow/mpegflow/internal/store"
)

// DB is a store.Store over one PostgreSQL database. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool

	closeOnce sync.Once
}

var (
	_ store.Store       = (*DB)(nil)
	_ store.LiveInputs  = liveInputs{}
	_ store.Tokens      = tokens{}
	_ store.Idempotency = idempotency{}
)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; pool settings such as pool_max_conns are accepted, see
// pgxpool.ParseConfig) and migrates it to the schema of this binary. Open
// fails with an error wrapping store.ErrSchemaTooNew when the database was
// migrated by a newer binary.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL and its password: do not wrap it.
		return nil, errors.New("postgres: open: invalid connection URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &DB{pool: pool}, nil
}

// LiveInputs returns the live input store.
func (db *DB) LiveInputs() store.LiveInputs { return liveInputs{db} }

// Tokens returns the API token store.
func (db *DB) Tokens() store.Tokens { return tokens{db} }

// Idempotency returns the idempotency record store.
func (db *DB) Idempotency() store.Idempotency { return idempotency{db} }

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, db.pool)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// Close closes the pool, waiting for connections in use to be returned. It
// is idempotent and always returns nil.
func (db *DB) Close() error {
	db.closeOnce.Do(db.pool.Close)
	return nil
}
