package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"path"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// migrationFS holds the migrations of every backend, one directory each,
// named after the dialect.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// loadMigrations returns the embedded migrations of d sorted by version.
func loadMigrations(d dialect) ([]store.Migration, error) {
	return store.LoadMigrations(migrationFS, path.Join("migrations", d.name()))
}

// migrate brings the database to the newest embedded migration of d in one
// transaction that d.lockMigrations serialises against other processes, so
// that several opening the same database together migrate it once.
func migrate(ctx context.Context, d dialect, db *sql.DB) (err error) {
	ms, err := loadMigrations(d)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	latest := len(ms)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := d.lockMigrations(ctx, tx); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.schemaVersionDDL()); err != nil {
		return fmt.Errorf("migrate: schema_version: %w", err)
	}
	r := runner{c: tx, d: d}
	current, err := schemaVersion(ctx, r)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > latest {
		return fmt.Errorf("%w: database is at version %d, this binary knows up to version %d",
			store.ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms[current:] {
		// No arguments: the whole file runs as one simple query.
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		if _, err := r.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now()); err != nil {
			return fmt.Errorf("migrate: %s: record version: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// schemaVersion returns the highest recorded migration, 0 when none.
func schemaVersion(ctx context.Context, r runner) (int, error) {
	var v int
	if err := r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}
