package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres connects to the PostgreSQL database at url (a postgres://
// URL or a key=value connection string; the pool settings pool_max_conns,
// pool_max_conn_lifetime and pool_max_conn_idle_time of pgxpool.ParseConfig
// are honoured, pool_max_conns defaulting to max(4, number of CPUs)) and
// migrates it to the schema of this binary. It fails with an error wrapping
// store.ErrSchemaTooNew when the database was migrated by a newer binary.
//
// Migrations run inside a transaction that holds a transaction advisory
// lock (pg_advisory_xact_lock), so nodes starting together migrate the
// database once. Ids are stored with the "C" collation: lists order and
// page by bytes, as on SQLite, whatever the database's locale.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL and its password: do not wrap it.
		return nil, errors.New("postgres: open: invalid connection URL")
	}
	pool := stdlib.OpenDB(*cfg.ConnConfig)
	pool.SetMaxOpenConns(int(cfg.MaxConns))
	pool.SetMaxIdleConns(int(cfg.MaxConns))
	pool.SetConnMaxLifetime(cfg.MaxConnLifetime)
	pool.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	db, err := newDB(ctx, &postgresDialect{}, pool, pool)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return db, nil
}

// postgresUniqueViolation is the SQLSTATE of a unique constraint violation
// (PostgreSQL documentation, Appendix A).
const postgresUniqueViolation = "23505"

// migrationLockKey is the pg_advisory_xact_lock key that serialises
// migrations of one database ("mpegflow" in ASCII).
const migrationLockKey int64 = 0x6d70656766_6c6f77

// postgresDialect is PostgreSQL's: $n placeholders, timestamptz, and row
// locks with FOR UPDATE SKIP LOCKED.
type postgresDialect struct {
	// queries maps a query text with ? to its text with $n. It stays
	// small: the queries built at run time differ only in their optional
	// filters and in the length of IN lists (at most 500 items).
	queries sync.Map
}

func (*postgresDialect) name() string { return "postgres" }

// rebind numbers the placeholders, once per distinct query text.
func (d *postgresDialect) rebind(q string) string {
	if v, ok := d.queries.Load(q); ok {
		return v.(string)
	}
	n := numbered(q)
	d.queries.Store(q, n)
	return n
}

// encodeTime truncates t to the microsecond (timestamptz would round it),
// in UTC.
func (*postgresDialect) encodeTime(t time.Time) any { return t.Truncate(time.Microsecond).UTC() }

func (*postgresDialect) isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == postgresUniqueViolation
}

// skipLocked locks the rows of alias that the SELECT returns and skips the
// rows another transaction has locked (another node claiming them now); a
// row claimed and committed since the statement's snapshot is re-checked
// against its newest version, whose lease then excludes it.
func (*postgresDialect) skipLocked(alias string) string {
	return " FOR UPDATE OF " + alias + " SKIP LOCKED"
}

func (*postgresDialect) schemaVersionDDL() string {
	return `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
}

// lockMigrations takes the migration advisory lock until tx ends.
func (*postgresDialect) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey)
	return err
}
