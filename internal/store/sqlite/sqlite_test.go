package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/storetest"
)

// openTemp opens a new database in a temporary directory of tb, closed at
// its cleanup.
func openTemp(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), filepath.Join(tb.TempDir(), "mpegflow.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		ok   bool
	}{
		{"new file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a.db") }, true},
		{"special characters in path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "we?ird #dir%20", "a b?.db") }, true},
		{"empty path", func(*testing.T) string { return "" }, false},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "no", "such", "a.db") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			if tc.ok {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(t.Context(), path)
			if (err == nil) != tc.ok {
				t.Fatalf("Open(%q) err = %v, want ok=%v", path, err, tc.ok)
			}
			if err != nil {
				return
			}
			defer db.Close()
			var mode string
			var fk int
			if err := db.w.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := db.r.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" || fk != 1 {
				t.Fatalf("journal_mode = %q, foreign_keys = %d; want wal, 1", mode, fk)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file: %v", err)
			}
		})
	}
}

func TestReopenKeepsDataAndVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	li := &store.LiveInput{ID: "li_keep", Name: "kept", StreamKeyHash: []byte{1}}
	if err := db.LiveInputs().Create(ctx, li); err != nil {
		t.Fatal(err)
	}
	v1, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.LiveInputs().Get(ctx, "li_keep"); err != nil || got.Name != "kept" {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	v2, err := db.SchemaVersion(ctx)
	if err != nil || v2 != v1 {
		t.Fatalf("SchemaVersion after reopen = %d, %v; want %d", v2, err, v1)
	}
	var rows int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != v1 {
		t.Fatalf("schema_version has %d rows (%v), want %d", rows, err, v1)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A newer binary ran migration 999.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"999", fmt.Sprintf("version %d", latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestConcurrentOpenAndWriters opens one new file from several handles at
// once (as several processes would) and writes through all of them: the
// migration runs once and no write fails with SQLITE_BUSY.
func TestConcurrentOpenAndWriters(t *testing.T) {
	const handles, writes = 4, 50
	path := filepath.Join(t.TempDir(), "a.db")
	dbs := make([]*DB, handles)
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			db, err := Open(t.Context(), path)
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
	var versions int
	if err := dbs[0].r.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if latest, _ := dbs[0].SchemaVersion(t.Context()); versions != latest {
		t.Fatalf("schema_version has %d rows, want %d (each migration once)", versions, latest)
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations = %v", ms)
	}
}

func TestContainsPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "%%"},
		{"abc", "%abc%"},
		{"100%", `%100\%%`},
		{"a_b", `%a\_b%`},
		{`a\b`, `%a\\b%`},
		{"été", "%été%"},
	}
	for _, tc := range tests {
		if got := containsPattern(tc.in); got != tc.want {
			t.Errorf("containsPattern(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func BenchmarkGetLiveInput(b *testing.B) {
	storetest.BenchmarkGetLiveInput(b, func(tb testing.TB) store.Store { return openTemp(tb) })
}

func BenchmarkCreateLiveInput(b *testing.B) {
	storetest.BenchmarkCreateLiveInput(b, func(tb testing.TB) store.Store { return openTemp(tb) })
}
