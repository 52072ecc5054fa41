// Package sqlite is the embedded store.Store of MpegFlow: one SQLite file in
// the data directory, through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode with synchronous=NORMAL (a committed
// transaction survives a crash of the process; an OS crash or power loss may
// lose the last few commits, never corrupt the file), foreign keys on and a
// busy timeout of 10 s. Writes go through a single connection, so writers of
// one process never contend for the lock; reads use a separate pool of
// read-only connections and run in parallel with the writer (WAL). Another
// process writing the same file is waited for (busy_timeout), and write
// transactions begin IMMEDIATE so they never fail half-way on a lock upgrade.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/mpegflow/mpegflow/internal/store"
)

// busyTimeoutMillis is how long a connection waits for a lock held by
// another connection (another process, a checkpoint) before SQLITE_BUSY.
const busyTimeoutMillis = 10_000

// DB is a store.Store over one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store       = (*DB)(nil)
	_ store.LiveInputs  = liveInputs{}
	_ store.Tokens      = tokens{}
	_ store.Idempotency = idempotency{}
)

// Open opens (creating it when absent) the SQLite database at path and
// migrates it to the schema of this binary. The directory of path must
// exist. Open fails with an error wrapping store.ErrSchemaTooNew when the
// database was migrated by a newer binary.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := migrate(ctx, w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// dsn builds the modernc.org/sqlite data source name of path. The path is
// escaped as a URI path so that '?', '#' and '%' in it are taken literally.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMillis))
	q.Set("_foreign_keys", "1")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
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
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// Close closes the connections. It is idempotent: later calls return the
// result of the first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closeErr = errors.Join(db.r.Close(), db.w.Close())
		if db.closeErr != nil {
			db.closeErr = fmt.Errorf("sqlite: close: %w", db.closeErr)
		}
	})
	return db.closeErr
}
