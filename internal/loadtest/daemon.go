package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Input is a live input the load targets: its public id (playback) and
// its secret stream key (publishing).
type Input struct {
	ID  string
	Key string
	// Token, when set, is a playback token readers add as ?token=
	// (live inputs with require_signed_urls).
	Token string
}

// DaemonConfig says how to start the daemon under test.
type DaemonConfig struct {
	Path            string // the mpegflow binary
	Dir             string // working directory for config, data and log
	Inputs          int    // live inputs load1..loadN
	SegmentDuration time.Duration
	PartDuration    time.Duration
	ReconnectWindow time.Duration
	LogLevel        string // default "warn"
	ReadyTimeout    time.Duration
	// AdminToken, when set, is written as api.admin_token (16 characters
	// or more) so that the control API can be used.
	AdminToken string
	Log        *slog.Logger
}

// Daemon is a running `mpegflow serve` on free loopback ports.
type Daemon struct {
	HTTPURL string // http://127.0.0.1:PORT
	RTMPURL string // rtmp://127.0.0.1:PORT/live
	SRTAddr string // 127.0.0.1:PORT (UDP)
	// RTSPURL is the RTSP publish base, rtsp://127.0.0.1:PORT/live (TCP).
	RTSPURL string
	Inputs  []Input
	// MetricsURL is the daemon's Prometheus endpoint.
	MetricsURL string

	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	exited  chan struct{}
	waitErr error
}

// StartDaemon writes a config with free loopback ports and cfg.Inputs live
// inputs with random stream keys, starts `PATH serve --config FILE` in its
// own process group, and returns once GET /readyz answers 200.
func StartDaemon(ctx context.Context, cfg DaemonConfig) (*Daemon, error) {
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 20 * time.Second
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	udp, err := freeUDPPorts(2)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		HTTPURL:    fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		RTMPURL:    fmt.Sprintf("rtmp://127.0.0.1:%d/live", ports[1]),
		SRTAddr:    fmt.Sprintf("127.0.0.1:%d", udp[0]),
		RTSPURL:    fmt.Sprintf("rtsp://127.0.0.1:%d/live", ports[3]),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2]),
		exited:     make(chan struct{}),
		logPath:    filepath.Join(cfg.Dir, "daemon.log"),
	}
	var y strings.Builder
	fmt.Fprintf(&y, "http:\n  address: \"127.0.0.1:%d\"\n", ports[0])
	fmt.Fprintf(&y, "rtmp:\n  address: \"127.0.0.1:%d\"\n", ports[1])
	if cfg.ReconnectWindow > 0 {
		fmt.Fprintf(&y, "  reconnect_window: %q\n", cfg.ReconnectWindow.String())
	}
	fmt.Fprintf(&y, "metrics:\n  address: \"127.0.0.1:%d\"\n", ports[2])
	// UDP listeners on ports that were free a moment ago, so that the
	// daemon never collides with another one on this machine and the SRT
	// publishers know where to call.
	fmt.Fprintf(&y, "srt:\n  address: \"127.0.0.1:%d\"\nwebrtc:\n  udp_address: \"127.0.0.1:%d\"\n", udp[0], udp[1])
	fmt.Fprintf(&y, "rtsp:\n  address: \"127.0.0.1:%d\"\n  udp_rtp_address: \"\"\n  udp_rtcp_address: \"\"\n", ports[3])
	fmt.Fprintf(&y, "data_dir: %q\n", filepath.Join(cfg.Dir, "data"))
	if cfg.SegmentDuration > 0 || cfg.PartDuration > 0 {
		y.WriteString("hls:\n")
		if cfg.SegmentDuration > 0 {
			fmt.Fprintf(&y, "  segment_duration: %q\n", cfg.SegmentDuration.String())
		}
		if cfg.PartDuration > 0 {
			fmt.Fprintf(&y, "  part_duration: %q\n", cfg.PartDuration.String())
		}
	}
	fmt.Fprintf(&y, "log:\n  level: %q\n", cfg.LogLevel)
	if cfg.AdminToken != "" {
		fmt.Fprintf(&y, "api:\n  admin_token: %q\n", cfg.AdminToken)
	}
	y.WriteString("live_inputs:\n")
	for i := 1; i <= cfg.Inputs; i++ {
		in := Input{ID: fmt.Sprintf("load%d", i), Key: randomKey()}
		d.Inputs = append(d.Inputs, in)
		fmt.Fprintf(&y, "  - id: %q\n    stream_key: %q\n    name: %q\n", in.ID, in.Key, fmt.Sprintf("load test %d", i))
	}
	confPath := filepath.Join(cfg.Dir, "mpegflow.yml")
	if err := os.WriteFile(confPath, []byte(y.String()), 0o600); err != nil {
		return nil, fmt.Errorf("write daemon config: %w", err)
	}
	if d.logFile, err = os.Create(d.logPath); err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("daemon path: %w", err)
	}
	d.cmd = exec.Command(path, "serve", "--config", confPath)
	d.cmd.Dir = cfg.Dir
	d.cmd.Stdout, d.cmd.Stderr = d.logFile, d.logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		d.logFile.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	cfg.Log.Info("daemon started", "pid", d.cmd.Process.Pid, "http", d.HTTPURL, "rtmp", d.RTMPURL, "srt", d.SRTAddr, "config", confPath)
	if err := d.waitReady(ctx, cfg.ReadyTimeout); err != nil {
		_, _ = d.Stop()
		return nil, fmt.Errorf("%w\ndaemon log:\n%s", err, d.LogTail(3000))
	}
	return d, nil
}

func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.HTTPURL+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			return fmt.Errorf("daemon exited before ready: %v", d.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("daemon not ready (GET /readyz) after %s", timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to 15 s, then kills the process group. It
// returns how long the daemon took to exit after SIGTERM.
func (d *Daemon) Stop() (time.Duration, error) {
	defer d.logFile.Close()
	start := time.Now()
	var err error
	if !d.Exited() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			err = errors.New("daemon did not exit within 15s of SIGTERM; killed")
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.exited
		}
	}
	took := time.Since(start)
	// Children the daemon may have left (ffmpeg transcoders) go too.
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	return took, err
}

// LogTail returns the last n bytes of the daemon's output.
func (d *Daemon) LogTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return ""
	}
	return tail(b, n)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func freeUDPPorts(n int) ([]int, error) {
	var ports []int
	var cs []net.PacketConn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range n {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free udp port: %w", err)
		}
		cs = append(cs, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}

func randomKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "sk_" + hex.EncodeToString(b)
}

// Metrics returns the daemon's Prometheus samples whose names start with
// prefix (comment lines left out).
func (d *Daemon) Metrics(ctx context.Context, prefix string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.MetricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", d.MetricsURL, resp.StatusCode)
	}
	var out []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
