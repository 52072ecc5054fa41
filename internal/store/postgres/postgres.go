// Package postgres opens the store of MpegFlow for several nodes: one
// PostgreSQL database shared by every node, served by the one SQL
// implementation of package sqlstore (see OpenPostgres there for the
// settings).
package postgres

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/store/sqlstore"
)

// DB is a store.Store over one PostgreSQL database.
type DB = sqlstore.DB

// Open connects to the database at url and migrates it; it is
// sqlstore.OpenPostgres.
func Open(ctx context.Context, url string) (*DB, error) {
	return sqlstore.OpenPostgres(ctx, url)
}
