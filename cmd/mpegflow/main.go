// Command mpegflow is the MpegFlow daemon and its command-line tools.
//
//	mpegflow serve [--config PATH]        run the daemon
//	mpegflow quickstart [--config PATH]   print the OBS server URL, stream key and playback URLs
//	mpegflow config default|check         print the default configuration; validate one
//	mpegflow healthcheck [--url URL]      exit 0 when /readyz answers 200
//	mpegflow version                      print the version
//	mpegflow live-inputs (li) ...         create|list|get|update|delete|rotate-key|complete
//	mpegflow videos ...                   list|get|update|delete|clip|download
//	mpegflow webhooks ...                 create|list|get|update|delete|rotate-secret|test|deliveries|delivery|retry
//	mpegflow tokens (token) ...           create|list|get|revoke
//	mpegflow signing-keys ...             create|list|get|revoke
//	mpegflow playback-tokens create       sign a playback token for a live input or a video
//	mpegflow sessions ...                 list|get|kick
//	mpegflow events                       tail the event stream
//
// Help is cobra's for every command (--help, exit 0). The API clients take
// --url (or MPEGFLOW_URL), --token (or MPEGFLOW_TOKEN) and -o
// table|json|yaml. Exit status: 0 ok, 1 API or network error, 2 usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/app"
	"github.com/mpegflow/mpegflow/internal/live"
)

// version is set with -ldflags "-X main.version=..." by the Makefile.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// loadConfig loads the configuration: defaults, the file at path (if any),
// then MPEGFLOW_* variables; errors are printed.
func loadConfig(path string, stderr io.Writer) (*conf.Config, error) {
	cfg, err := conf.Load(path, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "mpegflow: config:", err)
		return nil, err
	}
	return cfg, nil
}

func newLogger(cfg *conf.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// configFlag adds --config to c.
func configFlag(c *cobra.Command, path *string) {
	c.Flags().StringVar(path, "config", "", "configuration file (YAML); defaults are embedded")
}

// statusCmd returns a command whose f returns the exit status.
func statusCmd(use, short string, f func() int) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if code := f(); code != 0 {
				return exitStatus(code)
			}
			return nil
		}}
}

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var path string
	c := statusCmd("serve", "run the daemon (defaults: the embedded mpegflow.yml)", func() int { return serve(path, stdout, stderr) })
	configFlag(c, &path)
	return c
}

func quickstartCmd(stdout, stderr io.Writer) *cobra.Command {
	var path string
	c := statusCmd("quickstart", "print the OBS settings and playback URLs of the static live inputs", func() int { return quickstart(path, stdout, stderr) })
	configFlag(c, &path)
	return c
}

func healthcheckCmd(stderr io.Writer) *cobra.Command {
	var url string
	c := statusCmd("healthcheck", "exit 0 when the daemon answers ready (for a container HEALTHCHECK)", func() int { return healthcheck(url, stderr) })
	c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/readyz", "readiness URL")
	return c
}

func serve(path string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return 1
	}
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)
	a, err := app.New(cfg, log, buildVersion(), stdout)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with error", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// hostPort turns a listen address into one a user on this machine can dial.
func hostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func quickstart(path string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return 1
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		fmt.Fprintln(stderr, "mpegflow: data_dir:", err)
		return 1
	}
	entries, err := live.ResolveKeys(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "mpegflow:", err)
		return 1
	}
	httpHP := hostPort(cfg.HTTP.Address)
	rtmpHP := hostPort(cfg.RTMP.Address)
	var b strings.Builder
	fmt.Fprintf(&b, "MpegFlow %s\n\n", buildVersion())
	for _, e := range entries {
		fmt.Fprintf(&b, "live input %q (%s)\n", e.ID, e.Name)
		fmt.Fprintf(&b, "  OBS Server:  rtmp://%s/live\n", rtmpHP)
		fmt.Fprintf(&b, "  Stream Key:  %s\n", e.StreamKey)
		fmt.Fprintf(&b, "  ffmpeg:      ffmpeg -re -i INPUT -c:v libx264 -g 60 -c:a aac -f flv rtmp://%s/live/<Stream Key>\n", rtmpHP)
		fmt.Fprintf(&b, "  HLS:         http://%s/live/%s/index.m3u8\n", httpHP, e.ID)
		if cfg.SRT.Address != "" {
			srtURL := fmt.Sprintf("srt://%s?streamid=publish:%s", hostPort(cfg.SRT.Address), e.StreamKey)
			if e.SRTPassphrase != "" {
				srtURL += "&passphrase=<srt_passphrase>"
			}
			fmt.Fprintf(&b, "  SRT:         %s\n", srtURL)
		}
		if cfg.RTSP.Address != "" {
			fmt.Fprintf(&b, "  RTSP:        rtsp://%s/live/%s\n", hostPort(cfg.RTSP.Address), e.StreamKey)
		}
		if cfg.WebRTC.UDPAddress != "" {
			fmt.Fprintf(&b, "  WHIP:        http://%s/whip/%s  (Bearer token = Stream Key; browser: http://%s/live/%s/publish)\n", httpHP, e.ID, httpHP, e.ID)
		}
		fmt.Fprintf(&b, "  Player:      http://%s/live/%s/\n\n", httpHP, e.ID)
	}
	if cfg.Metrics.Address != "" {
		fmt.Fprintf(&b, "metrics: http://%s/metrics\n", hostPort(cfg.Metrics.Address))
	}
	_, _ = io.WriteString(stdout, b.String())
	return 0
}

func healthcheck(url string, stderr io.Writer) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy: status", resp.StatusCode)
		return 1
	}
	return 0
}
