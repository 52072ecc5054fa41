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
	"runtime"
	"strings"
	"sync"
	"time"
)

// Config is one load run.
type Config struct {
	Publishers int           // RTMP publishers, one per live input
	Readers    int           // LL-HLS readers, round-robin over the published streams
	Duration   time.Duration // measured period
	Warmup     time.Duration // before the measured period

	// DaemonPath starts that daemon binary for the run; otherwise HTTPURL,
	// RTMPURL and Inputs target a running one.
	DaemonPath string
	HTTPURL    string // http://host:port
	RTMPURL    string // rtmp://host:port/live
	Inputs     []Input
	// PID of a running daemon to sample CPU and RSS from (optional; set
	// automatically with DaemonPath).
	PID int

	// Daemon settings written into its config (DaemonPath only).
	SegmentDuration time.Duration
	PartDuration    time.Duration
	ReconnectWindow time.Duration
	KeepDir         bool // keep the daemon's temp dir (config, log, data)

	// TracePath, when set, receives one CSV line per part measured.
	TracePath string

	Media          MediaSpec
	RequestTimeout time.Duration // per HTTP request, blocking ones included
	Log            *slog.Logger
}

// Report is the outcome of a run; it marshals to the final JSON line.
type Report struct {
	Publishers      int              `json:"publishers"`
	Readers         int              `json:"readers"`
	DurationS       float64          `json:"duration_s"`
	CPUPctOneCore   *float64         `json:"cpu_pct_one_core"`
	PeakRSSMB       *float64         `json:"peak_rss_mb"`
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

	var media string
	if cfg.Publishers > 0 {
		var err error
		if media, err = EnsureMedia(ctx, cfg.Media, log); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}

	rep := &Report{Publishers: cfg.Publishers, Readers: cfg.Readers, BFrames: cfg.Media.BFrames}
	var daemon *Daemon
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
		daemon, err = StartDaemon(ctx, DaemonConfig{
			Path: cfg.DaemonPath, Dir: dir, Inputs: max(cfg.Publishers, 1),
			SegmentDuration: cfg.SegmentDuration, PartDuration: cfg.PartDuration,
			ReconnectWindow: cfg.ReconnectWindow, Log: log,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		defer func() {
			if daemon != nil {
				_, _ = daemon.Stop()
			}
		}()
		cfg.HTTPURL, cfg.RTMPURL, cfg.Inputs, cfg.PID = daemon.HTTPURL, daemon.RTMPURL, daemon.Inputs, daemon.PID()
	}
	if cfg.HTTPURL == "" || (cfg.Publishers > 0 && cfg.RTMPURL == "") {
		return nil, fmt.Errorf("%w: need -daemon, or -http (and -rtmp with publishers)", ErrSetup)
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
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	t0 := time.Now()
	mStart := t0.Add(cfg.Warmup)
	mEnd := mStart.Add(cfg.Duration)
	stats := NewStats(mStart, mEnd)
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
	pubs := make([]*Publisher, cfg.Publishers)
	for i := range pubs {
		p := &Publisher{
			FFmpeg: cfg.Media.FFmpeg, File: media,
			URL:   strings.TrimSuffix(cfg.RTMPURL, "/") + "/" + streams[i].Key,
			Stats: stats, Log: log.With("publisher", streams[i].ID),
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
	base := strings.TrimSuffix(cfg.HTTPURL, "/")
	for j := range cfg.Readers {
		s := streams[j%len(streams)]
		r := &Reader{
			Client: client, URL: base + "/live/" + url.PathEscape(s.ID) + "/index.m3u8",
			Timeout: cfg.RequestTimeout, Stats: stats, Log: log.With("reader", j, "live_input", s.ID),
			ID: j, Stream: s.ID,
		}
		delay := time.Second * time.Duration(j) / time.Duration(cfg.Readers)
		rdWG.Go(func() {
			sleepCtx(rdCtx, delay)
			r.Run(rdCtx)
		})
	}
	log.Info("running", "publishers", cfg.Publishers, "readers", cfg.Readers, "warmup", cfg.Warmup, "duration", cfg.Duration)

	sleepCtx(rdCtx, time.Until(mStart))
	s0 := takeSample(cfg.PID, pubs)
	<-rdCtx.Done()
	s1 := takeSample(cfg.PID, pubs)
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
		rep.ClientCPUPct = math.Round((s1.self-s0.self)/secs*1000) / 10
		rep.PublisherCPUPct = math.Round(max(0, s1.pubs-s0.pubs)/secs*1000) / 10
		if s0.host >= 0 && s1.host >= 0 {
			rep.HostCPUPct = math.Round((s1.host-s0.host)/secs*1000) / 10
			other := rep.HostCPUPct - rep.ClientCPUPct - rep.PublisherCPUPct
			if rep.CPUPctOneCore != nil {
				other -= *rep.CPUPctOneCore
			}
			rep.OtherCPUPct = math.Round(max(0, other)*10) / 10
		}
		rep.HostCores = runtime.NumCPU()
	}

	rdCancel()
	rdWG.Wait()
	if daemon != nil && daemon.Exited() {
		rep.DaemonExitedEarly = true
		log.Error("daemon exited during the run", "err", daemon.waitErr, "log", daemon.LogTail(2000))
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
}

func takeSample(pid int, pubs []*Publisher) sample {
	s := sample{at: time.Now(), server: -1}
	if pid > 0 {
		if v, err := procCPUSeconds(pid); err == nil {
			s.server = v
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
