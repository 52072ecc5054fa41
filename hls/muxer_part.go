package hls

import (
	"errors"
	"io"
	"sort"
	"time"
)

// part is a complete part (RFC 8216bis §4.4.4.9): one moof+mdat.
type part struct {
	id          uint64
	duration    time.Duration
	independent bool
	data        []byte    // nil once the segment is in Storage only
	off, size   int       // byte range in the segment
	done        time.Time // when the part was completed (Hooks.OnPartServed)
	served      bool      // a request has been answered with it
}

// segment is a segment (RFC 8216bis §3): its parts, concatenated.
type segment struct {
	msn         uint64
	start       time.Duration
	closedDur   time.Duration // sum of the part durations
	duration    time.Duration // set when complete
	pdt         time.Time
	disc        bool
	initID      int
	firstPartID uint64
	parts       []*part
	frames      int
	size        int
	complete    bool
	stored      bool // in Storage
	inMemory    bool // part bytes are held
	evicted     bool // no longer listed
}

func (s *segment) end() time.Duration { return s.start + s.closedDur }

func (r *Rendition) startSegmentLocked(t time.Duration, wall time.Time) {
	s := &segment{
		msn:         r.nextMSN,
		start:       t,
		pdt:         wall,
		disc:        r.nextDisc,
		initID:      r.initID,
		firstPartID: r.nextPartID,
		inMemory:    true,
	}
	r.nextMSN++
	r.nextDisc = false
	r.cur = s
	r.segments = append(r.segments, s)
	if r.vIdx >= 0 && r.aIdx >= 0 && !r.aLive {
		// A timeline starts: audio queued before the segment start belongs
		// to nothing. (Continuing audio is never dropped: what arrived
		// after the previous segment was cut follows on here, see
		// queueMuxedAudioLocked.)
		ft := &r.frag[r.aIdx]
		k, n, ticks := 0, 0, r.aBase
		for k < len(ft.samples) && fromTicks(ticks+int64(ft.samples[k].duration), r.audio.timescale) <= t {
			ticks += int64(ft.samples[k].duration)
			n += int(ft.samples[k].size)
			k++
		}
		r.consumeAudio(k, n, ticks)
		r.aLive = len(ft.samples) > 0
		if r.aLive && s.disc {
			r.padTimelineAudioLocked(t)
		}
	}
}

// maxAudioPad bounds the silence padTimelineAudioLocked puts before a
// timeline's first audio frame.
const maxAudioPad = 500 * time.Millisecond

// padTimelineAudioLocked fills the time between start, where the video of a
// muxed rendition's segment after a discontinuity begins, and the first
// queued audio frame with silent frames, back to back up to that frame
// (the first of them within one frame after start). A transcoder restarted
// after a hole starts its audio up to 150 ms after its first key frame;
// without the silence the segment begins with video alone, and a player's
// muxed SourceBuffer (whose buffered ranges are those of both tracks) has a
// hole there that hls.js does not always load past (it considers the
// fragment at the hole's start loaded and waits for its gap controller).
// Only AAC-LC mono and stereo have a silent frame; others are left as is.
func (r *Rendition) padTimelineAudioLocked(start time.Duration) {
	a := r.audio
	if a == nil || a.silence == nil || a.frameTicks <= 0 {
		return
	}
	ft := &r.frag[r.aIdx]
	if len(ft.samples) == 0 {
		r.aBase = r.aNext
	}
	k := (r.aBase - toTicks(start, a.timescale)) / a.frameTicks
	if k <= 0 || fromTicks(k*a.frameTicks, a.timescale) > maxAudioPad {
		return
	}
	n := int(k) * len(a.silence)
	samples := make([]sampleMeta, int(k), int(k)+len(ft.samples))
	data := make([]byte, 0, n+len(ft.data))
	for i := range samples {
		samples[i] = sampleMeta{duration: uint32(a.frameTicks), size: uint32(len(a.silence)), sync: true}
		data = append(data, a.silence...)
	}
	ft.samples = append(samples, ft.samples...)
	ft.data = append(data, ft.data...)
	r.aBase -= k * a.frameTicks
}

func (r *Rendition) consumeAudio(k, n int, ticks int64) {
	if k == 0 {
		return
	}
	ft := &r.frag[r.aIdx]
	ft.samples = ft.samples[:copy(ft.samples, ft.samples[k:])]
	ft.data = ft.data[:copy(ft.data, ft.data[n:])]
	r.aBase = ticks
}

// closePartLocked closes the part in progress at time end (exclusive).
func (r *Rendition) closePartLocked(end time.Duration) {
	if !r.partOpen || r.cur == nil {
		return
	}
	var tracks [2]fragTrack
	n := 0
	independent := true
	if r.vIdx >= 0 {
		v := &r.frag[r.vIdx]
		tracks[n] = fragTrack{id: v.id, video: true, baseTime: uint64(toTicks(r.partBase, videoTimescale)), samples: v.samples, data: v.data[:r.vPartBytes]}
		n++
		independent = len(v.samples) > 0 && v.samples[0].sync
	}
	ak, an, aticks := 0, 0, int64(0)
	if r.aIdx >= 0 {
		a := &r.frag[r.aIdx]
		aticks = r.aBase
		if r.vIdx < 0 {
			ak, an = len(a.samples), len(a.data)
			for _, s := range a.samples {
				aticks += int64(s.duration)
			}
		} else {
			// the audio reaches the video's presentation end (see
			// muxer_audiowait.go), or what of it has arrived
			aEnd := max(end, r.presEnd)
			for ak < len(a.samples) && fromTicks(aticks, r.audio.timescale) < aEnd {
				aticks += int64(a.samples[ak].duration)
				an += int(a.samples[ak].size)
				ak++
			}
		}
		tracks[n] = fragTrack{id: a.id, baseTime: uint64(r.aBase), samples: a.samples[:ak], data: a.data[:an]}
		n++
	}
	r.fragSeq++
	data := fragment(r.fragSeq, tracks[:n])
	if r.vIdx >= 0 {
		v := &r.frag[r.vIdx]
		v.samples = v.samples[:0]
		v.data = v.data[:copy(v.data, v.data[r.vPartBytes:])]
		r.pv.off -= r.vPartBytes
		r.vPartBytes = 0
	}
	if r.aIdx >= 0 {
		r.consumeAudio(ak, an, aticks)
	}
	p := &part{id: r.nextPartID, duration: end - r.partStart, independent: independent, data: data, off: r.cur.size, size: len(data), done: time.Now()}
	r.nextPartID++
	s := r.cur
	if len(s.parts) == 0 {
		// The segment is listed from its first part on: its date is fixed
		// now, from every arrival so far (see wallClock).
		s.pdt = r.m.wallAtLocked(r, s.start, s.pdt)
	}
	s.parts = append(s.parts, p)
	s.closedDur += p.duration
	s.size += len(data)
	r.partOpen = false
	r.lastEnd = end
	r.m.broadcastLocked(true)
}

// closeSegmentLocked completes the segment in progress.
func (r *Rendition) closeSegmentLocked() {
	s := r.cur
	if s == nil {
		return
	}
	m := r.m
	r.cur = nil
	r.leadValid = false
	if len(s.parts) == 0 {
		// never listed: forget it
		r.segments = r.segments[:len(r.segments)-1]
		r.nextMSN--
		r.nextDisc = r.nextDisc || s.disc
		return
	}
	s.complete = true
	s.duration = s.closedDur
	st := &r.stats
	st.segments++
	st.bytes += int64(s.size)
	st.duration += s.duration
	if s.duration > 0 {
		if br := int64(float64(s.size*8) / s.duration.Seconds()); br > st.peakBitrate {
			st.peakBitrate = br
		}
	}
	if r.vIdx >= 0 {
		st.videoFrames += int64(s.frames)
		st.videoDur += s.duration
	}
	st.ready = true
	r.fitTargetLocked(false)
	h := m.cfg.Hooks
	if h.OnSegment != nil || h.OnSegmentComplete != nil {
		r.events.segs = append(r.events.segs, r.segmentInfo(s))
	}
	if m.cfg.Storage != nil {
		r.queueStoreLocked(storeJob{r: r, s: s, key: segmentKey(r.name, s.msn), parts: s.partData()})
	}
	r.evictLocked()
	m.broadcastLocked(true)
}

func (r *Rendition) segmentInfo(s *segment) SegmentInfo {
	return SegmentInfo{
		Rendition:       r.name,
		MSN:             s.msn,
		Duration:        s.duration,
		ProgramDateTime: s.pdt,
		Discontinuity:   s.disc,
		InitID:          s.initID,
		Init:            r.initData(s.initID),
		Parts:           s.partData(),
		PartInfo:        s.partInfo(),
	}
}

func (s *segment) partInfo() []PartInfo {
	out := make([]PartInfo, len(s.parts))
	for i, p := range s.parts {
		out[i] = PartInfo{Duration: p.duration, Independent: p.independent}
	}
	return out
}

func (s *segment) partData() [][]byte {
	out := make([][]byte, len(s.parts))
	for i, p := range s.parts {
		out[i] = p.data
	}
	return out
}

// evictLocked removes segments beyond the window, and with a Storage drops
// from memory the bytes of stored segments outside MemoryWindow.
func (r *Rendition) evictLocked() {
	m := r.m
	var total time.Duration
	for _, s := range r.segments {
		if s.complete {
			total += s.duration
		}
	}
	for len(r.segments) > 1 && r.segments[0].complete && total-r.segments[0].duration >= m.window {
		s := r.segments[0]
		total -= s.duration
		if s.disc {
			r.discSeq++
		}
		s.evicted = true
		r.segments[0] = nil
		r.segments = r.segments[1:]
		if s.stored {
			r.queueStoreLocked(storeJob{key: segmentKey(r.name, s.msn), del: true})
		}
	}
	if m.cfg.Storage != nil {
		r.releaseStoredLocked()
	}
}

// releaseStoredLocked drops from memory the bytes of stored segments that
// ended MemoryWindow or more before the live edge: their parts and the
// segment are then served from Storage.
func (r *Rendition) releaseStoredLocked() {
	keep := r.m.cfg.MemoryWindow
	edge := r.lastEnd
	for _, s := range r.segments {
		if s.complete && s.stored && s.inMemory && edge-s.end() >= keep {
			s.inMemory = false
			for _, p := range s.parts {
				p.data = nil
			}
		}
	}
}

// segmentByMSN returns the listed segment with the media sequence number.
func (r *Rendition) segmentByMSN(msn uint64) *segment {
	if len(r.segments) == 0 {
		return nil
	}
	first := r.segments[0].msn
	if msn < first || msn-first >= uint64(len(r.segments)) {
		return nil
	}
	return r.segments[msn-first]
}

// partByID returns a complete part of a listed segment, and the segment.
func (r *Rendition) partByID(id uint64) (*segment, *part) {
	i := sort.Search(len(r.segments), func(i int) bool { return r.segments[i].firstPartID > id }) - 1
	if i < 0 {
		return nil, nil
	}
	s := r.segments[i]
	if k := id - s.firstPartID; k < uint64(len(s.parts)) {
		return s, s.parts[k]
	}
	return nil, nil
}

// lastPartPos is the position of the last complete part (LAST-MSN, LAST-PART
// of EXT-X-RENDITION-REPORT, RFC 8216bis §4.4.5.4).
func (r *Rendition) lastPartPos() (msn uint64, idx int, ok bool) {
	for i := len(r.segments) - 1; i >= 0; i-- {
		if s := r.segments[i]; len(s.parts) > 0 {
			return s.msn, len(s.parts) - 1, true
		}
	}
	return 0, 0, false
}

// progress returns the MSN of the segment in progress (or next) and its part count.
func (r *Rendition) progress() (msn uint64, parts int) {
	if r.cur != nil {
		return r.cur.msn, len(r.cur.parts)
	}
	return r.nextMSN, 0
}

// chunksReader is an io.ReadSeeker over the concatenation of byte slices.
type chunksReader struct {
	chunks [][]byte
	size   int64
	off    int64
}

func newChunksReader(chunks [][]byte) *chunksReader {
	c := &chunksReader{chunks: chunks}
	for _, b := range chunks {
		c.size += int64(len(b))
	}
	return c
}

func (c *chunksReader) Read(p []byte) (int, error) {
	if c.off >= c.size {
		return 0, io.EOF
	}
	n := 0
	pos := int64(0)
	for _, b := range c.chunks {
		l := int64(len(b))
		if c.off < pos+l && n < len(p) {
			k := copy(p[n:], b[c.off-pos:])
			n += k
			c.off += int64(k)
		}
		pos += l
		if n == len(p) {
			break
		}
	}
	return n, nil
}

func (c *chunksReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size
	default:
		return 0, errors.New("hls: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("hls: negative position")
	}
	c.off = offset
	return offset, nil
}
