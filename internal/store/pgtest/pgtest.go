// Package pgtest starts throwaway PostgreSQL servers for tests: initdb into
// a temporary directory, pg_ctl start on a free 127.0.0.1 port (its unix
// socket in the same directory), one new database per test, and at cleanup
// pg_ctl stop -m immediate and the directory removed.
//
// The server binaries are looked up on PATH, in /usr/local/bin and in
// /usr/lib/postgresql/*/bin (Debian's postgresql package; newest version
// first). When they are missing, Start and StartServer skip the test, or
// fail it when the CI environment variable is set. initdb refuses to run as
// root; as root the binaries run as the "postgres" system user (created by
// the Debian package), which owns the temporary directory.
//
// The server trades durability for speed (fsync, synchronous_commit and
// full_page_writes off): it is for tests only.
//
// One server per test binary or top-level test is the cheap pattern:
//
//	func TestPostgres(t *testing.T) {
//		srv := pgtest.StartServer(t)
//		t.Run("a", func(t *testing.T) { url := srv.NewDatabase(t); ... })
//		t.Run("b", func(t *testing.T) { url := srv.NewDatabase(t); ... })
//	}
//
// or, for a single test, url := pgtest.Start(t).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled means no PostgreSQL server binaries (initdb and pg_ctl)
// were found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin; install the Debian package postgresql")

// startTimeout bounds initdb plus pg_ctl start.
const startTimeout = 2 * time.Minute

// Server is a running throwaway PostgreSQL cluster. Its superuser is
// "postgres" with trust authentication.
type Server struct {
	dir    string // owns everything: data/, the socket, logs
	binDir string
	port   int
	runAs  *account // nil: run as the current user

	dbSeq atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// account is a system user the server binaries run as.
type account struct {
	name     string
	uid, gid uint32
}

// Start starts a server for tb (stopped at its cleanup) and returns the URL
// of a new, empty database in it. Without PostgreSQL binaries it skips tb,
// or fails it when the CI environment variable is set.
func Start(tb testing.TB) string {
	tb.Helper()
	return StartServer(tb).NewDatabase(tb)
}

// StartServer starts a server for tb, stopped at its cleanup; NewDatabase
// then gives each (sub)test its own database. Without PostgreSQL binaries
// it skips tb, or fails it when the CI environment variable is set.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := New(tb.Context())
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		tb.Skip(err.Error())
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// New initialises and starts a server. The caller must Close it. It
// returns an error wrapping ErrNotInstalled when the binaries are missing.
func New(ctx context.Context) (*Server, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	binDir, err := findBinDir(candidateDirs())
	if err != nil {
		return nil, err
	}
	s := &Server{binDir: binDir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root, and initdb refuses root, but there is no postgres user to run it as: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("pgtest: user postgres: uid %q gid %q", u.Uid, u.Gid)
		}
		s.runAs = &account{name: "postgres", uid: uint32(uid), gid: uint32(gid)}
	}

	// Not t.TempDir: its parents are private to the current user, and the
	// postgres user must reach this one. The socket path must also stay
	// short (107 bytes).
	s.dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.runAs != nil {
		if err := os.Chown(s.dir, int(s.runAs.uid), int(s.runAs.gid)); err != nil {
			_ = os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}

	if out, err := s.run(ctx, "initdb", "-D", s.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}

	var lastErr error
	for range 3 { // a free port may be taken before the server binds it
		if err := s.start(ctx); err != nil {
			lastErr = err
			continue
		}
		return s, nil
	}
	_ = os.RemoveAll(s.dir)
	return nil, lastErr
}

// dataDir is the cluster's data directory.
func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// start runs pg_ctl start on a free port and waits until the server takes
// connections.
func (s *Server) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("pgtest: free port: %w", err)
	}
	s.port = port
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='%s'"+
		" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		port, s.dir)
	logFile := filepath.Join(s.dir, "server.log")
	if out, err := s.run(ctx, "pg_ctl", "-D", s.dataDir(), "-l", logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		// pg_ctl may have left a server behind that never became ready.
		_, _ = s.run(context.WithoutCancel(ctx), "pg_ctl", "-D", s.dataDir(), "-m", "immediate", "-w", "stop")
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", port, err, out, tail(log, 4096))
	}
	// pg_ctl -w waited for readiness; check that the port is ours.
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: connect: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL returns the connection URL of database on the server.
func (s *Server) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir is the server's temporary directory (data/, server.log, the socket).
func (s *Server) Dir() string { return s.dir }

// CreateDatabase creates a new, empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", s.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// FILE_COPY (PostgreSQL 15+) copies the small template's files instead
	// of WAL-logging every page: much faster for throwaway databases.
	var num int
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	q := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()
	if num >= 150000 {
		q += ` STRATEGY FILE_COPY`
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// NewDatabase creates a new, empty database for tb and returns its URL;
// it fails tb on error. The database goes with the server.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	u, err := s.CreateDatabase(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// Close stops the server (pg_ctl stop -m immediate) and removes its
// directory. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var errs []error
		if out, err := s.run(ctx, "pg_ctl", "-D", s.dataDir(), "-m", "immediate", "-w", "stop"); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out))
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// run runs a server binary (as s.runAs when set) in s.dir and returns its
// combined output. The output goes through a file, not a pipe: pg_ctl
// leaves a server running that must not hold our pipe open.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()

	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, name), args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{
		"PATH=" + s.binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"LC_ALL=C", "LANG=C", "TZ=UTC",
		"HOME=" + s.dir,
	}
	if s.runAs != nil {
		cmd.Env = append(cmd.Env, "USER="+s.runAs.name, "LOGNAME="+s.runAs.name)
		setCredential(cmd, s.runAs.uid, s.runAs.gid)
	}
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, err
}

// candidateDirs lists where the server binaries may be, in order of
// preference: PATH, /usr/local/bin, /usr/lib/postgresql/*/bin newest first.
func candidateDirs() []string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, "/usr/local/bin")
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	return append(dirs, sortNewestFirst(versioned)...)
}

// findBinDir returns the first of dirs holding both initdb and pg_ctl, or
// ErrNotInstalled.
func findBinDir(dirs []string) (string, error) {
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// sortNewestFirst orders /usr/lib/postgresql/VERSION/bin directories by
// VERSION, numerically, newest first.
func sortNewestFirst(dirs []string) []string {
	version := func(d string) []int {
		var v []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(f)
			if err != nil {
				n = -1
			}
			v = append(v, n)
		}
		return v
	}
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	return out
}

// isExecutable reports whether path is an executable regular file
// (symbolic links followed).
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
