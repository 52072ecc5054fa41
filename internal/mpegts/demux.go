package mpegts

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// MPEG-TS error reasons passed to Sink.TSError: fixed words, usable as
// metric label values.
const (
	ErrSync       = "sync"            // bytes skipped to find a sync byte
	ErrContinuity = "continuity"      // continuity_counter gap: packets lost
	ErrTransport  = "transport_error" // transport_error_indicator set, or a malformed packet header
	ErrScrambled  = "scrambled"       // scrambled payload (not decodable)
	ErrPSI        = "psi"             // PAT/PMT section with a bad CRC, length or layout
	ErrPES        = "pes"             // malformed, oversized or untimed PES packet
	ErrES         = "es"              // malformed H.264/H.265/ADTS/Opus data
)

// Sink receives what a Demuxer produces. Called synchronously from
// Demuxer.Feed.
type Sink interface {
	// Unit receives an access unit of kind; c is the codec in effect for it
	// (u.Codec is set as well when c changed after the first unit).
	Unit(kind stream.Kind, c stream.Codec, u *stream.Unit)
	// TSError counts one MPEG-TS error; reason is one of the Err words.
	TSError(reason string)
	// Dropped counts one unit dropped because of an earlier loss (video
	// waiting for its next key frame).
	Dropped(kind stream.Kind)
}

// Demuxer turns an MPEG-TS byte stream (ISO/IEC 13818-1) of one program
// into access units on a monotonic timeline.
//
// It follows the first program of the PAT and, in its PMT, the first video
// stream (H.264 or H.265) and the first audio stream (AAC in ADTS, or
// Opus); other streams are ignored. Losses — continuity_counter gaps
// (§2.4.3.3), transport errors, malformed or oversized PES packets — drop the
// access unit they hit and, on video, every following unit until the next
// key frame, so no reader is fed a broken reference chain. Video is held
// back until a key frame whose parameter sets (SPS/PPS, and VPS for H.265)
// are known; parameter set changes are announced with Unit.Codec. Wall is
// the arrival time passed to feed.
type Demuxer struct {
	sink    Sink
	log     *slog.Logger
	tl      *timeline
	maxJump int64 // ticks

	pkt  [tsPacketSize]byte
	pktN int
	sync bool // inside a resync: count the skipped run once

	pat    psiAssembler
	patCC  ccState
	pmtPID int // -1 until the PAT names one
	pmt    psiAssembler
	pmtCC  ccState
	pmtCRC []byte // CRC_32 of the PMT section in effect
	pcrPID int    // -1 when unknown
	pcr    int64
	hasPCR bool

	video, audio *esTrack
	warned       map[string]bool
}

// esTrack is the state of one followed elementary stream.
type esTrack struct {
	kind       stream.Kind
	pid        uint16
	streamType uint8
	channels   int // Opus channel count from the PMT
	cc         ccState

	codec   stream.Codec // current parameters; nil until known
	emitted stream.Codec // parameters of the last unit handed out
	needKey bool         // video: a loss happened, drop until a key frame

	inPES bool
	hdr   pesHeader
	pes   []byte
	last  int // size of the previous PES, a capacity hint

	// A video PES packet of unbounded length (PES_packet_length 0, what
	// muxers write for video) ends at the next packet that starts one,
	// which comes a frame later. Muxers (ffmpeg, GStreamer, most
	// encoders) fill every packet of a PES but its last, whose adaptation
	// field they stuff: so a stuffed packet marks the end of the access
	// unit, a frame earlier. stuffEnds counts the stuffed packets that
	// were followed by the start of a PES (stuffWatch: the last packet
	// was stuffed); once it reaches stuffEndsTrusted, a stuffed packet
	// finishes the PES at once. A stuffed packet followed by more of its
	// PES turns it off for the track (stuffEnds -1).
	stuffEnds  int
	stuffWatch bool
}

// stuffEndsTrusted is how many stuffed packets must have ended their PES
// before a stuffed packet is taken as a PES's end.
const stuffEndsTrusted = 8

// ccState tracks one PID's continuity_counter (§2.4.3.3).
type ccState struct {
	valid bool
	cc    uint8
}

// check classifies the packet's counter: ok, a duplicate (to be ignored) or
// a gap (packets lost). Packets without payload do not advance the counter.
func (s *ccState) check(p *tsPacket) (dup, gap bool) {
	if !p.hasPayload {
		return false, false
	}
	switch {
	case !s.valid || p.discontinuity:
	case p.cc == s.cc:
		return true, false
	case p.cc != (s.cc+1)&0x0F:
		gap = true
	}
	s.valid, s.cc = true, p.cc
	return false, gap
}

// NewDemuxer returns a Demuxer handing its units to sink. A timestamp step
// of more than maxJump forward (or 100 ms backward) is a discontinuity; the
// first timestamp is kept as is (the output timeline starts at the
// stream's own 90 kHz time). log receives one warning per kind of problem.
func NewDemuxer(sink Sink, log *slog.Logger, maxJump time.Duration) *Demuxer {
	return &Demuxer{
		sink:    sink,
		log:     log,
		tl:      newTimeline(maxJump, 100*time.Millisecond),
		maxJump: int64(maxJump / (time.Second / tsClock)),
		pmtPID:  -1,
		pcrPID:  -1,
		warned:  map[string]bool{},
	}
}

// Tracks reports which kinds of track the program has, as far as known.
func (d *Demuxer) Tracks() (video, audio bool) { return d.video != nil, d.audio != nil }

// ProgramKnown reports whether a PMT was read.
func (d *Demuxer) ProgramKnown() bool { return d.pmtCRC != nil }

func (d *Demuxer) warnOnce(key, msg string, attrs ...any) {
	if d.warned[key] {
		return
	}
	d.warned[key] = true
	d.log.Warn(msg, attrs...)
}

// Feed demuxes b, which may hold any part of the stream: packets may span
// calls. now is the arrival time of b (Unit.Wall).
func (d *Demuxer) Feed(b []byte, now time.Time) {
	for len(b) > 0 {
		if d.pktN == 0 && b[0] != tsSync {
			i := bytes.IndexByte(b, tsSync)
			if !d.sync {
				d.sync = true
				d.sink.TSError(ErrSync)
			}
			if i < 0 {
				return
			}
			b = b[i:]
		}
		n := copy(d.pkt[d.pktN:], b)
		d.pktN += n
		b = b[n:]
		if d.pktN < tsPacketSize {
			return
		}
		d.pktN = 0
		d.sync = false
		d.packet(d.pkt[:], now)
	}
}

// Flush hands out the PES packets in progress, as at the end of the
// stream: a video PES without PES_packet_length (§2.4.3.7) otherwise ends
// only when the next one starts, so the last frame of a finished stream
// would be lost. A partial packet is discarded.
func (d *Demuxer) Flush(now time.Time) {
	d.pktN = 0
	for _, t := range []*esTrack{d.video, d.audio} {
		if t != nil && t.inPES {
			d.finishPES(t, now)
		}
	}
}

// packet handles one 188-byte packet.
func (d *Demuxer) packet(b []byte, now time.Time) {
	p, ok := parseTSPacket(b)
	var t *esTrack
	var cc *ccState
	switch {
	case p.pid == pidNull:
		return
	case p.pid == pidPAT:
		cc = &d.patCC
	case int(p.pid) == d.pmtPID:
		cc = &d.pmtCC
	case d.video != nil && p.pid == d.video.pid:
		t, cc = d.video, &d.video.cc
	case d.audio != nil && p.pid == d.audio.pid:
		t, cc = d.audio, &d.audio.cc
	}
	if ok && int(p.pid) == d.pcrPID {
		d.checkPCR(&p)
	}
	if cc == nil {
		return
	}
	if !ok || p.tei {
		d.sink.TSError(ErrTransport)
		d.lost(p.pid, t)
		cc.valid = false
		return
	}
	dup, gap := cc.check(&p)
	if dup {
		return
	}
	if gap {
		d.sink.TSError(ErrContinuity)
		d.log.Debug("mpeg-ts continuity error", "pid", p.pid)
		d.lost(p.pid, t)
	}
	if !p.hasPayload {
		return
	}
	if p.scrambled {
		d.sink.TSError(ErrScrambled)
		d.warnOnce("scrambled", "scrambled mpeg-ts packets dropped", "pid", p.pid)
		d.lost(p.pid, t)
		return
	}
	switch {
	case t != nil:
		d.esPacket(t, &p, now)
	case p.pid == pidPAT:
		if bad := d.pat.feed(p.pusi, p.payload, d.onPAT); bad > 0 {
			d.sink.TSError(ErrPSI)
		}
	default:
		if bad := d.pmt.feed(p.pusi, p.payload, d.onPMT); bad > 0 {
			d.sink.TSError(ErrPSI)
		}
	}
}

// lost discards the partial unit of the PID that lost packets.
func (d *Demuxer) lost(pid uint16, t *esTrack) {
	switch {
	case t != nil:
		d.dropPES(t)
		t.stuffWatch = false // what follows a loss says nothing of the muxer
	case pid == pidPAT:
		d.pat.reset()
	default:
		d.pmt.reset()
	}
}

// dropPES discards t's partial PES packet; on video the next units wait for
// a key frame.
func (d *Demuxer) dropPES(t *esTrack) {
	t.inPES = false
	t.pes = nil
	if t.kind == stream.KindVideo && t.emitted != nil {
		t.needKey = true
	}
}

// checkPCR watches the program clock reference (§2.4.3.5): a
// discontinuity_indicator, or a PCR step backwards or beyond maxJump,
// starts a new timeline segment.
func (d *Demuxer) checkPCR(p *tsPacket) {
	if p.discontinuity {
		d.tl.markDiscontinuity()
		d.log.Info("mpeg-ts pcr discontinuity signalled")
	}
	if !p.hasPCR {
		return
	}
	if d.hasPCR && !p.discontinuity {
		if delta := signed33(p.pcr - d.pcr); delta < -d.tl.jitter || delta > d.maxJump {
			d.tl.markDiscontinuity()
			d.log.Info("mpeg-ts pcr jump", "step", ticksToDuration(delta))
		}
	}
	d.pcr, d.hasPCR = p.pcr, true
}

func (d *Demuxer) onPAT(sec []byte) {
	pid, ok := parsePAT(sec)
	if !ok {
		return
	}
	if int(pid) == d.pmtPID {
		return
	}
	if d.pmtPID >= 0 {
		d.log.Info("mpeg-ts program map pid changed", "pid", pid)
	}
	d.pmtPID = int(pid)
	d.pmt.reset()
	d.pmtCC = ccState{}
	d.pmtCRC = nil
}

func (d *Demuxer) onPMT(sec []byte) {
	crc := sec[len(sec)-4:]
	if d.pmtCRC != nil && bytes.Equal(crc, d.pmtCRC) {
		return // the same PMT, repeated
	}
	prog, ok := parsePMT(sec)
	if !ok {
		d.sink.TSError(ErrPSI)
		return
	}
	first := d.pmtCRC == nil
	d.pmtCRC = bytes.Clone(crc)
	d.pcrPID = int(prog.pcrPID)
	var video, audio *esInfo
	var ignored []string
	for i := range prog.streams {
		es := &prog.streams[i]
		switch {
		case es.streamType == streamTypeH264 || es.streamType == streamTypeH265:
			if video == nil {
				video = es
				continue
			}
		case es.streamType == streamTypeAACADTS:
			if audio == nil {
				audio = es
				continue
			}
		default:
			if _, opus := opusInTS(*es); opus && audio == nil {
				audio = es
				continue
			}
		}
		ignored = append(ignored, fmt.Sprintf("0x%02x", es.streamType))
	}
	d.video = d.updateTrack(d.video, video, stream.KindVideo)
	d.audio = d.updateTrack(d.audio, audio, stream.KindAudio)
	attrs := []any{"version", prog.version, "video", streamTypeName(video), "audio", streamTypeName(audio)}
	if len(ignored) > 0 {
		attrs = append(attrs, "ignored_stream_types", ignored)
	}
	if first {
		d.log.Info("mpeg-ts program", attrs...)
	} else {
		d.log.Info("mpeg-ts program changed", attrs...)
	}
}

// updateTrack applies a PMT entry to the followed track of a kind: a new
// stream type starts the track's state anew, a new PID only moves it.
func (d *Demuxer) updateTrack(t *esTrack, es *esInfo, kind stream.Kind) *esTrack {
	if es == nil {
		return nil
	}
	if t != nil && t.streamType == es.streamType {
		if t.pid != es.pid {
			d.dropPES(t)
			t.pid, t.cc = es.pid, ccState{}
		}
		if ch, ok := opusInTS(*es); ok && ch != t.channels {
			t.channels = ch
			t.codec = stream.Opus{ChannelCount: ch}
		}
		return t
	}
	nt := &esTrack{kind: kind, pid: es.pid, streamType: es.streamType}
	if ch, ok := opusInTS(*es); ok {
		nt.channels = ch
		nt.codec = stream.Opus{ChannelCount: ch}
	}
	return nt
}

func streamTypeName(es *esInfo) string {
	if es == nil {
		return ""
	}
	switch es.streamType {
	case streamTypeH264:
		return "h264"
	case streamTypeH265:
		return "h265"
	case streamTypeAACADTS:
		return "aac"
	}
	return "opus"
}

// esPacket adds one packet's payload to t's PES packet (§2.4.3.6). A PES
// packet ends at the next payload_unit_start_indicator of its PID or, when
// its PES_packet_length is set, as soon as that many bytes are in.
func (d *Demuxer) esPacket(t *esTrack, p *tsPacket, now time.Time) {
	if t.stuffWatch {
		t.stuffWatch = false
		switch {
		case p.pusi && t.stuffEnds >= 0:
			t.stuffEnds++
		case !p.pusi && t.stuffEnds >= 0:
			// a muxer that stuffs inside a PES: wait for the next start
			if t.stuffEnds >= stuffEndsTrusted {
				d.warnOnce("pes_stuffing", "mpeg-ts video pes stuffed before its end: access units now end at the next pes start")
			}
			t.stuffEnds = -1
			if !t.inPES {
				d.dropPES(t) // the unit handed out was cut short
				return
			}
		}
	}
	if p.pusi {
		if t.inPES {
			d.finishPES(t, now)
		}
		h, ok := parsePESHeader(p.payload)
		if !ok {
			d.sink.TSError(ErrPES)
			d.dropPES(t)
			return
		}
		t.hdr, t.inPES = h, true
		t.pes = make([]byte, 0, max(t.last, len(p.payload)))
		t.pes = append(t.pes, p.payload[h.dataPos:]...)
	} else {
		if !t.inPES {
			return
		}
		t.pes = append(t.pes, p.payload...)
	}
	if len(t.pes) > maxPESSize {
		d.sink.TSError(ErrPES)
		d.warnOnce("pes_size", "oversized mpeg-ts pes packet dropped", "limit", maxPESSize)
		d.dropPES(t)
		return
	}
	if t.hdr.length != 0 {
		if want := t.hdr.length + 6 - t.hdr.dataPos; len(t.pes) >= want {
			t.pes = t.pes[:want]
			d.finishPES(t, now)
		}
		return
	}
	if p.stuffed && t.kind == stream.KindVideo && t.stuffEnds >= 0 {
		t.stuffWatch = true
		if t.stuffEnds >= stuffEndsTrusted {
			d.finishPES(t, now)
		}
	}
}

// finishPES hands a complete PES packet to its codec.
func (d *Demuxer) finishPES(t *esTrack, now time.Time) {
	data, h := t.pes, t.hdr
	t.pes, t.inPES, t.last = nil, false, len(data)
	if !h.hasPTS {
		d.sink.TSError(ErrPES)
		d.warnOnce("no_pts", "mpeg-ts pes packet without pts dropped")
		d.dropPES(t)
		return
	}
	if !h.hasDTS {
		h.dts = h.pts
	}
	switch t.streamType {
	case streamTypeH264, streamTypeH265:
		d.videoAU(t, data, h, now)
	case streamTypeAACADTS:
		d.aacPES(t, data, h.pts, now)
	default:
		d.opusPES(t, data, h.pts, now)
	}
}

// emit stamps the codec change, if any, and hands u out.
func (d *Demuxer) emit(t *esTrack, u *stream.Unit) {
	if t.emitted != nil && !t.emitted.Equal(t.codec) {
		u.Codec = t.codec
	}
	t.emitted = t.codec
	d.sink.Unit(t.kind, t.codec, u)
}
