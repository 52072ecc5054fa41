package sqlstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/pgtest"
	"github.com/mpegflow/mpegflow/internal/store/storetest"
)

// backend opens databases of one kind.
type backend struct {
	name string
	// start prepares the backend for tb (a PostgreSQL server: stopped at
	// tb's cleanup) and returns the function that makes the location of
	// a new, empty database (a file path or a connection URL).
	start func(tb testing.TB) func(tb testing.TB) string
	open  func(tb testing.TB, loc string) (*DB, error)
}

// allBackends are SQLite and PostgreSQL (a throwaway server).
func allBackends() []backend {
	return []backend{
		{
			name: "sqlite",
			start: func(testing.TB) func(tb testing.TB) string {
				return func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "mpegflow.db") }
			},
			open: func(tb testing.TB, loc string) (*DB, error) { return OpenSQLite(tb.Context(), loc) },
		},
		{
			name: "postgres",
			start: func(tb testing.TB) func(tb testing.TB) string {
				srv := pgtest.StartServer(tb)
				return func(tb testing.TB) string { return srv.NewDatabase(tb) }
			},
			open: func(tb testing.TB, loc string) (*DB, error) { return OpenPostgres(tb.Context(), loc) },
		},
	}
}

// started is a backend ready to make databases.
type started struct {
	backend
	location func(tb testing.TB) string
}

// run runs f in a subtest per backend, started in that subtest.
func runBackends[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, f func(tb T, b started)) {
	for _, b := range allBackends() {
		tb.Run(b.name, func(tb T) { f(tb, started{backend: b, location: b.start(tb)}) })
	}
}

// openNew opens a new database of b, closed at tb's cleanup.
func (b started) openNew(tb testing.TB) *DB {
	tb.Helper()
	db, err := b.open(tb, b.location(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// TestStore runs the conformance suite and the tests of Open once per
// backend; the PostgreSQL server is started once, and each subtest gets
// its own database.
func TestStore(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, b started)
	}{
		{"conformance", func(t *testing.T, b started) {
			storetest.Run(t, func(t *testing.T) store.Store { return b.openNew(t) })
		}},
		{"reopen_keeps_data_and_version", testReopen},
		{"schema_too_new", testSchemaTooNew},
		{"concurrent_open_and_writers", testConcurrentOpen},
	}
	runBackends(t, func(t *testing.T, b started) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
		}
	})
}

func testReopen(t *testing.T, b started) {
	ctx := t.Context()
	loc := b.location(t)
	db, err := b.open(t, loc)
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
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = b.open(t, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.LiveInputs().Get(ctx, "li_keep"); err != nil || got.Name != "kept" {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	if v2, err := db.SchemaVersion(ctx); err != nil || v2 != v1 {
		t.Fatalf("SchemaVersion after reopen = %d, %v; want %d", v2, err, v1)
	}
	if rows := countVersions(t, db); rows != v1 {
		t.Fatalf("schema_version has %d rows, want %d", rows, v1)
	}
}

// countVersions returns the number of rows of schema_version.
func countVersions(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.r.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testSchemaTooNew(t *testing.T, b started) {
	ctx := t.Context()
	loc := b.location(t)
	db, err := b.open(t, loc)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A newer binary ran migration 999.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (999, ?)`,
		time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = b.open(t, loc)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"999", fmt.Sprintf("version %d", latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// testConcurrentOpen opens one new database from several handles at once
// (as several processes or nodes would) and writes through all of them:
// the migration runs once and no write fails (SQLITE_BUSY, serialization).
func testConcurrentOpen(t *testing.T, b started) {
	const handles, writes = 4, 50
	loc := b.location(t)
	dbs := make([]*DB, handles)
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			db, err := b.open(t, loc)
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
			t.Cleanup(func() { _ = db.Close() })
		}
	}
	if t.Failed() {
		return
	}
	for i, db := range dbs {
		wg.Go(func() {
			for j := range writes {
				id := fmt.Sprintf("li_%d_%03d", i, j)
				li := &store.LiveInput{ID: id, Name: id, StreamKeyHash: []byte(id)}
				if err := db.LiveInputs().Create(t.Context(), li); err != nil {
					t.Errorf("Create %s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	rows, _, err := dbs[0].LiveInputs().List(t.Context(), store.ListOptions{Limit: 1000})
	if err != nil || len(rows) != handles*writes {
		t.Fatalf("List = %d rows, %v; want %d", len(rows), err, handles*writes)
	}
	if latest, _ := dbs[0].SchemaVersion(t.Context()); countVersions(t, dbs[0]) != latest {
		t.Fatalf("schema_version has %d rows, want %d (each migration once)", countVersions(t, dbs[0]), latest)
	}
}

func BenchmarkGetLiveInput(b *testing.B) {
	runBackends(b, func(b *testing.B, be started) {
		storetest.BenchmarkGetLiveInput(b, func(tb testing.TB) store.Store { return be.openNew(tb) })
	})
}

func BenchmarkCreateLiveInput(b *testing.B) {
	runBackends(b, func(b *testing.B, be started) {
		storetest.BenchmarkCreateLiveInput(b, func(tb testing.TB) store.Store { return be.openNew(tb) })
	})
}
