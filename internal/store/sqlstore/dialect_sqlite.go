package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMillis is how long a SQLite connection waits for a lock held
// by another connection (another process, a checkpoint) before SQLITE_BUSY.
const busyTimeoutMillis = 10_000

// dbFileMode is the permission of the SQLite database file, whatever the
// umask: it holds stream keys, webhook secrets and token hashes. SQLite
// gives its -wal and -shm files the database file's permission.
const dbFileMode fs.FileMode = 0o600

// OpenSQLite opens (creating it when absent, mode 0600) the SQLite database
// at path and migrates it to the schema of this binary. The directory of
// path must exist. It fails with an error wrapping store.ErrSchemaTooNew
// when the database was migrated by a newer binary.
//
// The database runs in WAL mode with synchronous=NORMAL (a committed
// transaction survives a crash of the process; an OS crash or power loss
// may lose the last few commits, never corrupt the file), foreign keys on
// and a busy timeout of 10 s. Writes go through a single connection, so
// writers of one process never contend for the lock; reads use a separate
// pool of read-only connections and run in parallel with the writer (WAL).
// Another process writing the same file is waited for (busy_timeout), and
// write transactions begin IMMEDIATE so they never fail half-way on a lock
// upgrade.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// A connection that finds another one switching the new file to WAL
	// gets SQLITE_BUSY without waiting for the busy timeout: several
	// processes opening a new database together retry, for as long.
	deadline := time.Now().Add(busyTimeoutMillis * time.Millisecond)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		db, err := openSQLite(ctx, path)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
			}
			return db, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: open %s: %w", path, errors.Join(err, ctx.Err()))
		case <-time.After(wait):
		}
	}
}

// openSQLite opens the writer connection and the reader pool of path and
// migrates the database.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	return newDB(ctx, sqliteDialect{}, w, r)
}

// isBusy reports whether err is SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// createPrivate creates the database file at path with dbFileMode when it
// is absent, and takes the group and other permissions away from an
// existing one (and from its -wal and -shm files), so that SQLite, which
// creates those with the database file's permission, never makes them
// readable by others.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, dbFileMode)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chmod(path, dbFileMode) // the umask may have taken more
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&^0o077); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqliteDSN builds the modernc.org/sqlite data source name of path. The
// path is escaped as a URI path so that '?', '#' and '%' in it are taken
// literally.
func sqliteDSN(path string, readOnly bool) string {
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

// sqliteDialect is SQLite's: ? placeholders, INTEGER microseconds, and the
// database's single write lock, taken by BEGIN IMMEDIATE (the writer DSN
// sets _txlock=immediate).
type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) rebind(q string) string { return q }

// encodeTime is microseconds since the Unix epoch (UTC, truncated).
func (sqliteDialect) encodeTime(t time.Time) any { return t.UnixMicro() }

func (sqliteDialect) isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// skipLocked is empty: a write transaction holds the whole database.
func (sqliteDialect) skipLocked(string) string { return "" }

func (sqliteDialect) schemaVersionDDL() string {
	return `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`
}

// lockMigrations has nothing to do: the migration transaction began
// IMMEDIATE, so it holds the write lock already.
func (sqliteDialect) lockMigrations(context.Context, *sql.Tx) error { return nil }
