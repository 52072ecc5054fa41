// Package ffmpeg is the one supervisor of the daemon's ffmpeg processes:
// the live transcode ladders, the WHIP Opus→AAC step, thumbnails and MP4
// builds all start here. A Process runs under a context in its own process
// group (stopping it kills ffmpeg and anything it started), with its stderr
// logged through the caller's slog.Logger (rate-limited, URLs and secrets
// redacted) and an optional stall watchdog: ffmpeg sometimes hangs without
// exiting, so a process that is fed but produces nothing for StallTimeout
// is killed and its Wait reports ErrStalled. Restart runs a long-running job
// again with backoff; Account is the capacity budget every job draws on.
package ffmpeg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStalled is wrapped by Wait's error when the watchdog killed the
// process.
var ErrStalled = errors.New("ffmpeg: stalled")

// DefaultWaitDelay bounds how long Wait waits for ffmpeg's stderr to close
// once the process is gone (exec.Cmd.WaitDelay).
const DefaultWaitDelay = 5 * time.Second

// Config configures a Process.
type Config struct {
	// Path is the ffmpeg program (default "ffmpeg", looked up on PATH).
	Path string
	// Args are ffmpeg's arguments, without the program name.
	Args []string
	// Logger gets stderr lines and lifecycle messages; give it the
	// caller's attributes ("live_input", "video"). Default: discard.
	Logger *slog.Logger
	// Secrets are strings (stream keys, tokens) never logged: they are
	// replaced in stderr lines and logged arguments. URLs are always
	// redacted past their host (see Redact).
	Secrets []string
	// Stdin gives the process a pipe on its standard input
	// (Process.Stdin); writing to it counts as feeding the process.
	Stdin bool
	// Stdout gives a pipe on its standard output (Process.Stdout, "pipe:1").
	Stdout bool
	// Outputs is the number of extra output pipes, at file descriptors
	// 3, 4, ... ("pipe:3", ...; Process.Output).
	Outputs int
	// Progress adds "-progress pipe:1" and reads ffmpeg's progress
	// reports itself (not with Stdout): a change of out_time_us,
	// total_size or frame counts as output. For jobs that write files.
	Progress bool
	// StallTimeout arms the watchdog (0 = off): the process is killed
	// when no output was read for that long while input was being written
	// to it (Stdin), or, without Stdin, for that long at all. Output is
	// the bytes read from Stdout and Outputs, or Progress reports.
	StallTimeout time.Duration
	// WaitDelay: see DefaultWaitDelay.
	WaitDelay time.Duration
	// Metrics may be nil.
	Metrics *Metrics
}

// Process is one running ffmpeg. Stop it (always) once done with it.
type Process struct {
	cfg    Config
	log    *slog.Logger
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr *stderrLog

	stdin   *feedWriter
	stdout  io.Reader
	outputs []io.Reader
	files   []*os.File // read ends, closed by Stop

	lastOut  atomic.Int64 // unix ns of the last output
	fedSince atomic.Int64 // unix ns of the first input since the last output; 0 = none
	stalled  atomic.Bool

	done    chan struct{}
	waitErr error
	wg      sync.WaitGroup // the waiter, watchdog and progress reader
	stop    sync.Once
}

// Start starts ffmpeg. ctx bounds the process: when it is done the process
// group is killed.
func Start(ctx context.Context, cfg Config) (_ *Process, err error) {
	if cfg.Path == "" {
		cfg.Path = "ffmpeg"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WaitDelay <= 0 {
		cfg.WaitDelay = DefaultWaitDelay
	}
	if cfg.Progress && cfg.Stdout {
		return nil, errors.New("ffmpeg: Progress and Stdout both want standard output")
	}
	if cfg.StallTimeout > 0 && !cfg.Stdout && cfg.Outputs == 0 && !cfg.Progress {
		return nil, errors.New("ffmpeg: the stall watchdog needs an output to watch (Stdout, Outputs or Progress)")
	}
	args := cfg.Args
	if cfg.Progress {
		args = append([]string{"-progress", "pipe:1"}, args...)
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &Process{cfg: cfg, log: cfg.Logger, cancel: cancel, done: make(chan struct{}),
		stderr: &stderrLog{log: cfg.Logger, secrets: cfg.Secrets}}
	var child []*os.File // write ends for the child, closed once it has them
	defer func() {
		for _, f := range child {
			_ = f.Close()
		}
		if err != nil {
			cancel()
			for _, f := range p.files {
				_ = f.Close()
			}
		}
	}()
	pipe := func() (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("ffmpeg: pipe: %w", err)
		}
		p.files = append(p.files, r)
		child = append(child, w)
		return w, nil
	}
	cmd := exec.CommandContext(pctx, cfg.Path, args...)
	setProcessGroup(cmd)
	cmd.WaitDelay = cfg.WaitDelay
	cmd.Stderr = p.stderr
	if cfg.Stdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("ffmpeg: stdin: %w", err)
		}
		p.stdin = &feedWriter{w: w, p: p}
	}
	if cfg.Stdout || cfg.Progress {
		w, err := pipe()
		if err != nil {
			return nil, err
		}
		cmd.Stdout = w
		p.stdout = &outReader{r: p.files[len(p.files)-1], p: p}
	}
	for range cfg.Outputs {
		w, err := pipe()
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
		p.outputs = append(p.outputs, &outReader{r: p.files[len(p.files)-1], p: p})
	}
	p.lastOut.Store(time.Now().UnixNano())
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffmpeg: start %s: %w", cfg.Path, err)
	}
	p.cmd = cmd
	p.log.Debug("ffmpeg started", "pid", cmd.Process.Pid, "args", Redact(strings.Join(args, " "), cfg.Secrets))
	p.wg.Add(1)
	go p.wait()
	if cfg.Progress {
		p.wg.Add(1)
		go p.readProgress()
	}
	if cfg.StallTimeout > 0 {
		p.wg.Add(1)
		go p.watchdog()
	}
	return p, nil
}

// Run runs ffmpeg to its end (Start, Wait, Stop).
func Run(ctx context.Context, cfg Config) error {
	p, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Stop()
	return p.Wait()
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stdin is the pipe to ffmpeg's standard input (Config.Stdin), nil
// without. Closing it ends ffmpeg's input.
func (p *Process) Stdin() io.WriteCloser {
	if p.stdin == nil {
		return nil
	}
	return p.stdin
}

// Stdout is ffmpeg's standard output (Config.Stdout), nil without.
func (p *Process) Stdout() io.Reader {
	if p.cfg.Progress {
		return nil
	}
	return p.stdout
}

// Output is extra output pipe i ("pipe:3" is 0).
func (p *Process) Output(i int) io.Reader { return p.outputs[i] }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit. Its error says how: nil for a clean
// exit, ErrStalled when the watchdog killed it, else the exit status with
// ffmpeg's last stderr lines. Reading the output pipes to their end before
// Wait is not needed: they stay readable until Stop.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Stop kills the process group (if still running), waits for the process
// and the package's goroutines, and closes the pipes. Idempotent.
func (p *Process) Stop() {
	p.stop.Do(func() {
		p.cancel()
		p.wg.Wait()
		if p.stdin != nil {
			_ = p.stdin.w.Close()
		}
		for _, f := range p.files {
			_ = f.Close()
		}
	})
}

func (p *Process) wait() {
	defer p.wg.Done()
	err := p.cmd.Wait()
	// whatever ffmpeg started and left behind goes with it
	killGroup(p.cmd)
	p.stderr.close()
	switch {
	case p.stalled.Load():
		err = fmt.Errorf("%w: no output for %v: %s", ErrStalled, p.cfg.StallTimeout, p.stderr.last())
	case err != nil:
		err = fmt.Errorf("ffmpeg: %w: %s", err, p.stderr.last())
	}
	p.waitErr = err
	p.log.Debug("ffmpeg exited", "pid", p.cmd.Process.Pid, "error", err)
	close(p.done)
	p.cancel() // ends the watchdog
}

// progressed records output.
func (p *Process) progressed() {
	p.lastOut.Store(time.Now().UnixNano())
	p.fedSince.Store(0)
}

// watchdog kills the process when it stalls (Config.StallTimeout).
func (p *Process) watchdog() {
	defer p.wg.Done()
	limit := p.cfg.StallTimeout
	t := time.NewTicker(max(10*time.Millisecond, limit/5))
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		since := p.lastOut.Load()
		if p.stdin != nil {
			since = p.fedSince.Load()
			if since == 0 { // not fed since the last output: idle, not stalled
				continue
			}
			since = max(since, p.lastOut.Load())
		}
		if time.Duration(now-since) < limit {
			continue
		}
		p.stalled.Store(true)
		p.log.Warn("ffmpeg stalled; killing it", "pid", p.cmd.Process.Pid, "no_output_for", limit)
		if m := p.cfg.Metrics; m != nil {
			m.stalls.Inc()
		}
		p.cancel()
		return
	}
}

// readProgress reads -progress reports: key=value lines, a block per
// report ending with progress=continue or progress=end.
func (p *Process) readProgress() {
	defer p.wg.Done()
	sc := bufio.NewScanner(p.stdout)
	last := map[string]string{}
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "out_time_us", "total_size", "frame":
			if last[k] != v {
				last[k] = v
				p.progressed()
			}
		}
	}
}

// feedWriter is the stdin pipe; a write marks the process as fed.
type feedWriter struct {
	w io.WriteCloser
	p *Process
}

func (f *feedWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		f.p.fedSince.CompareAndSwap(0, time.Now().UnixNano())
	}
	return f.w.Write(b)
}

func (f *feedWriter) Close() error { return f.w.Close() }

// outReader is an output pipe; bytes read are progress.
type outReader struct {
	r io.Reader
	p *Process
}

func (o *outReader) Read(b []byte) (int, error) {
	n, err := o.r.Read(b)
	if n > 0 {
		o.p.progressed()
	}
	return n, err
}
