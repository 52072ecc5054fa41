// Package sqlite opens the embedded store of MpegFlow: one SQLite file in
// the data directory, served by the one SQL implementation of package
// sqlstore (see OpenSQLite there for the settings).
package sqlite

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/store/sqlstore"
)

// DB is a store.Store over one SQLite database file.
type DB = sqlstore.DB

// Open opens (creating it when absent, mode 0600) the SQLite database at
// path and migrates it; it is sqlstore.OpenSQLite.
func Open(ctx context.Context, path string) (*DB, error) {
	return sqlstore.OpenSQLite(ctx, path)
}
