// Command mpegflow is the MpegFlow daemon and its command-line tools.
//
//	mpegflow serve [--config PATH]       run the daemon
//	mpegflow quickstart [--config PATH]  print the OBS server URL, stream key and playback URLs
//	mpegflow config default              print the default configuration file
//	mpegflow config check [--config PATH] validate a configuration
//	mpegflow healthcheck [--url URL]     exit 0 when /readyz answers 200
//	mpegflow version                     print the version
//	mpegflow live-inputs create|list|get|update|delete|rotate-key
//	mpegflow tokens create|list|revoke
//	mpegflow events                      tail the event stream
//
// The API clients take --url (or MPEGFLOW_URL), --token (or MPEGFLOW_TOKEN)
// and -o table|json; they exit 1 with the API's message on errors, 2 on
// usage errors.
package main

import (
	"context"
	"errors"
	"flag"
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

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/app"
)

// version is set with -ldflags "-X main.version=..." by the Makefile.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: mpegflow <command> [flags]

commands:
  serve [--config PATH]        run the daemon (defaults: embedded mpegflow.yml)
  quickstart [--config PATH]   print the OBS settings and playback URLs of the static live inputs
  config default               print the default configuration file
  config check [--config PATH] validate a configuration and exit
  healthcheck [--url URL]      exit 0 when the daemon answers ready (for container HEALTHCHECK)
  version                      print the version

control API clients (--url or MPEGFLOW_URL, --token or MPEGFLOW_TOKEN, -o table|json):
  live-inputs create|list|get|update|delete|rotate-key
  tokens create|list|revoke
  events                       print the event stream as it happens
  (mpegflow <command> --help for the flags of each)
`)
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

func loadConfig(name string, args []string, stderr io.Writer) (*conf.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); defaults are embedded")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg, err := conf.Load(*path, os.Environ())
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

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("serve", args, stderr)
	if err != nil {
		return 2
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

func quickstart(args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("quickstart", args, stderr)
	if err != nil {
		return 2
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		fmt.Fprintln(stderr, "mpegflow: data_dir:", err)
		return 1
	}
	entries, err := app.ResolveKeys(cfg)
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

func healthcheck(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "readiness URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(*url)
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
