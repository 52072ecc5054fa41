// Command mpegflow-load is MpegFlow's load tool: N publishers (-protocol
// rtmp or srt: ffmpeg looping a generated 720p30 2.5 Mb/s H.264 + AAC file
// in real time, as FLV over RTMP or MPEG-TS over SRT; -protocol whip:
// in-process pion WHIP sessions looping 720p30 2.5 Mb/s H.264 baseline +
// Opus, as a browser sends), M LL-HLS readers that follow blocking
// playlist reloads and fetch every part, and -whep K WebRTC viewers
// (in-process pion WHEP players; time to first frame measured),
// measuring part availability latency, errors and, when it starts the
// daemon itself (or is given its -pid), the server's CPU and peak RSS.
// -protocol rtsp-pull has the daemon pull N live inputs from one RTSP
// camera in the load tool (ffmpeg feeding a 1080p30 4 Mb/s H.264 + AAC
// loop into an in-process RTSP server), for the cost of pulled cameras.
// -signed plays live inputs that require signed URLs: created over the
// control API, each read with a minted ?token=. -record creates the live
// inputs over the control API with recording.mode automatic, so every
// publisher is recorded; the daemon's RSS, CPU and disk writes
// (/proc/PID/io write_bytes) are sampled every -sample-every, to compare
// with the same run without -record.
//
//	mpegflow-load -daemon ./mpegflow -publishers 2 -readers 10 -duration 30s
//	mpegflow-load -daemon ./mpegflow -protocol srt -publishers 20 -readers 20 -duration 30s
//	mpegflow-load -daemon ./mpegflow -signed -publishers 2 -readers 500 -duration 30s
//	mpegflow-load -daemon ./mpegflow -record -publishers 20 -readers 0 -duration 10m
//	mpegflow-load -daemon ./mpegflow -protocol whip -publishers 5 -readers 20 -duration 30s
//	mpegflow-load -daemon ./mpegflow -protocol rtsp-pull -publishers 50 -readers 0 -duration 60s
//	mpegflow-load -daemon ./mpegflow -bframes 0 -publishers 1 -readers 0 -whep 50 -duration 30s
//	mpegflow-load -http http://127.0.0.1:8080 -rtmp rtmp://127.0.0.1:1935/live -keys demo:KEY -readers 20
//	mpegflow-load -http http://127.0.0.1:8080 -protocol srt -srt 127.0.0.1:8890 -keys demo:KEY -publishers 1
//
// It prints a table and, last, one JSON line. It exits 1 on setup failure
// and 2 on bad flags, 0 otherwise (errors during the run are reported, not fatal).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mpegflow/mpegflow/internal/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mpegflow-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       loadtest.Config
		keys      string
		tokenIn   string
		transcode string
		verbose   bool
	)
	fs.IntVar(&cfg.Publishers, "publishers", 1, "publishers (one live input each)")
	fs.StringVar(&cfg.Protocol, "protocol", "rtmp", "publishers' protocol: rtmp, srt (ffmpeg, MPEG-TS), rtsp (ffmpeg, TCP interleaved), whip (in-process pion, H.264 baseline + Opus) or rtsp-pull (the daemon pulls -publishers inputs from one in-process RTSP camera, 1080p30 4 Mb/s; needs -daemon)")
	fs.IntVar(&cfg.Readers, "readers", 10, "LL-HLS readers, spread round-robin over the publishers' streams")
	fs.IntVar(&cfg.WHEPViewers, "whep", 0, "WebRTC (WHEP) viewers in process, round-robin over the publishers' streams; needs -protocol whip or -bframes 0")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "measured period")
	fs.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "warm-up before the measured period")
	fs.StringVar(&cfg.DaemonPath, "daemon", "", "start this mpegflow binary on free loopback ports and measure its CPU and peak RSS")
	fs.StringVar(&cfg.HTTPURL, "http", "", "HTTP base URL of a running daemon, e.g. http://127.0.0.1:8080")
	fs.StringVar(&cfg.RTMPURL, "rtmp", "", "RTMP base URL of a running daemon, e.g. rtmp://127.0.0.1:1935/live")
	fs.StringVar(&cfg.SRTAddr, "srt", "", "SRT listener (UDP host:port) of a running daemon, e.g. 127.0.0.1:8890")
	fs.StringVar(&keys, "keys", "", "live inputs of a running daemon: id:stream_key,...")
	fs.IntVar(&cfg.PID, "pid", 0, "process id of a running daemon, to sample its CPU and peak RSS")
	fs.IntVar(&cfg.Media.BFrames, "bframes", 2, "x264 B-frames in the test file; 0 also sets -tune zerolatency")
	fs.StringVar(&cfg.Media.CacheDir, "cache-dir", "", "where the generated test file is kept (default: user cache dir/mpegflow-load)")
	fs.StringVar(&cfg.Media.FFmpeg, "ffmpeg", "ffmpeg", "ffmpeg binary")
	fs.DurationVar(&cfg.RequestTimeout, "timeout", 10*time.Second, "per HTTP request, blocking ones included")
	fs.DurationVar(&cfg.SegmentDuration, "segment-duration", 2*time.Second, "hls.segment_duration for -daemon")
	fs.DurationVar(&cfg.PartDuration, "part-duration", 200*time.Millisecond, "hls.part_duration for -daemon")
	fs.DurationVar(&cfg.ReconnectWindow, "reconnect-window", 2*time.Second, "rtmp.reconnect_window for -daemon")
	fs.BoolVar(&cfg.Signed, "signed", false, "with -daemon and -protocol rtmp: create the live inputs over the control API with require_signed_urls and have readers play with a minted ?token=")
	fs.StringVar(&tokenIn, "token-in", "query", "with -signed: where readers put the token, query (?token=) or path (/live/TOKEN/index.m3u8)")
	fs.BoolVar(&cfg.Record, "record", false, "with -daemon: create the live inputs over the control API with recording.mode automatic (every broadcast becomes a video)")
	fs.StringVar(&transcode, "transcode", "", "with -daemon: create the live inputs over the control API with transcode on and this ladder of profile names (e.g. 480p,360p); the report keeps the daemon's mpegflow_transcode_* metrics")
	fs.DurationVar(&cfg.SampleEvery, "sample-every", time.Minute, "sample the daemon's RSS, CPU and disk writes this often over the measured period")
	fs.BoolVar(&cfg.TokenPerReader, "token-per-reader", false, "with -signed: mint a token for every reader (a backend minting per viewer); by default the readers of an input share one")
	fs.BoolVar(&cfg.NoGzip, "no-gzip", false, "readers send no Accept-Encoding (by default they accept gzip playlists, as browsers and AVPlayer do)")
	fs.BoolVar(&cfg.KeepDir, "keep", false, "keep the -daemon temp dir (config, log, data)")
	fs.BoolVar(&cfg.RTMPNoDelay, "rtmp-nodelay", false, "RTMP publishers turn Nagle's algorithm off (ffmpeg -tcp_nodelay 1), as OBS does")
	fs.StringVar(&cfg.TracePath, "trace", "", "write one CSV line per measured part to this file")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "with -daemon: write the daemon's CPU profile (pprof) over the measured period to this file")
	fs.BoolVar(&verbose, "v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mpegflow-load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if keys != "" {
		for kv := range strings.SplitSeq(keys, ",") {
			id, key, ok := strings.Cut(strings.TrimSpace(kv), ":")
			if !ok || id == "" || key == "" {
				fmt.Fprintf(stderr, "mpegflow-load: -keys: want id:key, got %q\n", kv)
				return 2
			}
			cfg.Inputs = append(cfg.Inputs, loadtest.Input{ID: id, Key: key})
		}
	}
	if cfg.DaemonPath != "" && (cfg.HTTPURL != "" || cfg.RTMPURL != "" || cfg.SRTAddr != "" || keys != "") {
		fmt.Fprintln(stderr, "mpegflow-load: -daemon excludes -http, -rtmp, -srt and -keys")
		return 2
	}
	switch cfg.Protocol {
	case "rtmp", "srt", "whip", "rtsp", "rtsp-pull":
	default:
		fmt.Fprintf(stderr, "mpegflow-load: -protocol: want rtmp, srt, whip, rtsp or rtsp-pull, got %q\n", cfg.Protocol)
		return 2
	}
	if cfg.Protocol == "rtsp-pull" && cfg.DaemonPath == "" {
		fmt.Fprintln(stderr, "mpegflow-load: -protocol rtsp-pull needs -daemon")
		return 2
	}
	if cfg.Signed && (cfg.DaemonPath == "" || cfg.Protocol != "rtmp") {
		fmt.Fprintln(stderr, "mpegflow-load: -signed needs -daemon and -protocol rtmp")
		return 2
	}
	if cfg.WHEPViewers > 0 && cfg.Protocol != "whip" && cfg.Media.BFrames != 0 {
		fmt.Fprintln(stderr, "mpegflow-load: -whep needs a source without B-frames: -protocol whip or -bframes 0")
		return 2
	}
	if cfg.CPUProfile != "" && cfg.DaemonPath == "" {
		fmt.Fprintln(stderr, "mpegflow-load: -cpuprofile needs -daemon")
		return 2
	}
	if cfg.Record && cfg.DaemonPath == "" {
		fmt.Fprintln(stderr, "mpegflow-load: -record needs -daemon")
		return 2
	}
	if cfg.SampleEvery < time.Second {
		fmt.Fprintln(stderr, "mpegflow-load: -sample-every must be 1s or more")
		return 2
	}
	for _, name := range strings.Split(transcode, ",") {
		if name = strings.TrimSpace(name); name != "" {
			cfg.Transcode = append(cfg.Transcode, name)
		}
	}
	switch tokenIn {
	case "query":
	case "path":
		cfg.TokenInPath = true
	default:
		fmt.Fprintf(stderr, "mpegflow-load: -token-in: want query or path, got %q\n", tokenIn)
		return 2
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	cfg.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mpegflow-load: %v\n", err)
		return 1
	}
	printTable(stdout, rep)
	line, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintf(stderr, "mpegflow-load: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(line))
	return 0
}
