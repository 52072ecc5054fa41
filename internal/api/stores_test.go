package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/pgtest"
	"github.com/mpegflow/mpegflow/internal/store/postgres"
)

// One PostgreSQL server for the package's tests, started on first use;
// every test gets its own database in it.
var (
	pgOnce sync.Once
	pgSrv  *pgtest.Server
	pgErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgSrv != nil {
		if err := pgSrv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

func openPostgres(t testing.TB) store.Store {
	t.Helper()
	pgOnce.Do(func() { pgSrv, pgErr = pgtest.New(context.Background()) })
	if errors.Is(pgErr, pgtest.ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(pgErr.Error())
	}
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	db, err := postgres.Open(context.Background(), pgSrv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// storeFactories: the handler tests run against both stores.
func storeFactories() []storeFactory {
	return []storeFactory{{"sqlite", openSQLite}, {"postgres", openPostgres}}
}
