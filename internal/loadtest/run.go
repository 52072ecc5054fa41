package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Config is one load run.
type Config struct {
	Publishers int // publishers, one per live input
	// Protocol the publishers use: "rtmp" (default; ffmpeg, FLV), "srt"
	// (ffmpeg, MPEG-TS, streamid=publish:KEY), "rtsp" (ffmpeg, TCP
	// interleaved), "whip" (in-process pion sessions sending H.264
	// baseline + Opus) or "rtsp-pull": no publishers, Publishers live
	// inputs whose source is one in-process RTSP camera (Camera) serving a
	// 1080p30 4 Mb/s H.264 + AAC loop (DaemonPath only).
	Protocol string
	Readers  int // LL-HLS readers, round-robin over the published streams
	// WHEPViewers are in-process pion WHEP players, round-robin over the
	// published streams (which must have no B-frames).
	WHEPViewers int
	Duration    time.Duration // measured period
	Warmup      time.Duration // before the measured period

	// DaemonPath starts that daemon binary for the run; otherwise HTTPURL,
	// RTMPURL and Inputs target a running one.
	DaemonPath string
	HTTPURL    string // http://host:port
	RTMPURL    string // rtmp://host:port/live
	SRTAddr    string // host:port of the SRT listener (UDP)
	RTSPURL    string // rtsp://host:port/live (publishers over TCP interleaved)
	Inputs     []Input
	// PID of a running daemon to sample CPU and RSS from (optional; set
	// automatically with DaemonPath).
	PID int

	// Daemon settings written into its config (DaemonPath only).
	SegmentDuration time.Duration
	PartDuration    time.Duration
	ReconnectWindow time.Duration
	KeepDir         bool // keep the daemon's temp dir (config, log, data)

	// Signed (DaemonPath only) has the load use live inputs created over
	// the control API with require_signed_urls, one per publisher, and
	// readers play them with a minted ?token=.
	Signed bool
	// TokenInPath has signed readers put the token in the path in place
	// of the id (/live/TOKEN/index.m3u8) rather than as ?token=.
	TokenInPath bool
	// TokenPerReader has every signed reader play with a token of its own
	// (minted for it), as when a backend mints one per viewer; otherwise
	// the readers of an input share one.
	TokenPerReader bool
	// NoGzip has readers send no Accept-Encoding. By default they accept
	// gzip (the Go client's transparent decompression), as browsers
	// (hls.js) and AVPlayer do, so playlists come compressed.
	NoGzip bool

	// Record (DaemonPath only) has the load use live inputs created over
	// the control API with recording.mode automatic: every publisher's
	// broadcast is recorded to a video in the daemon's data_dir/blobs.
	Record bool
	// Transcode (DaemonPath only): the live inputs are created over the
	// control API with transcode on and this ladder (profile names), and
	// the daemon's mpegflow_transcode_* metrics are kept at the end of the
	// measured period (Report.TranscodeMetrics).
	Transcode []string
	// SampleEvery is how often the daemon's RSS, CPU and disk writes are
	// sampled over the measured period (Report.Series). Default 1 min.
	SampleEvery time.Duration

	// RTMPNoDelay has the RTMP publishers turn Nagle's algorithm off
	// (ffmpeg -tcp_nodelay 1), as OBS does; ffmpeg's default keeps it on.
	RTMPNoDelay bool
	// TracePath, when set, receives one CSV line per part measured.
	TracePath string
	// CPUProfile (DaemonPath only), when set, receives the daemon's CPU
	// profile (pprof) over the measured period.
	CPUProfile string

	Media          MediaSpec
	RequestTimeout time.Duration // per HTTP request, blocking ones included
	Log            *slog.Logger
}

// Report is the outcome of a run; it marshals to the final JSON line.
type Report struct {
	Protocol       string `json:"protocol"`
	Signed         bool   `json:"signed,omitempty"`
	TokenIn        string `json:"token_in,omitempty"` // query | path, when signed
	Gzip           bool   `json:"gzip"`               // readers accept gzip playlists
	TokenPerReader bool   `json:"token_per_reader,omitempty"`
	Publishers     int    `json:"publishers"`
	Readers        int    `json:"readers"`
	// WHEPViewers played over WebRTC; WHEPFirstFrameMS is their time from
	// the offer to the first complete key frame, WHEPFrames the video
	// frames they received, WHEPErrors the sessions that failed.
	WHEPViewers      int             `json:"whep_viewers,omitempty"`
	WHEPFirstFrameMS *LatencySummary `json:"whep_first_frame_ms,omitempty"`
	WHEPFrames       int64           `json:"whep_frames,omitempty"`
	WHEPErrors       int64           `json:"whep_errors,omitempty"`
	// WHEPMetrics are the daemon's mpegflow_whep_* samples at the end of
	// the measured period (viewers, dropped frames, key-frame requests).
	WHEPMetrics   []string `json:"whep_metrics,omitempty"`
	DurationS     float64  `json:"duration_s"`
	CPUPctOneCore *float64 `json:"cpu_pct_one_core"`
	PeakRSSMB     *float64 `json:"peak_rss_mb"`
	// TreeCPUPct and TreePeakRSSMB count the daemon with the processes it
	// runs (ffmpeg for WHIP's Opus-to-AAC, transcoding): CPU over the
	// measured period, and the largest summed RSS sampled every second.
	TreeCPUPct      *float64         `json:"server_tree_cpu_pct_one_core,omitempty"`
	TreePeakRSSMB   *float64         `json:"server_tree_peak_rss_mb,omitempty"`
	PartLatencyMS   LatencySummary   `json:"part_latency_ms"`
	PartsFetched    int64            `json:"parts_fetched"`
	PartsViaHint    int64            `json:"parts_via_hint"`
	Bytes           int64            `json:"bytes"`
	Playlists       int64            `json:"playlists"`
	Errors          map[string]int64 `json:"errors"`
	WarmupErrors    map[string]int64 `json:"warmup_errors"`
	BFrames         int              `json:"bframes"`
	ClientCPUPct    float64          `json:"client_cpu_pct_one_core"`
	PublisherCPUPct float64          `json:"publishers_cpu_pct_one_core"`
	// HostCPUPct is the busy time of the whole host (all cores) and
	// OtherCPUPct what neither the server nor the load took: a busy
	// neighbour makes latency tails meaningless.
	HostCPUPct        float64  `json:"host_cpu_pct_one_core"`
	OtherCPUPct       float64  `json:"other_cpu_pct_one_core"`
	HostCores         int      `json:"host_cores"`
	DaemonShutdownS   *float64 `json:"daemon_shutdown_s,omitempty"`
	DaemonExitedEarly bool     `json:"daemon_exited_early,omitempty"`

	// CameraSessions is, with rtsp-pull, how many sessions played the
	// camera at the end of the measured period (one per pulled input).
	CameraSessions *int `json:"camera_sessions,omitempty"`
	// CameraDropped are the packets the camera could not send (a puller's
	// write queue full) during the whole run.
	CameraDropped *int `json:"camera_dropped_packets,omitempty"`
	// Record says the inputs recorded (Config.Record).
	Record bool `json:"record,omitempty"`
	// Transcode is the ladder the inputs were transcoded to, and
	// TranscodeMetrics the daemon's mpegflow_transcode_* samples at the end
	// of the measured period (speed per input, fps per rung, restarts,
	// capacity used).
	Transcode        []string `json:"transcode,omitempty"`
	TranscodeMetrics []string `json:"transcode_metrics,omitempty"`
	// RSSStartMB and RSSEndMB are the daemon's VmRSS at the start and the
	// end of the measured period: a recording must not make it grow.
	RSSStartMB *float64 `json:"rss_start_mb"`
	RSSEndMB   *float64 `json:"rss_end_mb"`
	// DiskWriteBps is the daemon's write_bytes (/proc/PID/io) per second
	// over the measured period: HLS spill, database and, when recording,
	// the recorded segments.
	DiskWriteBps *float64 `json:"disk_write_bytes_per_s"`
	// Series has a point every SampleEvery over the measured period.
	Series []SeriesPoint `json:"series,omitempty"`
	// RecordedMB and Videos are what data_dir/blobs holds after the daemon
	// stopped (DaemonPath only): bytes, and videos with files.
	RecordedMB *float64 `json:"recorded_mb,omitempty"`
	Videos     *int     `json:"videos,omitempty"`
}

// ErrSetup wraps every failure to set the run up.
var ErrSetup = errors.New("setup failed")

// Run sets up the daemon (optionally), the publishers and the readers, runs
// the warm-up and the measured period, tears everything down (readers,
// then publishers, then the daemon, waiting for each) and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.Publishers < 0 || cfg.Readers < 0 {
		return nil, fmt.Errorf("%w: duration must be > 0, warmup, publishers and readers >= 0", ErrSetup)
	}
	if cfg.Protocol == "" {
		cfg.Protocol = "rtmp"
	}
	if cfg.Signed && cfg.DaemonPath == "" {
		return nil, fmt.Errorf("%w: signed needs a daemon started by the load tool (-daemon)", ErrSetup)
	}
	if cfg.Record && cfg.DaemonPath == "" {
		return nil, fmt.Errorf("%w: record needs a daemon started by the load tool (-daemon)", ErrSetup)
	}
	if len(cfg.Transcode) > 0 && cfg.DaemonPath == "" {
		return nil, fmt.Errorf("%w: transcode needs a daemon started by the load tool (-daemon)", ErrSetup)
	}
	pull := cfg.Protocol == "rtsp-pull"
	if pull && cfg.DaemonPath == "" {
		return nil, fmt.Errorf("%w: rtsp-pull needs a daemon started by the load tool (-daemon)", ErrSetup)
	}
	if pull {
		if cfg.Media.Height <= 0 {
			cfg.Media.Height = 1080
		}
		if cfg.Media.BitrateK <= 0 {
			cfg.Media.BitrateK = 4000
		}
	}
	// rtsp-pull creates its inputs once the camera runs (below)
	viaAPI := cfg.Signed || cfg.Record || len(cfg.Transcode) > 0
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = time.Minute
	}
	switch cfg.Protocol {
	case "rtmp", "srt", "whip", "rtsp", "rtsp-pull":
	default:
		return nil, fmt.Errorf("%w: protocol %q: want rtmp, srt, whip, rtsp or rtsp-pull", ErrSetup, cfg.Protocol)
	}

	var media string
	var whipMedia *WHIPMedia
	if cfg.Publishers > 0 {
		var err error
		if cfg.Protocol == "whip" {
			whipMedia, err = EnsureWHIPMedia(ctx, cfg.Media, log)
		} else {
			media, err = EnsureMedia(ctx, cfg.Media, log)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}

	rep := &Report{Protocol: cfg.Protocol, Signed: cfg.Signed, Record: cfg.Record, Gzip: !cfg.NoGzip, Publishers: cfg.Publishers, Readers: cfg.Readers, BFrames: cfg.Media.BFrames}
	if cfg.Signed {
		rep.TokenPerReader = cfg.TokenPerReader
		rep.TokenIn = "query"
		if cfg.TokenInPath {
			rep.TokenIn = "path"
		}
	}
	var daemon *Daemon
	daemonDir := ""
	var readerTokens []string // by reader, with TokenPerReader
	pullAdmin := ""           // the admin token of a daemon with rtsp-pull inputs
	if cfg.DaemonPath != "" {
		dir, err := os.MkdirTemp("", "mpegflow-load-")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		if cfg.KeepDir {
			log.Info("keeping daemon dir", "dir", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		daemonDir = dir
		admin := ""
		if viaAPI {
			admin = "adm_" + randomKey()
		}
		if pull {
			admin = "adm_" + randomKey()
		}
		daemon, err = StartDaemon(ctx, DaemonConfig{
			Path: cfg.DaemonPath, Dir: dir, Inputs: max(cfg.Publishers, 1),
			SegmentDuration: cfg.SegmentDuration, PartDuration: cfg.PartDuration,
			ReconnectWindow: cfg.ReconnectWindow, AdminToken: admin, Log: log,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		defer func() {
			if daemon != nil {
				_, _ = daemon.Stop()
			}
		}()
		cfg.HTTPURL, cfg.RTMPURL, cfg.SRTAddr, cfg.Inputs, cfg.PID = daemon.HTTPURL, daemon.RTMPURL, daemon.SRTAddr, daemon.Inputs, daemon.PID()
		cfg.RTSPURL = daemon.RTSPURL
		pullAdmin = admin
		if viaAPI {
			if cfg.Signed && cfg.Protocol != "rtmp" {
				return nil, fmt.Errorf("%w: signed: only rtmp publishers", ErrSetup)
			}
			ins, err := CreateInputs(ctx, &http.Client{}, daemon.HTTPURL, admin, max(cfg.Publishers, 1),
				InputOptions{Signed: cfg.Signed, TokenTTL: cfg.Warmup + cfg.Duration + time.Hour, Record: cfg.Record, Transcode: cfg.Transcode})
			if err != nil {
				return nil, fmt.Errorf("%w: live inputs: %w", ErrSetup, err)
			}
			cfg.Inputs = ins
			log.Info("live inputs created over the API", "inputs", len(ins), "signed", cfg.Signed, "record", cfg.Record, "transcode", cfg.Transcode)
			if cfg.TokenPerReader {
				readerTokens = make([]string, cfg.Readers)
				for i, in := range ins {
					n := (cfg.Readers - i + len(ins) - 1) / len(ins) // readers i, i+len(ins), ...
					toks, err := MintTokens(ctx, &http.Client{}, daemon.HTTPURL, admin, in.ID, n, cfg.Warmup+cfg.Duration+time.Hour)
					if err != nil {
						return nil, fmt.Errorf("%w: reader tokens: %w", ErrSetup, err)
					}
					for k, tok := range toks {
						readerTokens[i+k*len(ins)] = tok
					}
				}
				log.Info("playback tokens minted, one per reader", "tokens", cfg.Readers)
			}
		}
	}
	if cfg.HTTPURL == "" {
		return nil, fmt.Errorf("%w: need -daemon, or -http (and -rtmp or -srt with publishers)", ErrSetup)
	}
	if cfg.Publishers > 0 && ((cfg.Protocol == "rtmp" && cfg.RTMPURL == "") || (cfg.Protocol == "srt" && cfg.SRTAddr == "") || (cfg.Protocol == "rtsp" && cfg.RTSPURL == "")) {
		return nil, fmt.Errorf("%w: %s publishers need -daemon or -%s", ErrSetup, cfg.Protocol, cfg.Protocol)
	}
	if cfg.Protocol == "whip" {
		rep.BFrames = 0
	}
	if _, err := url.Parse(cfg.HTTPURL); err != nil {
		return nil, fmt.Errorf("%w: http url: %w", ErrSetup, err)
	}
	if len(cfg.Inputs) < max(cfg.Publishers, 1) {
		return nil, fmt.Errorf("%w: %d publishers need as many live inputs (id:key), got %d", ErrSetup, cfg.Publishers, len(cfg.Inputs))
	}
	streams := cfg.Inputs
	if cfg.Publishers > 0 {
		streams = cfg.Inputs[:cfg.Publishers]
	}

	conns := 2*cfg.Readers + 16 // a blocking playlist and a hinted part per reader
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  cfg.NoGzip,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	t0 := time.Now()
	mStart := t0.Add(cfg.Warmup)
	mEnd := mStart.Add(cfg.Duration)
	stats := NewStats(mStart, mEnd)
	var camera *Camera
	if pull && cfg.Publishers > 0 {
		var err error
		if camera, err = StartCamera(ctx, cfg.Media.FFmpeg, media, stats, log); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		defer camera.Close()
		ins, err := CreateInputs(ctx, &http.Client{}, cfg.HTTPURL, pullAdmin, cfg.Publishers, InputOptions{SourceURL: camera.URL()})
		if err != nil {
			return nil, fmt.Errorf("%w: live inputs: %w", ErrSetup, err)
		}
		cfg.Inputs, streams = ins, ins
		log.Info("live inputs pulling the rtsp camera", "inputs", len(ins), "camera", camera.URL())
	}
	if cfg.TracePath != "" {
		f, err := os.Create(cfg.TracePath)
		if err != nil {
			return nil, fmt.Errorf("%w: trace: %w", ErrSetup, err)
		}
		bw := bufio.NewWriterSize(f, 64<<10)
		defer func() {
			if err := bw.Flush(); err != nil {
				log.Warn("trace", "err", err)
			}
			f.Close()
		}()
		stats.SetTrace(bw)
	}

	pubCtx, pubCancel := context.WithCancel(ctx)
	defer pubCancel()
	var pubWG sync.WaitGroup
	pubs := make([]publisher, cfg.Publishers)
	if camera != nil {
		pubs = []publisher{camera.Feed()} // the daemon pulls; one ffmpeg feeds the camera
	}
	base := strings.TrimSuffix(cfg.HTTPURL, "/")
	for i := range pubs {
		if camera != nil {
			break
		}
		plog := log.With("publisher", streams[i].ID, "protocol", cfg.Protocol)
		var p publisher
		switch cfg.Protocol {
		case "srt":
			p = &Publisher{FFmpeg: cfg.Media.FFmpeg, File: media, Format: "mpegts",
				URL: SRTURL(cfg.SRTAddr, streams[i].Key), Stats: stats, Log: plog}
		case "rtsp":
			p = &Publisher{FFmpeg: cfg.Media.FFmpeg, File: media, Format: "rtsp", OutputArgs: []string{"-rtsp_transport", "tcp"},
				URL: strings.TrimSuffix(cfg.RTSPURL, "/") + "/" + streams[i].Key, Stats: stats, Log: plog}
		case "whip":
			p = &WHIPPublisher{Endpoint: base + "/whip/" + url.PathEscape(streams[i].ID), Key: streams[i].Key,
				H264: whipMedia.H264, FPS: 30, Opus: whipMedia.Opus, Stats: stats, Log: plog}
		default:
			rp := &Publisher{FFmpeg: cfg.Media.FFmpeg, File: media,
				URL: strings.TrimSuffix(cfg.RTMPURL, "/") + "/" + streams[i].Key, Stats: stats, Log: plog}
			if cfg.RTMPNoDelay {
				rp.OutputArgs = []string{"-tcp_nodelay", "1"}
			}
			p = rp
		}
		pubs[i] = p
		// Spread keyframes over the 2 s GOP, as independent encoders would.
		delay := 2 * time.Second * time.Duration(i) / time.Duration(cfg.Publishers)
		pubWG.Go(func() {
			sleepCtx(pubCtx, delay)
			p.Run(pubCtx)
		})
	}
	stopPublishers := func() {
		pubCancel()
		pubWG.Wait()
	}
	defer stopPublishers()

	rdCtx, rdCancel := context.WithDeadline(ctx, mEnd)
	defer rdCancel()
	var rdWG sync.WaitGroup
	for j := range cfg.Readers {
		s := streams[j%len(streams)]
		if j < len(readerTokens) && readerTokens[j] != "" {
			s.Token = readerTokens[j]
		}
		r := &Reader{
			Client: client, URL: playbackURL(base, s, cfg.TokenInPath),
			Timeout: cfg.RequestTimeout, Stats: stats, Log: log.With("reader", j, "live_input", s.ID),
			ID: j, Stream: s.ID,
		}
		delay := time.Second * time.Duration(j) / time.Duration(cfg.Readers)
		rdWG.Go(func() {
			sleepCtx(rdCtx, delay)
			r.Run(rdCtx)
		})
	}
	var whepStats WHEPStats
	for j := range cfg.WHEPViewers {
		s := streams[j%len(streams)]
		v := &WHEPViewer{Endpoint: base + "/whep/" + url.PathEscape(s.ID), Token: s.Token, Stats: &whepStats,
			Log: log.With("whep_viewer", j, "live_input", s.ID)}
		delay := time.Second * time.Duration(j) / time.Duration(cfg.WHEPViewers)
		rdWG.Go(func() {
			sleepCtx(rdCtx, delay)
			v.Run(rdCtx)
		})
	}
	log.Info("running", "publishers", cfg.Publishers, "readers", cfg.Readers, "whep_viewers", cfg.WHEPViewers, "warmup", cfg.Warmup, "duration", cfg.Duration)

	sleepCtx(rdCtx, time.Until(mStart))
	s0 := takeSample(cfg.PID, pubs)
	var profWG sync.WaitGroup
	if cfg.CPUProfile != "" && daemon != nil && rdCtx.Err() == nil {
		profWG.Go(func() {
			if err := fetchCPUProfile(ctx, daemon.MetricsURL, cfg.Duration, cfg.CPUProfile); err != nil {
				log.Warn("no cpu profile", "error", err)
			}
		})
	}
	var ser *series
	if cfg.PID > 0 {
		ser = sampleSeries(rdCtx, cfg.PID, mStart, cfg.SampleEvery)
	}
	var treePeakKB int64
	var treeWG sync.WaitGroup
	if cfg.PID > 0 {
		treeWG.Go(func() {
			for {
				if _, kb, err := procTreeCPUSeconds(cfg.PID); err == nil {
					treePeakKB = max(treePeakKB, kb)
				}
				select {
				case <-rdCtx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		})
	}
	<-rdCtx.Done()
	s1 := takeSample(cfg.PID, pubs)
	profWG.Wait()
	if camera != nil {
		n, d := camera.Readers(), camera.Dropped()
		rep.CameraSessions, rep.CameraDropped = &n, &d
	}
	treeWG.Wait()
	if ser != nil {
		pts, first, last := ser.Wait()
		rep.Series = pts
		if first.rssKB >= 0 && last.rssKB >= 0 {
			a, b := round1(float64(first.rssKB)/1024), round1(float64(last.rssKB)/1024)
			rep.RSSStartMB, rep.RSSEndMB = &a, &b
		}
		if secs := last.at.Sub(first.at).Seconds(); secs >= 1 && first.wrote >= 0 && last.wrote >= 0 {
			v := math.Round(float64(last.wrote-first.wrote) / secs)
			rep.DiskWriteBps = &v
		}
	}
	if treePeakKB > 0 {
		mb := math.Round(float64(treePeakKB)/1024*10) / 10
		rep.TreePeakRSSMB = &mb
	}
	if cfg.PID > 0 {
		if kb, err := procStatusKB(cfg.PID, "VmHWM"); err == nil {
			mb := math.Round(float64(kb)/1024*10) / 10
			rep.PeakRSSMB = &mb
		} else {
			log.Warn("peak RSS unavailable", "err", err)
		}
	}
	if measured := min(s1.at.Sub(mStart), cfg.Duration); measured > 0 {
		rep.DurationS = math.Round(measured.Seconds()*10) / 10
	}
	if s1.at.Sub(s0.at) >= time.Second { // a run interrupted in warm-up measures nothing
		secs := s1.at.Sub(s0.at).Seconds()
		if s0.server >= 0 && s1.server >= 0 {
			v := math.Round((s1.server-s0.server)/secs*1000) / 10
			rep.CPUPctOneCore = &v
		}
		if s0.tree >= 0 && s1.tree >= 0 {
			v := math.Round((s1.tree-s0.tree)/secs*1000) / 10
			rep.TreeCPUPct = &v
		}
		rep.ClientCPUPct = math.Round((s1.self-s0.self)/secs*1000) / 10
		rep.PublisherCPUPct = math.Round(max(0, s1.pubs-s0.pubs)/secs*1000) / 10
		if s0.host >= 0 && s1.host >= 0 {
			rep.HostCPUPct = math.Round((s1.host-s0.host)/secs*1000) / 10
			other := rep.HostCPUPct - rep.ClientCPUPct - rep.PublisherCPUPct
			if rep.TreeCPUPct != nil {
				other -= *rep.TreeCPUPct
			} else if rep.CPUPctOneCore != nil {
				other -= *rep.CPUPctOneCore
			}
			rep.OtherCPUPct = math.Round(max(0, other)*10) / 10
		}
		rep.HostCores = runtime.NumCPU()
	}

	rdCancel()
	rdWG.Wait()
	if cfg.WHEPViewers > 0 {
		ttff, frames, errs := whepStats.summary()
		rep.WHEPViewers, rep.WHEPFirstFrameMS, rep.WHEPFrames, rep.WHEPErrors = cfg.WHEPViewers, &ttff, frames, errs
	}
	if daemon != nil && daemon.Exited() {
		rep.DaemonExitedEarly = true
		log.Error("daemon exited during the run", "err", daemon.waitErr, "log", daemon.LogTail(2000))
	}
	if daemon != nil && cfg.WHEPViewers > 0 {
		var err error
		if rep.WHEPMetrics, err = daemon.Metrics(ctx, "mpegflow_whep_"); err != nil {
			log.Warn("whep metrics", "err", err)
		}
	}
	if daemon != nil && len(cfg.Transcode) > 0 {
		rep.Transcode = cfg.Transcode
		var err error
		if rep.TranscodeMetrics, err = daemon.Metrics(ctx, "mpegflow_transcode_"); err != nil {
			log.Warn("transcode metrics", "err", err)
		}
	}
	stopPublishers()
	if daemon != nil {
		took, err := daemon.Stop()
		daemon = nil
		secs := math.Round(took.Seconds()*100) / 100
		rep.DaemonShutdownS = &secs
		if err != nil {
			log.Warn("daemon stop", "err", err)
		}
		blobs := filepath.Join(daemonDir, "data", "blobs")
		mb := round1(float64(dirBytes(blobs)) / 1e6)
		vids, _ := os.ReadDir(filepath.Join(blobs, "videos"))
		n := len(vids)
		rep.RecordedMB, rep.Videos = &mb, &n
	}

	var errs, warm map[string]int64
	rep.PartLatencyMS, rep.PartsFetched, rep.PartsViaHint, rep.Bytes, rep.Playlists, errs, warm = stats.snapshot()
	rep.Errors, rep.WarmupErrors = errs, warm
	if rep.DaemonExitedEarly {
		rep.Errors["daemon_exit"]++
	}
	return rep, nil
}

// sample is a point-in-time CPU reading in seconds.
type sample struct {
	at     time.Time
	server float64 // -1 when not measured
	self   float64
	pubs   float64
	host   float64 // -1 when unknown
	tree   float64 // the server and its descendants; -1 when not measured
}

// publisher is an RTMP/SRT (ffmpeg) or WHIP (in process) publisher.
type publisher interface {
	Run(ctx context.Context)
	PID() int // 0 when it runs in this process or not at the moment
}

// SRTURL is the caller URL ffmpeg publishes to: srt://ADDR?streamid=publish:KEY.
func SRTURL(addr, key string) string {
	return "srt://" + addr + "?streamid=" + url.QueryEscape("publish:"+key)
}

func takeSample(pid int, pubs []publisher) sample {
	s := sample{at: time.Now(), server: -1, tree: -1}
	if pid > 0 {
		if v, err := procCPUSeconds(pid); err == nil {
			s.server = v
		}
		if v, _, err := procTreeCPUSeconds(pid); err == nil {
			s.tree = v
		}
	}
	s.self, _ = procCPUSeconds(os.Getpid())
	if v, err := hostCPUSeconds(); err == nil {
		s.host = v
	} else {
		s.host = -1
	}
	for _, p := range pubs {
		if pid := p.PID(); pid > 0 {
			v, _ := procCPUSeconds(pid)
			s.pubs += v
		}
	}
	return s
}
