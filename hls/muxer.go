package hls

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// MuxerConfig configures a Muxer. Zero fields take the documented defaults.
type MuxerConfig struct {
	// SegmentDuration is the target segment duration: a segment is closed at the
	// first keyframe at or after it. Default 2 s.
	SegmentDuration time.Duration
	// MaxSegmentDuration bounds EXT-X-TARGETDURATION: the target duration
	// fitted to the publisher's GOP is at most ceil(MaxSegmentDuration)
	// seconds (RFC 8216bis §4.4.3.1; see "Target duration" in the package
	// documentation). Default 10 s; never below SegmentDuration.
	MaxSegmentDuration time.Duration
	// TargetDuration, when set, fixes EXT-X-TARGETDURATION at
	// ceil(TargetDuration) seconds (at least ceil(SegmentDuration)) from the
	// start instead of fitting it to the first GOPs; segments then close at
	// the first key frame at or after SegmentDuration (or inside a GOP at
	// the target duration + 499 ms). Default 0: fitted.
	TargetDuration time.Duration
	// PartDuration is the wanted part duration. PART-TARGET (RFC 8216bis
	// §4.4.3.7) is derived from it once the frame duration of the first track
	// is measured: a whole number of frames, plus 2 % for timestamp jitter,
	// rounded up to the millisecond (200 ms at 29.97 fps gives 0.205). Default 200 ms.
	PartDuration time.Duration
	// PlaylistWindow is the minimum duration of segments listed in a media
	// playlist. Default 6 x target duration + 4 x SegmentDuration, so that delta
	// updates (CAN-SKIP-UNTIL = 6 x target duration, §4.4.3.8) skip something:
	// 20 s for a 2 s GOP, 68 s for a 10 s target duration. Without a Storage all of it is held in memory
	// (see "Memory" in the package documentation).
	PlaylistWindow time.Duration
	// DVRWindow, when longer than PlaylistWindow, keeps that much of the stream
	// listed and downloadable (a DVR window). Default 0: off.
	DVRWindow time.Duration
	// Storage keeps completed segments outside the process heap: a
	// DiskStorage in a spill directory is what keeps a live stream's memory
	// small (see "Memory" in the package documentation). Default nil: every
	// listed segment stays in memory, about PlaylistWindow of media
	// (~21 MB at 2.5 Mb/s with the default 10 s target duration).
	//
	// A completed segment is handed to Storage.Put by one worker goroutine
	// per muxer, in order and never dropped; once stored, its bytes leave
	// memory (after MemoryWindow) and the segment and its parts, which are
	// byte ranges of it, are served from Storage.Open. A segment that fails
	// to store stays in memory (Hooks.OnStorageError).
	Storage Storage
	// MemoryWindow keeps the most recent stored segments in memory as well,
	// those that ended less than MemoryWindow before the live edge. It only
	// matters with a Storage that is slow to read (object storage); files in
	// a spill directory are read back from the page cache. Default 0: a
	// segment leaves memory as soon as Storage has it, so memory holds the
	// segment in progress and the segments not yet written.
	MemoryWindow time.Duration
	// MaxTimestampJump is the largest forward step between consecutive
	// timestamps of a track still considered continuous; larger steps, and any
	// step backwards, are a timestamp reset handled as a discontinuity
	// (§4.4.4.3). Default 2 s.
	MaxTimestampJump time.Duration
	// Hooks are optional callbacks.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics and recording. They are called
// without any lock held, from the goroutine that caused the event, and must be cheap.
type Hooks struct {
	// OnRequest is called once per request ServeHTTP answered, with the HTTP status.
	OnRequest func(kind RequestKind, status int)
	// OnBlocked is called with +1 when a request starts blocking (§6.2.5.2)
	// and -1 when it stops.
	OnBlocked func(delta int)
	// OnSegment is called when a segment is complete.
	OnSegment func(rendition string, duration time.Duration, size int)
	// OnSegmentComplete is called when a segment is complete, with its bytes,
	// for recorders. The byte slices are shared and must not be modified.
	OnSegmentComplete func(SegmentInfo)
	// OnStorageError is called from the storage worker when MuxerConfig.Storage
	// fails to store or delete a segment (a full disk); the segment concerned
	// stays in memory, or on disk until the muxer's directory is removed.
	OnStorageError func(key string, err error)
	// OnPartServed is called when a part (§4.4.4.9) starts its first
	// delivery, with the time since the part was completed: about 0 for a
	// blocking request that waited on it (§6.2.5.2), the client's lag
	// otherwise. Later requests for the same part are not reported.
	OnPartServed func(age time.Duration)
}

// SegmentInfo describes a completed segment (Hooks.OnSegmentComplete).
type SegmentInfo struct {
	Rendition       string
	MSN             uint64 // media sequence number (RFC 8216bis §4.4.3.2)
	Duration        time.Duration
	ProgramDateTime time.Time // ingest wall-clock of the first frame, freed of arrival jitter (wallClock)
	Discontinuity   bool      // the segment follows a discontinuity (§4.4.4.3)
	InitID          int       // changes whenever Init changes
	Init            []byte    // the init segment (ftyp+moov) the segment needs
	Parts           [][]byte  // moof+mdat fragments; concatenated they are the segment
	// PartInfo describes Parts, index for index.
	PartInfo []PartInfo
}

// PartInfo describes one part of a completed segment (RFC 8216bis
// §4.4.4.9).
type PartInfo struct {
	Duration time.Duration
	// Independent: the part starts with a sync sample (a key frame; always
	// true for audio only), so playback can start on it (INDEPENDENT=YES).
	Independent bool
}

// Muxer packages renditions of one stream as Low-Latency HLS and serves them
// (RFC 8216bis). All methods are safe for concurrent use.
type Muxer struct {
	cfg       MuxerConfig
	hdr       headerValues
	maxTarget time.Duration // ceil(MaxSegmentDuration), whole seconds
	minTarget time.Duration // ceil(SegmentDuration), whole seconds

	wg     sync.WaitGroup
	done   chan struct{}
	ctx    context.Context // for Storage calls, cancelled by Close
	cancel context.CancelFunc
	// storeWake (capacity 1) wakes the storage worker after storeQ grew
	storeWake chan struct{}
	gzipPool  sync.Pool // *gzip.Writer for playlist templates
	bodyPool  sync.Pool // *[]byte: playlists with a carried query, uncompressed
	codesOnce sync.Once
	codes     *fixedCodes // DEFLATE tables of gzipCarry

	mu         sync.Mutex
	renditions []*Rendition
	byName     map[string]*Rendition
	// targetDuration is EXT-X-TARGETDURATION in whole seconds, 0 until
	// fitted (muxer_target.go); once set it never changes (§4.4.3.1)
	targetDuration time.Duration
	fitGOP         time.Duration // the longest GOP the target duration was fitted to
	window         time.Duration
	partTarget     time.Duration // 0 until decided
	frameDur       time.Duration // frame duration PART-TARGET was fitted to
	notify         chan struct{} // closed and replaced on every change
	version        uint64
	waiters        int
	ended          bool
	closed         bool
	hasVideoRen    bool
	haveBase       bool
	base           time.Duration // offset from input to output timestamps
	// the last timestamp reset: renditions share its offset (rebaseOffsetLocked)
	rebaseSeq    uint64
	rebaseOffset time.Duration
	// dates is the slewed date mapping of each timeline (wallAtLocked)
	dates map[uint64]*timelineDates
	// storeQ are the Storage jobs not yet taken by the worker, in order
	storeQ []storeJob
}

// NewMuxer returns a Muxer. Close releases it.
func NewMuxer(cfg MuxerConfig) (*Muxer, error) {
	if cfg.SegmentDuration < 0 || cfg.PartDuration < 0 || cfg.MaxSegmentDuration < 0 ||
		cfg.PlaylistWindow < 0 || cfg.DVRWindow < 0 || cfg.MaxTimestampJump < 0 || cfg.MemoryWindow < 0 {
		return nil, fmt.Errorf("hls: negative duration in config")
	}
	if cfg.SegmentDuration == 0 {
		cfg.SegmentDuration = 2 * time.Second
	}
	if cfg.PartDuration == 0 {
		cfg.PartDuration = 200 * time.Millisecond
	}
	if cfg.MaxSegmentDuration == 0 {
		cfg.MaxSegmentDuration = 10 * time.Second
	}
	if cfg.MaxSegmentDuration < cfg.SegmentDuration {
		cfg.MaxSegmentDuration = cfg.SegmentDuration
	}
	if cfg.TargetDuration < 0 {
		return nil, fmt.Errorf("hls: negative duration in config")
	}
	if cfg.PartDuration > cfg.SegmentDuration {
		return nil, fmt.Errorf("hls: part duration %v longer than segment duration %v", cfg.PartDuration, cfg.SegmentDuration)
	}
	if cfg.MaxTimestampJump == 0 {
		cfg.MaxTimestampJump = 2 * time.Second
	}
	m := &Muxer{
		cfg:       cfg,
		hdr:       newHeaderValues(),
		minTarget: ceilSeconds(cfg.SegmentDuration),
		maxTarget: ceilSeconds(cfg.MaxSegmentDuration),
		done:      make(chan struct{}),
		byName:    make(map[string]*Rendition),
		notify:    make(chan struct{}),
	}
	// until the target duration is fitted, the window is that of the
	// longest target it may get
	m.window = m.windowFor(m.maxTarget)
	if cfg.TargetDuration > 0 {
		// no GOP known: segments close at the first key frame at or
		// after SegmentDuration, as long as they fit
		m.setTargetLocked(max(ceilSeconds(cfg.TargetDuration), m.minTarget), 0)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if cfg.Storage != nil {
		m.storeWake = make(chan struct{}, 1)
		m.wg.Add(1)
		go m.runStorage()
	}
	m.wg.Add(1)
	go m.runTicker()
	return m, nil
}

// TargetDuration returns EXT-X-TARGETDURATION (RFC 8216bis §4.4.3.1), or
// 0 while it is not yet fitted to the stream's GOP (see "Target duration"
// in the package documentation): media playlists are served from then on.
func (m *Muxer) TargetDuration() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.targetDuration
}

// PartTarget returns EXT-X-PART-INF:PART-TARGET (RFC 8216bis §4.4.3.7), or 0
// while the frame duration it is fitted to is not yet known.
func (m *Muxer) PartTarget() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.partTarget
}

// runTicker is the one timer of the muxer: while requests are blocked it wakes
// them periodically so they can time out (§6.2.5.2) without a timer each,
// and it releases video held for audio that did not come (muxer_audiowait.go).
func (m *Muxer) runTicker() {
	defer m.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case now := <-t.C:
			m.mu.Lock()
			var evs []pendingEvents
			for _, r := range m.renditions {
				if len(r.vHeld) > 0 && !m.ended && !m.closed {
					r.expireHeldLocked(now)
					if r.events.any() {
						evs = append(evs, r.takeEventsLocked())
					}
				}
			}
			if m.waiters > 0 {
				m.broadcastLocked(false)
			}
			m.mu.Unlock()
			for _, e := range evs {
				m.deliver(e)
			}
		}
	}
}

// broadcastLocked wakes every blocked request; changed says the content changed.
func (m *Muxer) broadcastLocked(changed bool) {
	if changed {
		m.version++
	}
	close(m.notify)
	m.notify = make(chan struct{})
}

// decidePartTargetLocked fixes PART-TARGET from a measured frame duration f.
func (m *Muxer) decidePartTargetLocked(f time.Duration) {
	if m.partTarget != 0 || f <= 0 {
		return
	}
	p := m.cfg.PartDuration
	k := max(1, int64(math.Round(float64(p)/float64(f))))
	t := time.Duration(float64(time.Duration(k)*f) * 1.02)
	t = (t + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	t = min(t, m.minTarget) // the target duration is never below it
	m.partTarget = t
	m.frameDur = f
}

// validName reports whether name is a usable rendition path segment.
func validName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-' || name == "index.m3u8" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// RenditionConfig describes a rendition.
type RenditionConfig struct {
	// Name is the rendition's path segment: letters, digits, '_', '-', '.',
	// unique within the muxer, e.g. "source", "720p", "audio".
	Name string
	// Video is the video codec; nil: no video.
	Video Codec
	// Audio is the audio codec; nil: no audio. A rendition with Video and Audio
	// is muxed (two tracks in one fMP4). Audio-only renditions of a muxer with
	// video renditions form the EXT-X-MEDIA TYPE=AUDIO group "audio"
	// (RFC 8216bis §4.4.6.1) that video variants reference.
	Audio Codec
	// AudioLag bounds how long, in media time and in wall-clock, the
	// keyframe that cuts a segment of a muxed rendition waits for the
	// audio of the segment's end (muxer_audiowait.go), when that is longer
	// than the part target. Set it for audio stamped on the video's
	// timeline that arrives late in wall-clock time (transcoded from the
	// source's, a few hundred milliseconds behind its video), so that
	// segments are not cut short of their audio. Default 0: the part
	// target.
	AudioLag time.Duration
}

// AddRendition adds a rendition. It may be called before or after writing starts.
func (m *Muxer) AddRendition(cfg RenditionConfig) (*Rendition, error) {
	if !validName(cfg.Name) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, cfg.Name)
	}
	if cfg.Video == nil && cfg.Audio == nil {
		return nil, fmt.Errorf("%w: rendition %q has no track", ErrNoTrack, cfg.Name)
	}
	r := &Rendition{m: m, name: cfg.Name, audioLag: cfg.AudioLag}
	if cfg.Video != nil {
		ti, err := newTrackInfo(cfg.Video, true)
		if err != nil {
			return nil, err
		}
		r.video = ti
	}
	if cfg.Audio != nil {
		ti, err := newTrackInfo(cfg.Audio, false)
		if err != nil {
			return nil, err
		}
		r.audio = ti
	}
	r.setupTracks()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.byName[cfg.Name]; ok {
		return nil, fmt.Errorf("%w: %q already exists", ErrInvalidName, cfg.Name)
	}
	m.byName[cfg.Name] = r
	m.renditions = append(m.renditions, r)
	if r.video != nil {
		m.hasVideoRen = true
	}
	m.broadcastLocked(true)
	return r, nil
}

// RemoveRendition takes rendition name out of the muxer while the others go
// on, for a rendition whose source stopped for good (a transcoded rung that
// gave up). The multivariant playlist (RFC 8216bis §4.4.6) and the other
// renditions' EXT-X-RENDITION-REPORT tags (§4.4.5.4) stop listing it, so
// new players never see it. Its media is released: requests for its
// playlist, parts and segments get 404, and a blocking playlist request
// already waiting on it gets 400 (it can never be satisfied, §6.2.5.2).
// Both are client errors a player does not retry: hls.js moves to another
// variant, as RFC 8216bis §6.3.3 asks of clients whose variant fails.
// Writes to it fail with ErrRemoved. It reports whether name existed; the
// name may be added again later.
func (m *Muxer) RemoveRendition(name string) bool {
	m.mu.Lock()
	r := m.byName[name]
	if r == nil || m.closed {
		m.mu.Unlock()
		return false
	}
	delete(m.byName, name)
	m.renditions = slices.DeleteFunc(m.renditions, func(o *Rendition) bool { return o == r })
	r.removed = true
	r.segments, r.cur, r.vHeld = nil, nil, nil
	m.hasVideoRen = slices.ContainsFunc(m.renditions, func(o *Rendition) bool { return o.video != nil })
	m.broadcastLocked(true)
	m.mu.Unlock()
	return true
}

// End marks the stream as over: pending media is flushed into a last
// segment, playlists get EXT-X-ENDLIST and no preload hint (RFC 8216bis
// §4.4.3.4), and blocked requests are answered. Idempotent.
func (m *Muxer) End() {
	m.mu.Lock()
	if m.ended || m.closed {
		m.mu.Unlock()
		return
	}
	now := time.Now()
	for _, r := range m.renditions {
		r.releaseVideoLocked(true, now)
		r.flushLocked()
	}
	if len(m.renditions) > 0 {
		m.renditions[0].fitTargetLocked(true) // if no rendition did
	}
	m.ended = true
	m.broadcastLocked(true)
	var evs []pendingEvents
	for _, r := range m.renditions {
		evs = append(evs, r.takeEventsLocked())
	}
	m.mu.Unlock()
	for _, e := range evs {
		m.deliver(e)
	}
}

// Close releases the muxer: blocked requests are answered, later requests get
// 404, writes fail with ErrClosed. It returns after the muxer's goroutines
// have exited. Idempotent.
func (m *Muxer) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.done)
	m.cancel()
	m.broadcastLocked(true)
	for _, r := range m.renditions {
		r.segments = nil
		r.cur = nil
		r.vHeld = nil
	}
	m.storeQ = nil
	m.mu.Unlock()
	m.wg.Wait()
}
