package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/live"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/postgres"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

// SQLiteFile is the database file in data_dir when store.postgres_url is
// empty.
const SQLiteFile = "mpegflow.db"

// openStore opens the store (PostgreSQL when store.postgres_url is set,
// else SQLite at data_dir/mpegflow.db), imports the static live inputs of
// the configuration (read-only over the API) and makes sure an admin token
// exists: a generated one is printed once to stdout, never logged.
func openStore(ctx context.Context, cfg *conf.Config, log *slog.Logger, stdout io.Writer) (_ store.Store, err error) {
	var st store.Store
	if cfg.Store.PostgresURL != "" {
		if st, err = postgres.Open(ctx, cfg.Store.PostgresURL); err != nil {
			return nil, fmt.Errorf("store.postgres_url: %w", err)
		}
	} else if st, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, SQLiteFile)); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	entries, err := live.ResolveKeys(cfg)
	if err != nil {
		return nil, err
	}
	if err := live.ImportStatic(ctx, st.LiveInputs(), entries, log); err != nil {
		return nil, err
	}
	b, err := api.BootstrapAdmin(ctx, st.Tokens(), cfg.API.AdminToken, time.Now())
	if err != nil {
		return nil, fmt.Errorf("api.admin_token: %w", err)
	}
	b.Announce(stdout, log)
	return st, nil
}
