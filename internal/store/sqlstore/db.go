package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/mpegflow/mpegflow/internal/store"
)

// DB is a store.Store over one SQLite file or one PostgreSQL database. It is
// safe for concurrent use.
type DB struct {
	d    dialect
	pool *sql.DB // the writer pool, which transactions begin on
	w    runner  // writes and write transactions
	r    runner  // reads; on PostgreSQL the same pool as w

	closeOnce sync.Once
	closeErr  error
	close     func() error
}

var (
	_ store.Store       = (*DB)(nil)
	_ store.LiveInputs  = liveInputs{}
	_ store.Tokens      = tokens{}
	_ store.Idempotency = idempotency{}
)

// newDB returns the DB of dialect d writing through w and reading through r
// (r may be w), migrated to the newest embedded migration of d.
func newDB(ctx context.Context, d dialect, w, r *sql.DB) (*DB, error) {
	db := &DB{d: d, pool: w, w: runner{c: w, d: d}, r: runner{c: r, d: d}}
	db.close = w.Close
	if r != w {
		db.close = func() error { return errors.Join(r.Close(), w.Close()) }
	}
	if err := migrate(ctx, d, w); err != nil {
		return nil, errors.Join(err, db.close())
	}
	if r != w {
		if err := r.PingContext(ctx); err != nil {
			return nil, errors.Join(err, db.close())
		}
	}
	return db, nil
}

// LiveInputs returns the live input store.
func (db *DB) LiveInputs() store.LiveInputs { return liveInputs{db} }

// Tokens returns the API token store.
func (db *DB) Tokens() store.Tokens { return tokens{db} }

// Idempotency returns the idempotency record store.
func (db *DB) Idempotency() store.Idempotency { return idempotency{db} }

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, db.r)
	if err != nil {
		return 0, db.errorf("schema version: %w", err)
	}
	return v, nil
}

// Close closes the connections, waiting for those in use to be returned.
// It is idempotent: later calls return the result of the first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if err := db.close(); err != nil {
			db.closeErr = db.errorf("close: %w", err)
		}
	})
	return db.closeErr
}

// errorf is fmt.Errorf with the backend's name as prefix ("sqlite: ...").
func (db *DB) errorf(format string, args ...any) error {
	return fmt.Errorf(db.d.name()+": "+format, args...)
}

// inTx runs f in a write transaction, committed when f returns nil and
// rolled back otherwise. On SQLite it begins IMMEDIATE on the single writer
// connection, so it holds the database's write lock throughout.
func (db *DB) inTx(ctx context.Context, f func(tx runner) error) (err error) {
	tx, err := db.pool.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(db.d, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = f(runner{c: tx, d: db.d}); err != nil {
		return err
	}
	return mapErr(db.d, tx.Commit())
}

// affectedOrNotFound returns store.ErrNotFound when res changed no row.
func affectedOrNotFound(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// checkAffected returns nil when res changed a row; otherwise
// store.ErrNotFound when table has no row id, else otherwise.
func (db *DB) checkAffected(ctx context.Context, res sql.Result, table, id string, otherwise error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := db.w.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one); err != nil {
		return err
	}
	return otherwise
}
