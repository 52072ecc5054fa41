package pgtest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartServer(t *testing.T) {
	var (
		dir  string
		port int
	)
	t.Run("server", func(t *testing.T) {
		srv := StartServer(t)
		dir, port = srv.Dir(), srv.port
		urls := map[string]bool{}
		for range 2 {
			u := srv.NewDatabase(t)
			if urls[u] {
				t.Fatalf("NewDatabase returned %s twice", u)
			}
			urls[u] = true
			conn, err := pgx.Connect(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			var one int
			if err := conn.QueryRow(t.Context(), `SELECT 1`).Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1 = %d, %v", one, err)
			}
			_ = conn.Close(t.Context())
		}
	})
	if dir == "" || t.Failed() { // skipped: no PostgreSQL
		return
	}
	// The subtest's cleanup stopped the server and removed its directory.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("server directory %s still exists (%v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		_ = c.Close()
		t.Errorf("port %d still accepts connections", port)
	}
}

func TestSortNewestFirst(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, nil},
		{
			[]string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/10/bin"},
			[]string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/10/bin", "/usr/lib/postgresql/9.6/bin"},
		},
		{
			[]string{"/usr/lib/postgresql/odd/bin", "/usr/lib/postgresql/17/bin"},
			[]string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/odd/bin"},
		},
	}
	for _, tc := range tests {
		if got := sortNewestFirst(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("sortNewestFirst(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFindBinDir(t *testing.T) {
	empty := t.TempDir()
	onlyInitdb := t.TempDir()
	both := t.TempDir()
	notExec := t.TempDir()
	for dir, files := range map[string][]string{onlyInitdb: {"initdb"}, both: {"initdb", "pg_ctl"}} {
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range []string{"initdb", "pg_ctl"} {
		if err := os.WriteFile(filepath.Join(notExec, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		dirs []string
		want string
	}{
		{"none", nil, ""},
		{"missing dirs", []string{"/nonexistent/pgtest"}, ""},
		{"no binaries", []string{empty}, ""},
		{"initdb without pg_ctl", []string{onlyInitdb}, ""},
		{"not executable", []string{notExec}, ""},
		{"first complete dir wins", []string{empty, onlyInitdb, both, notExec}, both},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findBinDir(tc.dirs)
			if tc.want == "" {
				if !errors.Is(err, ErrNotInstalled) {
					t.Fatalf("findBinDir = %q, %v; want ErrNotInstalled", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("findBinDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
