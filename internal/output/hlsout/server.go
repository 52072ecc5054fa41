// Package hlsout serves the live streams of the hub as Low-Latency HLS over
// HTTP: it owns one hls.Muxer per live stream and maps /live/ID/... onto it.
package hlsout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Metrics receives what the HLS output counts.
type Metrics interface {
	HLSRequest(kind string, status int)
	HLSBlocked(delta int)
	HLSSegment(liveInput string)
	// HLSPartServed observes a part's age at its first delivery.
	HLSPartServed(age time.Duration)
}

// Config configures a Server.
type Config struct {
	// SegmentDuration and PartDuration are the packager targets (defaults
	// 2 s and 200 ms).
	SegmentDuration, PartDuration time.Duration
	// MaxSegmentDuration bounds EXT-X-TARGETDURATION, which each muxer
	// fits once to its publisher's GOP (hls.MuxerConfig; default 10 s).
	MaxSegmentDuration time.Duration
	// Linger is how long an ended stream's playlists (with EXT-X-ENDLIST)
	// stay served before the muxer's memory is released. Default 30 s.
	Linger  time.Duration
	Metrics Metrics
	Logger  *slog.Logger
	// SpillDir, when set (the daemon uses data_dir/hls-spill), is where
	// completed segments of live streams are written (one directory per
	// muxer, hls.DiskStorage), so that a stream's heap holds only the
	// segment in progress instead of the whole playlist window (about
	// 0.6 MB instead of 25 MB at 2.5 Mb/s); segments and parts are served
	// back from the files (page cache, not process memory). New empties it
	// (leftovers of a crash); a muxer's directory is removed when the muxer
	// is released. Default "": segments stay in memory.
	SpillDir string
	// Demand, when set, is told of every request for a live input's
	// stream, before the stream is looked up: a source that runs only
	// while watched (an RTSP camera pulled on demand) starts then, and
	// the request waits for its stream.
	Demand Demand
}

// Demand starts and keeps running the sources that run only while
// watched.
type Demand interface {
	// Demand marks live input id as watched now and, when its source is
	// starting, waits until its stream is live (the source bounds the
	// wait) or ctx ends; an error means the stream did not start. The
	// source keeps running until release is called and some idle time
	// after. Inputs without such a source return at once, release nil.
	Demand(ctx context.Context, liveInputID string) (release func(), err error)
}

// demandRetryAfter is the Retry-After of a 503 for a source that did not
// start in time (RFC 9110 §10.2.3).
const demandRetryAfter = "5"

// entryWait bounds how long a request waits, once its on-demand source
// started, for the stream's muxer to be installed by the live graph.
const entryWait = 2 * time.Second

// Server routes HLS requests to the muxer of each live stream.
type Server struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	entries map[string]*entry
	added   chan struct{} // closed and replaced when an entry is installed
	closed  bool
	wg      sync.WaitGroup
}

type entry struct {
	id     string
	spill  string // the muxer's spill directory, "" without SpillDir
	mux    *hls.Muxer
	rend   *hls.Rendition
	tracks []stream.Track
	// audioFrom names the rendition that carries the source rendition's
	// audio ("": the source's own audio track)
	audioFrom string
	// audioShift is the source's presentation shift (presentShift.shift,
	// nanoseconds), set by the sink, applied to audioFrom's units
	audioShift atomic.Int64
	// audioLag is audioFrom's AudioRendition.Lag; audioIn is set once
	// its first unit was written (startHold)
	audioLag time.Duration
	audioIn  atomic.Bool
	timer    *time.Timer
	// viewers counts distinct recent playlist clients
	viewers viewers
	// touched only by the sink goroutine
	writeErrs int
}

// New returns a Server with no streams.
func New(cfg Config) *Server {
	if cfg.Linger <= 0 {
		cfg.Linger = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SpillDir != "" {
		cleanSpill(cfg.SpillDir, cfg.Logger)
	}
	return &Server{cfg: cfg, log: cfg.Logger, entries: map[string]*entry{}, added: make(chan struct{})}
}

// cleanSpill removes what a previous run left in the spill directory.
func cleanSpill(dir string, log *slog.Logger) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return // missing: created with the first stream
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(dir, de.Name())); err != nil {
			log.Warn("hls spill directory not cleaned", "dir", dir, "error", err)
		}
	}
}

// newSpill creates the spill directory of a new muxer of live input id.
func (s *Server) newSpill(id string) (string, hls.Storage, error) {
	if s.cfg.SpillDir == "" {
		return "", nil, nil
	}
	if err := os.MkdirAll(s.cfg.SpillDir, 0o750); err != nil {
		return "", nil, fmt.Errorf("hls spill directory: %w", err)
	}
	safe := []byte(id)
	for i, c := range safe {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			safe[i] = '_'
		}
	}
	if len(safe) > 64 {
		safe = safe[:64]
	}
	// unique per muxer: a replaced muxer of the same input may still be closing
	dir, err := os.MkdirTemp(s.cfg.SpillDir, string(safe)+"-")
	if err != nil {
		return "", nil, fmt.Errorf("hls spill directory: %w", err)
	}
	ds, err := hls.NewDiskStorage(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, ds, nil
}

// closeEntry closes the muxer of e and removes its spill directory.
func (s *Server) closeEntry(e *entry) {
	e.mux.Close()
	if e.spill != "" {
		if err := os.RemoveAll(e.spill); err != nil {
			s.log.Warn("hls spill directory not removed", "live_input", e.id, "dir", e.spill, "error", err)
		}
	}
}

// Sink creates the muxer of a stream that just started and returns the
// sink that feeds it from a reader of the stream (Node does this within a
// live input's graph). A previous, ended muxer of the same live input is
// replaced. A stream whose video HLS cannot carry (VP8, VP9) gets a muxer
// without a source rendition: only the renditions added by AddRendition
// (its transcoded rungs) are served, and its units are drained.
func (s *Server) Sink(st *stream.Stream) (*StreamSink, error) {
	e, err := s.newEntry(st, nil, nil)
	if err != nil {
		return nil, err
	}
	return &StreamSink{srv: s, e: e}, nil
}

// newEntry creates and installs the muxer of st; onSegment, when set,
// receives every segment the muxer completes (hls.Hooks.OnSegmentComplete,
// called from the write path: it must not block). audio, when set, is the
// rendition whose track the source rendition carries in place of the
// source's own audio (pipeline.AudioRendition).
func (s *Server) newEntry(st *stream.Stream, onSegment func(hls.SegmentInfo), audio *pipeline.AudioRendition) (*entry, error) {
	id := st.ID()
	tracks := st.Tracks()
	rc := hls.RenditionConfig{Name: "source"}
	noSource := false
	for _, t := range tracks {
		if stream.TranscodedOnly(t.Codec) {
			// HLS cannot carry it: only transcoded renditions
			// (AddRendition) are served; the source is not a variant
			noSource = true
			continue
		}
		c, err := toCodec(t.Codec)
		if err != nil {
			return nil, err
		}
		if t.Kind() == stream.KindVideo {
			rc.Video = c
		} else {
			rc.Audio = c
		}
	}
	audioFrom, audioLag := "", time.Duration(0)
	if audio != nil && rc.Audio != nil {
		c, err := toCodec(audio.Codec)
		if err != nil {
			return nil, err
		}
		// its audio comes late in wall-clock time (a transcode): cuts
		// wait for it, so that segments are not short of their audio
		rc.Audio, rc.AudioLag, audioFrom, audioLag = c, audio.Lag, audio.Name, audio.Lag
	}
	m := s.cfg.Metrics
	hooks := hls.Hooks{}
	if m != nil {
		hooks.OnRequest = func(k hls.RequestKind, status int) { m.HLSRequest(k.String(), status) }
		hooks.OnBlocked = m.HLSBlocked
		hooks.OnSegment = func(string, time.Duration, int) { m.HLSSegment(id) }
		hooks.OnPartServed = m.HLSPartServed
	}
	hooks.OnSegmentComplete = onSegment
	spill, storage, err := s.newSpill(id)
	if err != nil {
		return nil, err
	}
	if storage != nil {
		hooks.OnStorageError = func(key string, err error) {
			s.log.Warn("hls spill failed", "live_input", id, "segment", key, "error", err)
		}
	}
	mux, err := hls.NewMuxer(hls.MuxerConfig{
		SegmentDuration:    s.cfg.SegmentDuration,
		PartDuration:       s.cfg.PartDuration,
		MaxSegmentDuration: s.cfg.MaxSegmentDuration,
		Storage:            storage,
		Hooks:              hooks,
	})
	if err != nil {
		if spill != "" {
			_ = os.RemoveAll(spill)
		}
		return nil, fmt.Errorf("new muxer: %w", err)
	}
	e := &entry{id: id, spill: spill, mux: mux, tracks: tracks, audioFrom: audioFrom, audioLag: audioLag}
	if !noSource {
		rend, err := mux.AddRendition(rc)
		if err != nil {
			s.closeEntry(e)
			return nil, fmt.Errorf("add rendition: %w", err)
		}
		e.rend = rend
	}
	s.mu.Lock()
	old := s.entries[id]
	s.entries[id] = e
	close(s.added)
	s.added = make(chan struct{})
	s.mu.Unlock()
	if old != nil {
		s.release(old)
	}
	return e, nil
}

// End marks the stream of id as over: its playlists get EXT-X-ENDLIST now
// and the muxer is released after Linger.
func (s *Server) End(id string) {
	s.mu.RLock()
	e := s.entries[id]
	s.mu.RUnlock()
	if e != nil {
		s.end(e)
	}
}

// end ends the muxer of e when it is still its live input's.
func (s *Server) end(e *entry) {
	id := e.id
	s.mu.Lock()
	if s.entries[id] != e || s.closed {
		s.mu.Unlock()
		return
	}
	e.mux.End()
	s.wg.Add(1)
	e.timer = time.AfterFunc(s.cfg.Linger, func() {
		defer s.wg.Done()
		s.mu.Lock()
		cur := s.entries[id] == e
		if cur {
			delete(s.entries, id)
		}
		s.mu.Unlock()
		if cur {
			s.closeEntry(e)
		}
	})
	s.mu.Unlock()
}

func (s *Server) release(e *entry) {
	if e.timer != nil && e.timer.Stop() {
		s.wg.Done()
	}
	e.mux.End()
	s.closeEntry(e)
}

// Close ends and releases every muxer; idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	entries := s.entries
	s.entries = map[string]*entry{}
	s.mu.Unlock()
	for _, e := range entries {
		s.release(e)
	}
	s.wg.Wait()
}

// Live reports whether id has a muxer (live, or ended and lingering).
func (s *Server) Live(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entries[id] != nil
}

// ServeStream serves rest (the path under /live/ID/) from the muxer of id;
// 404 when the input is not live. With Config.Demand, every request
// holds the stream of an on-demand source while it is served; one whose
// source does not start in time is answered 503 with Retry-After.
func (s *Server) ServeStream(w http.ResponseWriter, r *http.Request, id, rest string) {
	var release func()
	if d := s.cfg.Demand; d != nil {
		var err error
		release, err = d.Demand(r.Context(), id)
		if err != nil {
			if r.Context().Err() != nil {
				return // the viewer left
			}
			s.log.Info("hls request for a source that did not start", "live_input", id, "error", err)
			w.Header().Set("Retry-After", demandRetryAfter)
			http.Error(w, "the live input's source has not started yet; retry", http.StatusServiceUnavailable)
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.HLSRequest(kindOf(rest), http.StatusServiceUnavailable)
			}
			return
		}
	}
	var e *entry
	if release != nil { // an on-demand source that runs now
		defer release()
		e = s.waitEntry(r.Context(), id)
	} else {
		s.mu.RLock()
		e = s.entries[id]
		s.mu.RUnlock()
	}
	if e == nil {
		http.Error(w, "stream not live", http.StatusNotFound)
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.HLSRequest(kindOf(rest), http.StatusNotFound)
		}
		return
	}
	if strings.HasSuffix(rest, ".m3u8") {
		e.viewers.touch(r, time.Now())
	}
	// a shallow copy with the path rewritten, as http.StripPrefix does: a
	// deep Clone (headers, form, trailer) per request is not needed here
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = rest, ""
	r2.URL = &u
	e.mux.ServeHTTP(w, r2)
}

// waitEntry returns the muxer of id, waiting up to entryWait for a
// stream that just started to get one; nil when it does not.
func (s *Server) waitEntry(ctx context.Context, id string) *entry {
	var t *time.Timer
	for {
		s.mu.RLock()
		e, added := s.entries[id], s.added
		s.mu.RUnlock()
		if e != nil {
			return e
		}
		if t == nil {
			t = time.NewTimer(entryWait)
			defer t.Stop()
		}
		select {
		case <-added:
		case <-t.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func kindOf(name string) string {
	switch {
	case name == "index.m3u8":
		return "multivariant"
	case strings.HasSuffix(name, ".m3u8"):
		return "playlist"
	case strings.HasSuffix(name, ".mp4"):
		return "init"
	default:
		return "segment"
	}
}
