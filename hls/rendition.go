package hls

import (
	"time"
)

// VideoUnit is one video access unit.
type VideoUnit struct {
	// DTS and PTS share one time base across every rendition and track of a
	// Muxer. PTS - DTS becomes a signed composition offset (trun version 1,
	// ISO/IEC 14496-12 §8.8.8).
	DTS, PTS time.Duration
	// Wall is the wall-clock at ingest. EXT-X-PROGRAM-DATE-TIME
	// (RFC 8216bis §4.4.4.6) of a segment is the ingest wall-clock of its
	// first frame, freed of that frame's arrival jitter: never later than its
	// Wall (see wallClock). A zero Wall is ignored.
	Wall time.Time
	// Key marks an IDR / random access point.
	Key bool
	// NALUs are the H.264/H.265 NAL units without start codes (AV1: OBUs).
	// They are copied; the caller may reuse them after the call.
	NALUs [][]byte
}

// AudioUnit is one audio frame.
type AudioUnit struct {
	PTS  time.Duration
	Wall time.Time
	// Frame is one raw AAC frame (no ADTS header) or one Opus packet. It is
	// copied; the caller may reuse it after the call.
	Frame []byte
}

// Rendition is one rendition (one media playlist) of a Muxer.
type Rendition struct {
	m        *Muxer
	name     string
	audioLag time.Duration // RenditionConfig.AudioLag

	// everything below is guarded by m.mu
	video, audio *trackInfo
	vIdx, aIdx   int // index into frag, -1 when absent
	frag         [2]fragTrack
	inits        []initEntry
	initID       int

	segments   []*segment // listed window; the last may be cur
	cur        *segment   // segment in progress, nil between segments
	nextMSN    uint64
	nextPartID uint64
	discSeq    uint64
	fragSeq    uint32

	// segmenter state
	offset       time.Duration // added to input timestamps
	haveOffset   bool
	rebase       bool // next unit restarts the timeline at lastEnd
	lastEnd      time.Duration
	waitKey      bool
	nextDisc     bool
	pv           pendingVideo
	partStart    time.Duration // start of the part in progress (its DURATION counts from here)
	partBase     time.Duration // decode time of its first video sample (tfdt): after partStart by a lead
	leadFrom     time.Duration // with leadValid: the next part starts here, before its first frame (a hole's rest)
	leadValid    bool
	partOpen     bool // the current part has samples
	vPartBytes   int  // bytes of frag[vIdx].data in the current part
	lastFrameDur time.Duration
	longFrameDur time.Duration // the last frame's duration when longer than lastFrameDur
	lastKey      time.Duration // output time of the last key frame (with lastKeyValid)
	lastKeyValid bool
	maxGOP       time.Duration // the longest GOP seen, to fit the target duration (muxer_target.go)
	aNext        int64         // next audio sample time, audio ticks
	aSynced      bool
	aLive        bool  // muxed: queued audio continues the audio of the segments (queueMuxedAudioLocked)
	aBase        int64 // ticks of the first queued audio sample
	aWaited      time.Duration
	aHeld        []heldAudio   // audio-only: frames held until PART-TARGET is known
	rebaseSeq    uint64        // the muxer rebase this rendition's offset comes from
	clock        wallClock     // output time to ingest wall-clock, for PROGRAM-DATE-TIME
	presEnd      time.Duration // muxed: presentation end of the video so far (muxer_audiowait.go)
	vHeld        []VideoUnit   // muxed: video held while a segment's end waits for its audio
	vHeldNeed    time.Duration // the audio end the held video waits for
	vHeldSince   time.Time     // when the video was held

	// removed by Muxer.RemoveRendition: writes fail, nothing is listed
	removed bool

	// statistics for the multivariant playlist
	stats renditionStats

	events pendingEvents

	tmpl [3]*mediaTemplate // by skipMode
}

type renditionStats struct {
	segments     int
	bytes        int64
	duration     time.Duration
	peakBitrate  int64
	videoFrames  int64
	videoDur     time.Duration
	ready        bool // has a complete segment
	lastSegBytes int
}

type initEntry struct {
	id   int
	data []byte
}

type pendingVideo struct {
	valid     bool
	key       bool
	dts, pts  time.Duration
	wall      time.Time
	off, size int
}

// Name returns the rendition name.
func (r *Rendition) Name() string { return r.name }

func (r *Rendition) setupTracks() {
	r.vIdx, r.aIdx = -1, -1
	var tracks []*trackInfo
	if r.video != nil {
		r.vIdx = len(tracks)
		tracks = append(tracks, r.video)
		r.frag[r.vIdx] = fragTrack{id: uint32(len(tracks)), video: true}
	}
	if r.audio != nil {
		r.aIdx = len(tracks)
		tracks = append(tracks, r.audio)
		r.frag[r.aIdx] = fragTrack{id: uint32(len(tracks))}
	}
	if len(r.inits) > 0 {
		r.initID++
	}
	r.inits = append(r.inits, initEntry{id: r.initID, data: initSegment(tracks)})
	if len(r.inits) > 16 {
		r.inits = r.inits[len(r.inits)-16:]
	}
}

func (r *Rendition) initData(id int) []byte {
	for _, e := range r.inits {
		if e.id == id {
			return e.data
		}
	}
	return nil
}

// WriteVideo adds a video access unit. Units of a track must come in decoding
// order. The first segment starts at the first keyframe.
func (r *Rendition) WriteVideo(u VideoUnit) error {
	m := r.m
	m.mu.Lock()
	if err := r.writableLocked(); err != nil {
		m.mu.Unlock()
		return err
	}
	if r.video == nil {
		m.mu.Unlock()
		return ErrNoTrack
	}
	r.videoInLocked(&u, time.Now())
	var ev pendingEvents
	if r.events.any() {
		ev = r.takeEventsLocked()
	}
	m.mu.Unlock()
	if ev.any() {
		m.deliver(ev)
	}
	return nil
}

// WriteAudio adds an audio frame.
func (r *Rendition) WriteAudio(u AudioUnit) error {
	m := r.m
	m.mu.Lock()
	if err := r.writableLocked(); err != nil {
		m.mu.Unlock()
		return err
	}
	if r.audio == nil {
		m.mu.Unlock()
		return ErrNoTrack
	}
	r.writeAudioLocked(&u)
	var ev pendingEvents
	if r.events.any() {
		ev = r.takeEventsLocked()
	}
	m.mu.Unlock()
	if ev.any() {
		m.deliver(ev)
	}
	return nil
}

// SetVideoCodec changes the video codec parameters. The segment in progress
// is closed; the next segment starts at the next keyframe with a new init
// segment, behind EXT-X-DISCONTINUITY and a new EXT-X-MAP (RFC 8216bis
// §4.4.4.3, §4.4.4.5). Identical parameters are a no-op.
func (r *Rendition) SetVideoCodec(c Codec) error {
	return r.setCodec(c, true)
}

// SetAudioCodec changes the audio codec parameters, like SetVideoCodec. In a
// muxed rendition the new segment starts at the next video keyframe.
func (r *Rendition) SetAudioCodec(c Codec) error {
	return r.setCodec(c, false)
}

func (r *Rendition) setCodec(c Codec, video bool) error {
	ti, err := newTrackInfo(c, video)
	if err != nil {
		return err
	}
	m := r.m
	m.mu.Lock()
	if err := r.writableLocked(); err != nil {
		m.mu.Unlock()
		return err
	}
	cur := r.audio
	if video {
		cur = r.video
	}
	if cur == nil {
		m.mu.Unlock()
		return ErrNoTrack
	}
	if sameCodec(cur.codec, ti.codec) {
		m.mu.Unlock()
		return nil
	}
	r.releaseVideoLocked(true, time.Now())
	r.flushLocked()
	if video {
		r.video = ti
	} else {
		r.audio = ti
	}
	r.setupTracks()
	r.nextDisc = true
	if r.video != nil {
		r.waitKey = true
	}
	m.broadcastLocked(true)
	ev := r.takeEventsLocked()
	m.mu.Unlock()
	m.deliver(ev)
	return nil
}

// Discontinuity announces that timestamps restart with the next unit (for
// example the publisher reconnected): the segment in progress is closed and
// the next one starts at the next keyframe behind EXT-X-DISCONTINUITY
// (RFC 8216bis §4.4.4.3), its timeline continuing where the last one ended.
// Jumps and resets are also detected without this call (MaxTimestampJump).
func (r *Rendition) Discontinuity() {
	m := r.m
	m.mu.Lock()
	if r.writableLocked() != nil {
		m.mu.Unlock()
		return
	}
	r.releaseVideoLocked(true, time.Now())
	r.flushLocked()
	r.rebase = true
	r.nextDisc = true
	r.aSynced = false
	r.clock.reset()
	if r.video != nil {
		r.waitKey = true
	}
	ev := r.takeEventsLocked()
	m.mu.Unlock()
	m.deliver(ev)
}

// writableLocked is nil while writes to r are accepted.
func (r *Rendition) writableLocked() error {
	if r.removed {
		return ErrRemoved
	}
	return r.m.writableLocked()
}

func (m *Muxer) writableLocked() error {
	if m.closed {
		return ErrClosed
	}
	if m.ended {
		return ErrEnded
	}
	return nil
}

// pendingEvents are hook calls collected under the lock and made after it.
type pendingEvents struct {
	segs  []SegmentInfo
	store bool // Storage jobs were queued: wake the worker
}

func (e pendingEvents) any() bool { return len(e.segs) > 0 || e.store }

func (r *Rendition) takeEventsLocked() pendingEvents {
	e := r.events
	r.events = pendingEvents{}
	return e
}

func (m *Muxer) deliver(e pendingEvents) {
	h := m.cfg.Hooks
	for _, s := range e.segs {
		if h.OnSegment != nil {
			size := 0
			for _, p := range s.Parts {
				size += len(p)
			}
			h.OnSegment(s.Rendition, s.Duration, size)
		}
		if h.OnSegmentComplete != nil {
			h.OnSegmentComplete(s)
		}
	}
	if e.store {
		select {
		case m.storeWake <- struct{}{}:
		default: // already woken
		}
	}
}
