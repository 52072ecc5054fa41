package sqlstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSQLite(t *testing.T) {
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
			db, err := OpenSQLite(t.Context(), path)
			if (err == nil) != tc.ok {
				t.Fatalf("OpenSQLite(%q) err = %v, want ok=%v", path, err, tc.ok)
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

// TestOpenPostgresBadURL: an unusable URL fails Open without the password
// in the error.
func TestOpenPostgresBadURL(t *testing.T) {
	tests := []struct{ name, url string }{
		{"not a url", "postgres://user:secret@[::1"},
		{"unreachable", "postgres://postgres:secret@127.0.0.1:1/x?connect_timeout=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenPostgres(t.Context(), tc.url)
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

// TestMigrationsPerBackend: each backend has the same numbered migrations
// (the same schema changes, in its own column types).
func TestMigrationsPerBackend(t *testing.T) {
	lite, err := loadMigrations(sqliteDialect{})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(&postgresDialect{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones; want the same, > 0", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: %s on SQLite, %s on PostgreSQL", i+1, lite[i].Name, pg[i].Name)
		}
	}
}

func TestNumbered(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"LIKE ? ESCAPE '\\'", "LIKE $1 ESCAPE '\\'"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"odd?name" = ?`, `"odd?name" = $1`},
		{"'it''s?' || ?", "'it''s?' || $1"},
		{"IN (?, ?, ?)", "IN ($1, $2, $3)"},
	}
	for _, tc := range tests {
		if got := numbered(tc.in); got != tc.want {
			t.Errorf("numbered(%q) = %q, want %q", tc.in, got, tc.want)
		}
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

func TestPlaceholders(t *testing.T) {
	for n, want := range map[int]string{1: "?", 2: "?, ?", 3: "?, ?, ?"} {
		if got := placeholders(n); got != want {
			t.Errorf("placeholders(%d) = %q, want %q", n, got, want)
		}
	}
}
