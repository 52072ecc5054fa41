package loadtest

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Publisher pushes a media file to an RTMP or SRT URL in real time, looping
// it forever: ffmpeg -re -stream_loop -1 -i FILE -c copy -f flv URL (RTMP)
// or -f mpegts 'srt://HOST:PORT?streamid=publish:KEY' (SRT). ffmpeg
// runs in its own process group under exec.CommandContext and dies with
// the load tool (Pdeathsig). If it exits early it is restarted after a
// second and the exit is counted as a "publisher_exit" error.
type Publisher struct {
	FFmpeg string // default "ffmpeg"
	File   string
	URL    string
	// Format is ffmpeg's output format: "flv" (default, RTMP), "mpegts"
	// (SRT) or "rtsp".
	Format string
	// OutputArgs go before the URL (e.g. -rtsp_transport tcp).
	OutputArgs []string
	Stats      *Stats
	Log        *slog.Logger

	pid atomic.Int64
}

// PID returns the running ffmpeg's process id, or 0.
func (p *Publisher) PID() int { return int(p.pid.Load()) }

// Run publishes until ctx is done and returns after ffmpeg has exited.
func (p *Publisher) Run(ctx context.Context) {
	for exits := 0; ctx.Err() == nil; exits++ {
		stderr, err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		p.Stats.Error("publisher_exit")
		level := slog.LevelWarn
		if exits%10 != 0 { // the first, then every 10th
			level = slog.LevelDebug
		}
		p.Log.Log(ctx, level, "publisher exited, restarting", "exits", exits+1, "err", err, "stderr", strings.TrimSpace(stderr))
		sleepCtx(ctx, time.Second)
	}
}

func (p *Publisher) runOnce(ctx context.Context) (string, error) {
	ff := p.FFmpeg
	if ff == "" {
		ff = "ffmpeg"
	}
	format := p.Format
	if format == "" {
		format = "flv"
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-stream_loop", "-1", "-i", p.File, "-c", "copy", "-f", format}
	args = append(append(args, p.OutputArgs...), p.URL)
	cmd := exec.CommandContext(ctx, ff, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// The whole group: ffmpeg spawns nothing today, but be sure.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = 5 * time.Second
	var errBuf tailBuffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	p.pid.Store(int64(cmd.Process.Pid))
	err := cmd.Wait()
	p.pid.Store(0)
	// Anything left in the group after ffmpeg (nothing expected) goes too.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		p.Log.Debug("kill publisher group", "err", kerr)
	}
	return errBuf.String(), err
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
