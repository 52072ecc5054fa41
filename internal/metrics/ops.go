package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures [New].
type Option func(*options)

type options struct {
	dataDir string
}

// WithDataDir exports the free and total bytes of the file system holding
// dir (the daemon's data_dir: database, recordings, HLS spill) as
// mpegflow_data_dir_free_bytes and mpegflow_data_dir_size_bytes, read at
// every scrape with statfs(2).
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// opsMetrics are the collectors the Grafana dashboard and the alert rules in
// deploy/ need beyond the ingest ones: part availability, API latency,
// per-input connects and the data directory's disk.
type opsMetrics struct {
	partAvailability prometheus.Histogram
	apiDuration      *prometheus.HistogramVec
	connects         *prometheus.CounterVec
}

func newOps(r *prometheus.Registry, o options) *opsMetrics {
	x := &opsMetrics{
		partAvailability: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mpegflow_hls_part_availability_seconds",
			Help: "Time from an LL-HLS part's completion to the start of its first delivery (0 for a blocking request waiting on it; RFC 8216bis §6.2.5.2).",
			// a part is 200 ms by default: fine below a second, coarse above
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mpegflow_api_request_duration_seconds",
			Help:    "Control API request duration, by route pattern (e.g. \"GET /v1/live_inputs/{id}\") and status code; the event WebSocket is not counted.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"route", "code"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_ingest_connects_total",
			Help: "Publishing sessions admitted, by live input (a fast-rising count is a flapping encoder).",
		}, []string{"live_input"}),
	}
	r.MustRegister(x.partAvailability, x.apiDuration, x.connects)
	if o.dataDir != "" {
		r.MustRegister(diskCollector{dir: o.dataDir,
			free: prometheus.NewDesc("mpegflow_data_dir_free_bytes", "Bytes available to the daemon on the file system of data_dir.", nil, nil),
			size: prometheus.NewDesc("mpegflow_data_dir_size_bytes", "Size of the file system of data_dir.", nil, nil),
		})
	}
	return x
}

// HLSPartServed records the age of a part at its first delivery
// (hls.Hooks.OnPartServed).
func (m *Metrics) HLSPartServed(age time.Duration) {
	m.ops.partAvailability.Observe(max(age, 0).Seconds())
}

// API wraps the control API handler to time its requests by route. The
// route is the pattern the API's ServeMux matched (http.Request.Pattern,
// set on the shared request by the inner mux), so label values are bounded
// by the registered routes; unmatched paths count as "unmatched".
func (m *Metrics) API(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			h.ServeHTTP(w, r) // the event stream lives for hours: not a latency
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/v1/" {
			route = "unmatched"
		}
		m.ops.apiDuration.WithLabelValues(route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// diskCollector reads statfs(2) of dir at every scrape.
type diskCollector struct {
	dir        string
	free, size *prometheus.Desc
}

func (d diskCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.free; ch <- d.size }

func (d diskCollector) Collect(ch chan<- prometheus.Metric) {
	free, size, err := diskSpace(d.dir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.free, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(d.free, prometheus.GaugeValue, float64(free))
	ch <- prometheus.MustNewConstMetric(d.size, prometheus.GaugeValue, float64(size))
}

// diskSpace returns the bytes available to unprivileged users and the size
// of the file system holding dir.
func diskSpace(dir string) (free, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Bsize <= 0 {
		return 0, 0, errors.New("statfs: no block size")
	}
	bs := uint64(st.Bsize)
	return st.Bavail * bs, st.Blocks * bs, nil
}
