// Package metrics holds MpegFlow's Prometheus collectors. The registry is
// created here and injected; nothing registers globally, so two daemons can
// run in one process. Label values are bounded: protocol names, live input
// ids, request kinds, status codes and fixed reason words — never viewer
// addresses, keys or request paths.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Metrics is the set of MpegFlow collectors on one registry.
type Metrics struct {
	Registry *prometheus.Registry

	ingestSessions      *prometheus.GaugeVec
	ingestSessionsTotal *prometheus.CounterVec
	ingestRejected      *prometheus.CounterVec
	ingestBytes         *prometheus.CounterVec
	ingestFrames        *prometheus.CounterVec
	ingestBitrate       *prometheus.GaugeVec
	keyframeInterval    *prometheus.GaugeVec
	hlsRequests         *prometheus.CounterVec
	hlsBlocked          prometheus.Gauge
	hlsSegments         *prometheus.CounterVec
	readerDrops         *prometheus.CounterVec
	streamsActive       prometheus.Gauge

	srt  *SRTMetrics
	rtsp *rtspMetrics
	ops  *opsMetrics

	mu     sync.Mutex
	inputs map[string]*inputState

	hlsMu       sync.RWMutex
	hlsCounters map[hlsRequestKey]prometheus.Counter // resolved mpegflow_hls_requests_total series
}

type inputState struct {
	windowStart time.Time
	windowBytes int
	lastKey     time.Time
	bitrate     float64 // bits/s over the last complete window
}

var _ ingest.Metrics = (*Metrics)(nil)

// New creates the collectors on a new registry, with Go runtime, process and
// build info collectors.
func New(version string, opts ...Option) *Metrics {
	var o options
	for _, f := range opts {
		f(&o)
	}
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r, inputs: map[string]*inputState{}, hlsCounters: map[hlsRequestKey]prometheus.Counter{}}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "mpegflow_build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	bi.Set(1)
	f(bi)
	m.ingestSessions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mpegflow_ingest_sessions", Help: "Publishing sessions live now, by protocol.",
	}, []string{"protocol"})
	m.ingestSessionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_ingest_sessions_total", Help: "Publishing sessions admitted, by protocol.",
	}, []string{"protocol"})
	m.ingestRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_ingest_rejected_total", Help: "Ingest connections refused, by protocol and reason.",
	}, []string{"protocol", "reason"})
	m.ingestBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_ingest_bytes_total", Help: "Bytes read from the network by publishing sessions, by live input.",
	}, []string{"live_input"})
	m.ingestFrames = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_ingest_frames_total", Help: "Access units received, by live input and kind (video|audio).",
	}, []string{"live_input", "kind"})
	m.ingestBitrate = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mpegflow_ingest_bitrate_bits_per_second", Help: "Media payload bitrate over the last second or more, by live input.",
	}, []string{"live_input"})
	m.keyframeInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mpegflow_ingest_keyframe_interval_seconds", Help: "Time between the last two video key frames at ingest, by live input.",
	}, []string{"live_input"})
	m.hlsRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_hls_requests_total", Help: "HLS requests, by kind (multivariant, playlist, blocking_playlist, init, part, segment) and status code.",
	}, []string{"kind", "status"})
	m.hlsBlocked = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mpegflow_hls_blocked_requests", Help: "Blocking playlist reloads waiting now.",
	})
	m.hlsSegments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_hls_segments_total", Help: "HLS segments completed, by live input.",
	}, []string{"live_input"})
	m.readerDrops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_stream_dropped_frames_total", Help: "Access units dropped because a reader's queue was full, by live input and reader.",
	}, []string{"live_input", "reader"})
	m.streamsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mpegflow_streams_active", Help: "Live streams now (including those waiting in their reconnect window).",
	})
	for _, c := range []prometheus.Collector{m.ingestSessions, m.ingestSessionsTotal, m.ingestRejected, m.ingestBytes,
		m.ingestFrames, m.ingestBitrate, m.keyframeInterval, m.hlsRequests, m.hlsBlocked, m.hlsSegments,
		m.readerDrops, m.streamsActive} {
		f(c)
	}
	m.srt = newSRT(r)
	m.rtsp = newRTSP(r)
	m.ops = newOps(r, o)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// SessionOpened implements ingest.Metrics.
func (m *Metrics) SessionOpened(protocol, liveInput string) {
	m.ingestSessions.WithLabelValues(protocol).Inc()
	m.ops.connects.WithLabelValues(liveInput).Inc()
	m.ingestSessionsTotal.WithLabelValues(protocol).Inc()
}

// SessionClosed implements ingest.Metrics.
func (m *Metrics) SessionClosed(protocol, _ string) {
	m.ingestSessions.WithLabelValues(protocol).Dec()
}

// Rejected implements ingest.Metrics.
func (m *Metrics) Rejected(protocol, reason string) {
	m.ingestRejected.WithLabelValues(protocol, reason).Inc()
}

// Input implements ingest.Metrics: the session's byte and access-unit
// counters are looked up once here.
func (m *Metrics) Input(_ string, liveInput string) ingest.InputMetrics {
	return &inputMetrics{
		m:         m,
		liveInput: liveInput,
		wire:      m.ingestBytes.WithLabelValues(liveInput),
		video:     m.ingestFrames.WithLabelValues(liveInput, stream.KindVideo.String()),
		audio:     m.ingestFrames.WithLabelValues(liveInput, stream.KindAudio.String()),
	}
}

// inputMetrics is one session's resolved counters. The bitrate and
// key-frame interval gauges are still set by label: StreamEnded deletes
// them, and they change at most once a second and once a key frame.
type inputMetrics struct {
	m            *Metrics
	liveInput    string
	wire         prometheus.Counter
	video, audio prometheus.Counter
}

var _ ingest.InputMetrics = (*inputMetrics)(nil)

// WireBytes implements ingest.InputMetrics.
func (im *inputMetrics) WireBytes(n int) { im.wire.Add(float64(n)) }

// Received implements ingest.InputMetrics.
func (im *inputMetrics) Received(kind stream.Kind, n int, key bool) {
	if kind == stream.KindVideo {
		im.video.Inc()
	} else {
		im.audio.Inc()
	}
	m, liveInput := im.m, im.liveInput
	now := time.Now()
	m.mu.Lock()
	st := m.inputs[liveInput]
	if st == nil {
		st = &inputState{windowStart: now}
		m.inputs[liveInput] = st
	}
	st.windowBytes += n
	var bitrate, interval float64 = -1, -1
	if el := now.Sub(st.windowStart); el >= time.Second {
		bitrate = float64(st.windowBytes*8) / el.Seconds()
		st.windowStart, st.windowBytes, st.bitrate = now, 0, bitrate
	}
	if kind == stream.KindVideo && key {
		if !st.lastKey.IsZero() {
			interval = now.Sub(st.lastKey).Seconds()
		}
		st.lastKey = now
	}
	m.mu.Unlock()
	if bitrate >= 0 {
		m.ingestBitrate.WithLabelValues(liveInput).Set(bitrate)
	}
	if interval >= 0 {
		m.keyframeInterval.WithLabelValues(liveInput).Set(interval)
	}
}

// Bitrate is the media bitrate of liveInput over its last measured second,
// 0 when unknown.
func (m *Metrics) Bitrate(liveInput string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.inputs[liveInput]; st != nil {
		return st.bitrate
	}
	return 0
}

// StreamStarted counts a live stream.
func (m *Metrics) StreamStarted(string) { m.streamsActive.Inc() }

// StreamEnded forgets a stream's per-input gauges.
func (m *Metrics) StreamEnded(liveInput string) {
	m.streamsActive.Dec()
	m.mu.Lock()
	delete(m.inputs, liveInput)
	m.mu.Unlock()
	m.ingestBitrate.DeleteLabelValues(liveInput)
	m.keyframeInterval.DeleteLabelValues(liveInput)
}

// Dropped counts a unit a reader lost.
func (m *Metrics) Dropped(liveInput, reader string) {
	m.readerDrops.WithLabelValues(liveInput, reader).Inc()
}

// HLSRequest counts one HLS response. The counter of each (kind, status)
// pair is looked up once and kept: kinds and statuses are a handful of
// fixed values, and this runs on every playlist, part and segment served.
func (m *Metrics) HLSRequest(kind string, status int) {
	k := hlsRequestKey{kind, status}
	m.hlsMu.RLock()
	c := m.hlsCounters[k]
	m.hlsMu.RUnlock()
	if c == nil {
		c = m.hlsRequests.WithLabelValues(kind, strconv.Itoa(status))
		m.hlsMu.Lock()
		m.hlsCounters[k] = c
		m.hlsMu.Unlock()
	}
	c.Inc()
}

type hlsRequestKey struct {
	kind   string
	status int
}

// HLSBlocked moves the blocked-requests gauge.
func (m *Metrics) HLSBlocked(delta int) { m.hlsBlocked.Add(float64(delta)) }

// HLSSegment counts a completed segment.
func (m *Metrics) HLSSegment(liveInput string) { m.hlsSegments.WithLabelValues(liveInput).Inc() }
