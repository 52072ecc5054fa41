//go:build unix

package sqlstore

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

// TestSQLiteFilesPrivate: the database file and its -wal and -shm files
// are created 0600 even with an umask that lets everyone read (they hold
// stream keys and webhook secrets), and an existing database readable by
// others is made private at the next open. Not parallel: it sets the
// process umask.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	check := func(t *testing.T, path string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(p), err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), perm)
			}
		}
	}
	write := func(t *testing.T, db *DB, id string) {
		t.Helper()
		if err := db.LiveInputs().Create(t.Context(), &store.LiveInput{ID: id, Name: id, StreamKeyHash: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("new", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mpegflow.db")
		db, err := OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		write(t, db, "li_a") // the WAL and shared memory files exist once written
		check(t, path)
	})
	t.Run("existing readable by others", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mpegflow.db")
		db, err := OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		write(t, db, "li_a")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err = OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		write(t, db, "li_b")
		check(t, path)
	})
}
