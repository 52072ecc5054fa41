package postgres

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/pgtest"
	"github.com/mpegflow/mpegflow/internal/store/storetest"
)

// openNew opens a new database of srv for tb, closed at its cleanup.
func openNew(tb testing.TB, srv *pgtest.Server) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), srv.NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// TestPostgres runs every test on one throwaway server; each subtest gets
// its own database.
func TestPostgres(t *testing.T) {
	srv := pgtest.StartServer(t)
	tests := []struct {
		name string
		run  func(t *testing.T, srv *pgtest.Server)
	}{
		{"conformance", func(t *testing.T, srv *pgtest.Server) {
			storetest.Run(t, func(t *testing.T) store.Store { return openNew(t, srv) })
		}},
		{"reopen_keeps_data_and_version", testReopen},
		{"schema_too_new", testSchemaTooNew},
		{"concurrent_open", testConcurrentOpen},
		{"bad_url", testBadURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, srv) })
	}
}

func testReopen(t *testing.T, srv *pgtest.Server) {
	ctx := t.Context()
	url := srv.NewDatabase(t)
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LiveInputs().Create(ctx, &store.LiveInput{ID: "li_keep", Name: "kept", StreamKeyHash: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	v1, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	db, err = Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.LiveInputs().Get(ctx, "li_keep"); err != nil || got.Name != "kept" {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	var rows int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != v1 {
		t.Fatalf("schema_version has %d rows (%v), want %d", rows, err, v1)
	}
}

func testSchemaTooNew(t *testing.T, srv *pgtest.Server) {
	ctx := t.Context()
	url := srv.NewDatabase(t)
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO schema_version (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	_, err = Open(ctx, url)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"999", fmt.Sprintf("version %d", latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// testConcurrentOpen opens one new database from several nodes at once:
// every Open succeeds and each migration runs once.
func testConcurrentOpen(t *testing.T, srv *pgtest.Server) {
	const nodes = 6
	url := srv.NewDatabase(t)
	dbs := make([]*DB, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			db, err := Open(t.Context(), url)
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for _, db := range dbs {
		if db != nil {
			defer db.Close()
		}
	}
	if t.Failed() {
		return
	}
	latest, err := dbs[0].SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := dbs[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != latest {
		t.Fatalf("schema_version has %d rows (%v), want %d", rows, err, latest)
	}
}

func testBadURL(t *testing.T, srv *pgtest.Server) {
	tests := []struct{ name, url string }{
		{"not a url", "postgres://user:secret@[::1"},
		{"unreachable", "postgres://postgres:secret@127.0.0.1:1/x?connect_timeout=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.Context(), tc.url)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

// benchOpen starts one server for a benchmark; each sub-benchmark store
// gets its own database.
func benchOpen(b *testing.B) func(tb testing.TB) store.Store {
	srv := pgtest.StartServer(b)
	return func(tb testing.TB) store.Store { return openNew(tb, srv) }
}

func BenchmarkGetLiveInput(b *testing.B) {
	storetest.BenchmarkGetLiveInput(b, benchOpen(b))
}

func BenchmarkCreateLiveInput(b *testing.B) {
	storetest.BenchmarkCreateLiveInput(b, benchOpen(b))
}
