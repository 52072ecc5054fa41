package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// realFFmpeg is the ffmpeg on PATH; the test is skipped without one.
func realFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	return p
}

// script writes an executable shell script standing in for ffmpeg.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// records is a slog handler's output: one JSON object per line.
type records struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *records) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *records) all(t *testing.T) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func (r *records) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestWatchdogRestartsStalledFFmpeg: a real ffmpeg whose output is no
// longer read blocks without exiting; the watchdog kills it, Wait says
// ErrStalled, and Restart runs it again.
func TestWatchdogRestartsStalledFFmpeg(t *testing.T) {
	t.Parallel()
	ff := realFFmpeg(t)
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg)
	var errs []error
	runs := 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err := Restart{Backoff: 10 * time.Millisecond}.Run(ctx, nil, func(ctx context.Context) error {
		runs++
		if runs == 3 {
			return nil
		}
		p, err := Start(ctx, Config{Path: ff, Stdout: true, StallTimeout: 3 * time.Second, Metrics: m,
			Args: []string{"-hide_banner", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
				"-c:v", "rawvideo", "-f", "nut", "pipe:1"}})
		if err != nil {
			return err
		}
		defer p.Stop()
		// read a little, then stop reading: the pipe fills, ffmpeg blocks
		if _, err := io.ReadFull(p.Stdout(), make([]byte, 64<<10)); err != nil {
			return err
		}
		return p.Wait()
	}, func(err error) { errs = append(errs, err) })
	if err != nil {
		t.Fatal(err)
	}
	if runs != 3 || len(errs) != 2 {
		t.Fatalf("%d runs, failures %v; want 3 runs after 2 stalls", runs, errs)
	}
	for _, e := range errs {
		if !errors.Is(e, ErrStalled) {
			t.Errorf("failure %v, want ErrStalled", e)
		}
	}
	if g := value(m.stalls); g != 2 {
		t.Errorf("stalls_total = %v, want 2", g)
	}
	if el := time.Since(start); el > 40*time.Second {
		t.Errorf("two stalls took %v", el)
	}
}

// TestWatchdogFedButSilent: with stdin, a process that is not fed is idle,
// not stalled; once fed, silence past StallTimeout kills it.
func TestWatchdogFedButSilent(t *testing.T) {
	t.Parallel()
	bin := script(t, "exec cat >/dev/null")
	p, err := Start(context.Background(), Config{Path: bin, Stdin: true, Stdout: true, StallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	select {
	case <-p.Done():
		t.Fatalf("killed while idle: %v", p.Wait())
	case <-time.After(800 * time.Millisecond):
	}
	fed := time.Now()
	if _, err := p.Stdin().Write([]byte("input")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a fed, silent process was not killed")
	}
	if err := p.Wait(); !errors.Is(err, ErrStalled) {
		t.Fatalf("Wait = %v, want ErrStalled", err)
	}
	if el := time.Since(fed); el < 200*time.Millisecond {
		t.Fatalf("killed %v after the feed, before StallTimeout", el)
	}
}

// TestWatchdogSleeper: without stdin, a process that writes nothing for
// StallTimeout is killed (a fake ffmpeg that sleeps).
func TestWatchdogSleeper(t *testing.T) {
	t.Parallel()
	bin := script(t, "sleep 600")
	start := time.Now()
	err := Run(context.Background(), Config{Path: bin, Stdout: true, StallTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("Run = %v, want ErrStalled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("killed after %v", el)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper is dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}

// TestStopKillsGroup: Stop kills the process and what it started (its
// process group), and waits for it.
func TestStopKillsGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child")
	bin := script(t, "sleep 600 &\necho $! > "+pidFile+"\nwait")
	p, err := Start(context.Background(), Config{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; {
		if b, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start its child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	parent := p.PID()
	start := time.Now()
	p.Stop()
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Stop took %v", el)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if p.Wait() == nil {
		t.Error("a killed process reported a clean exit")
	}
	for deadline := time.Now().Add(3 * time.Second); alive(child) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(parent) || alive(child) {
		t.Fatalf("after Stop: parent alive %v, child alive %v", alive(parent), alive(child))
	}
	p.Stop() // idempotent
}

// TestContextKills: the context's end kills the process.
func TestContextKills(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Config{Path: script(t, "sleep 600")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context's end did not kill the process")
	}
}

// TestStderrToSlog: a real ffmpeg's error lands in the caller's log with
// its attributes, URLs and secrets redacted, and in Wait's error.
func TestStderrToSlog(t *testing.T) {
	t.Parallel()
	ff := realFFmpeg(t)
	var rec records
	log := rec.logger().With("live_input", "li_1")
	err := Run(context.Background(), Config{Path: ff, Logger: log, Secrets: []string{"sk_SECRET42"},
		Args: []string{"-hide_banner", "-nostdin", "-i", "file:///nonexistent/sk_SECRET42/x.ts?token=tk_SECRET43", "-f", "null", "-"}})
	if err == nil {
		t.Fatal("ffmpeg on a missing file succeeded")
	}
	var lines []string
	for _, r := range rec.all(t) {
		if s, ok := r["stderr"].(string); ok {
			if r["live_input"] != "li_1" || r["msg"] != "ffmpeg" {
				t.Errorf("stderr record without the caller's attributes: %v", r)
			}
			lines = append(lines, s)
		}
	}
	all := strings.Join(lines, "\n") + rec.buf.String() + err.Error()
	if len(lines) == 0 {
		t.Fatalf("no stderr line logged: %s", rec.buf.String())
	}
	if !strings.Contains(all, "[redacted]") || strings.Contains(all, "SECRET") {
		t.Fatalf("secret not redacted:\n%s", all)
	}
	if !strings.Contains(err.Error(), "file://") {
		t.Errorf("error %q does not carry ffmpeg's message", err)
	}
}

// TestStderrRateLimit: past the burst, lines are counted, not logged.
func TestStderrRateLimit(t *testing.T) {
	t.Parallel()
	var rec records
	bin := script(t, `i=0; while [ $i -lt 100 ]; do echo "line $i" >&2; i=$((i+1)); done`)
	if err := Run(context.Background(), Config{Path: bin, Logger: rec.logger()}); err != nil {
		t.Fatal(err)
	}
	logged, suppressed := 0, -1.0
	for _, r := range rec.all(t) {
		if _, ok := r["stderr"]; ok {
			logged++
		}
		if r["msg"] == "ffmpeg log lines suppressed" {
			suppressed = r["count"].(float64)
		}
	}
	if logged != stderrBurst || suppressed != 100-stderrBurst {
		t.Fatalf("%d lines logged, %v suppressed; want %d and %d", logged, suppressed, stderrBurst, 100-stderrBurst)
	}
}

// TestProgress: a file-writing job with -progress under the watchdog runs
// to its end (its reports are progress).
func TestProgress(t *testing.T) {
	t.Parallel()
	ff := realFFmpeg(t)
	out := filepath.Join(t.TempDir(), "out.nut")
	err := Run(context.Background(), Config{Path: ff, Progress: true, StallTimeout: 5 * time.Second,
		Args: []string{"-hide_banner", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-t", "3", "-c:v", "rawvideo", "-f", "nut", out}})
	if err != nil {
		t.Fatalf("a progressing job: %v", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("no output: %v", err)
	}
}

// TestRestartGivesUp: MaxFailures failures in a row give up; ErrRestartNow
// is not a failure; a nil run ends.
func TestRestartGivesUp(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	runs, failures := 0, 0
	err := Restart{Backoff: time.Millisecond, MaxFailures: 3}.Run(context.Background(), nil, func(context.Context) error {
		runs++
		if runs%2 == 1 {
			return ErrRestartNow
		}
		return boom
	}, func(error) { failures++ })
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, boom) {
		t.Fatalf("Run = %v", err)
	}
	if runs != 6 || failures != 3 {
		t.Fatalf("%d runs, %d failures; want 6 and 3", runs, failures)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Restart{}).Run(ctx, nil, func(context.Context) error { return boom }, nil); err != nil {
		t.Fatalf("Run after the context's end = %v", err)
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"rtmp://live.example.com/app/sk_abc: I/O error", "rtmp://live.example.com/[redacted] I/O error"},
		{"Input #0, flv, from 'rtmp://u:pw@h:1935/live/key':", "Input #0, flv, from 'rtmp://h:1935/[redacted]':"},
		{"https://h/x.m3u8?token=t", "https://h/[redacted]"},
		{"srt://h:9000?streamid=#!::r=KEY", "srt://h:9000/[redacted]"},
		{"no url here", "no url here"},
		{"key KEY12 in text", "key [redacted] in text"},
	} {
		if got := Redact(tt.in, []string{"KEY12", "ab"}); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
