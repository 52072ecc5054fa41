package loadtest

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"
)

// Stats collects what readers and publishers observe. Only events inside
// the measured window [start, end) count towards the report; errors before
// it are kept apart as warm-up errors. Safe for concurrent use.
type Stats struct {
	start, end time.Time

	mu           sync.Mutex
	latenciesMS  []float64
	parts        int64
	partsViaHint int64
	partBytes    int64
	playlists    int64
	errors       map[string]int64
	warmupErrors map[string]int64
	trace        io.Writer
}

// NewStats returns Stats measuring events in [start, end).
func NewStats(start, end time.Time) *Stats {
	return &Stats{
		start:        start,
		end:          end,
		errors:       make(map[string]int64),
		warmupErrors: make(map[string]int64),
	}
}

func (s *Stats) inWindow(t time.Time) bool {
	return !t.Before(s.start) && t.Before(s.end)
}

// Error counts one error of the given kind, observed now.
func (s *Stats) Error(kind string) {
	now := time.Now()
	if now.After(s.end) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inWindow(now) {
		s.errors[kind]++
	} else {
		s.warmupErrors[kind]++
	}
}

// Playlist counts one playlist response received at t.
func (s *Stats) Playlist(t time.Time) {
	if !s.inWindow(t) {
		return
	}
	s.mu.Lock()
	s.playlists++
	s.mu.Unlock()
}

// PartEvent is one part (or, without parts, segment) fully received.
type PartEvent struct {
	Reader  int
	Stream  string
	MSN     uint64
	Part    int // -1 for a whole segment
	ViaHint bool
	Arrival time.Time // last byte received
	Bytes   int64
	Latency time.Duration // availability latency, when Known
	Known   bool          // the segment had a PROGRAM-DATE-TIME
}

// Part records one part received inside the window.
func (s *Stats) Part(ev PartEvent) {
	if !s.inWindow(ev.Arrival) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts++
	s.partBytes += ev.Bytes
	if ev.ViaHint {
		s.partsViaHint++
	}
	ms := float64(ev.Latency) / float64(time.Millisecond)
	if ev.Known {
		s.latenciesMS = append(s.latenciesMS, ms)
	}
	if s.trace != nil {
		fmt.Fprintf(s.trace, "%d,%s,%d,%d,%t,%s,%d,%.1f\n", ev.Reader, ev.Stream, ev.MSN, ev.Part, ev.ViaHint,
			ev.Arrival.UTC().Format("15:04:05.000000"), ev.Bytes, ms)
	}
}

// SetTrace makes Stats write one CSV line per part received in the window
// to w (header first). Call before the run starts.
func (s *Stats) SetTrace(w io.Writer) {
	s.trace = w
	fmt.Fprintln(w, "reader,stream,msn,part,via_hint,arrival_utc,bytes,latency_ms")
}

// LatencySummary holds percentiles of part availability latency, in ms.
type LatencySummary struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	Min float64 `json:"min"`
	N   int     `json:"n"`
}

// summarize returns nearest-rank percentiles of v (sorted in place).
func summarize(v []float64) LatencySummary {
	if len(v) == 0 {
		return LatencySummary{}
	}
	slices.Sort(v)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(v)))) - 1
		i = max(0, min(i, len(v)-1))
		return round1(v[i])
	}
	return LatencySummary{
		P50: rank(50), P95: rank(95), P99: rank(99),
		Max: round1(v[len(v)-1]), Min: round1(v[0]), N: len(v),
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// snapshot returns copies of the collected figures.
func (s *Stats) snapshot() (lat LatencySummary, parts, viaHint, bytes, playlists int64, errs, warm map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.latenciesMS)
	errs = make(map[string]int64, len(s.errors))
	for k, v := range s.errors {
		errs[k] = v
	}
	warm = make(map[string]int64, len(s.warmupErrors))
	for k, v := range s.warmupErrors {
		warm[k] = v
	}
	return summarize(l), s.parts, s.partsViaHint, s.partBytes, s.playlists, errs, warm
}
