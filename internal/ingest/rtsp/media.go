package rtsp

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ntpSource gives the sender's capture time of an RTP packet from the
// RTCP sender reports received so far (RFC 3550 §6.4.1). The RTSP server
// session and client both implement it.
type ntpSource interface {
	PacketNTP(medi *description.Media, pkt *rtp.Packet) (time.Time, bool)
}

// counters are a feeder's statistics, read by the session while it runs.
type counters struct {
	reportedLost, reportedDropped uint64 // what report has passed on
	reportedBytes                 uint64 // payload bytes at the last report
	reportedAt                    time.Time
	bitrate                       float64 // over the last report interval
	live                          bool    // RTPSession was reported

	packets      atomic.Uint64 // RTP packets received
	bytes        atomic.Uint64 // RTP payload bytes
	lost         atomic.Uint64 // RTP packets missing (sequence gaps)
	unitsDropped atomic.Uint64 // video units dropped waiting for a key frame
	decodeErrors atomic.Uint64 // malformed payloads
	units        atomic.Uint64 // units written to the hub
	// interarrival jitter in seconds (math.Float64bits), RFC 3550 §A.8
	jitterVideo, jitterAudio atomic.Uint64
}

// report passes the loss counted since the last report on to sink, and,
// once the session's stream is live, its statistics; called by one
// goroutine at a time (the session's watch, then its end).
func (c *counters) report(sink StatsSink, liveInput string, live bool) {
	now := time.Now()
	bytes := c.bytes.Load()
	if !c.reportedAt.IsZero() {
		if el := now.Sub(c.reportedAt).Seconds(); el > 0.1 {
			c.bitrate = float64(bytes-c.reportedBytes) * 8 / el
		}
	}
	c.reportedAt, c.reportedBytes = now, bytes
	if live {
		c.live = true
		sink.RTPSession(liveInput, c.snapshot())
	}
	if n := c.lost.Load(); n > c.reportedLost {
		sink.PacketsLost(liveInput, int(n-c.reportedLost))
		c.reportedLost = n
	}
	if n := c.unitsDropped.Load(); n > c.reportedDropped {
		sink.UnitsDropped(liveInput, stream.KindVideo, int(n-c.reportedDropped))
		c.reportedDropped = n
	}
}

// ended reports the end of the session to sink (after a last report).
func (c *counters) ended(sink StatsSink, liveInput string) {
	if c.live {
		sink.RTPSessionEnded(liveInput)
	}
}

// snapshot returns the statistics so far.
func (c *counters) snapshot() ingest.RTPStats {
	sec := func(a *atomic.Uint64) time.Duration {
		return time.Duration(math.Float64frombits(a.Load()) * float64(time.Second))
	}
	return ingest.RTPStats{PacketsReceived: c.packets.Load(), PacketsLost: c.lost.Load(),
		VideoJitter: sec(&c.jitterVideo), AudioJitter: sec(&c.jitterAudio), BitsPerSecond: c.bitrate}
}

// jitter is the interarrival jitter estimate of one track (RFC 3550
// §6.4.1): J += (|D(i-1,i)| - J) / 16, where D is the difference of the
// arrival times minus the difference of the RTP timestamps, in seconds.
type jitter struct {
	init    bool
	ssrc    uint32
	ts      uint32
	arrival time.Time
	j       float64
}

func (x *jitter) update(pkt *rtp.Packet, rate int, now time.Time, out *atomic.Uint64) {
	if !x.init || pkt.SSRC != x.ssrc || rate <= 0 {
		x.init, x.ssrc, x.ts, x.arrival = true, pkt.SSRC, pkt.Timestamp, now
		return
	}
	d := now.Sub(x.arrival).Seconds() - float64(int32(pkt.Timestamp-x.ts))/float64(rate)
	x.ts, x.arrival = pkt.Timestamp, now
	x.j += (math.Abs(d) - x.j) / 16
	out.Store(math.Float64bits(x.j))
}

// publishFunc attaches a publisher with tracks to the hub.
type publishFunc func(tracks []stream.Track) (*stream.Publisher, error)

// errStartTimeout ends a session that delivers no key frame in time.
var errStartTimeout = errors.New("no decodable video key frame")

// feeder turns the RTP packets of a session's chosen tracks into access
// units in the hub: depacketizing (RFC 6184, RFC 7798, RFC 3640, RFC
// 7587), timestamps (RFC 3550 §5.1, extended to 64 bits), A/V sync and loss
// handling. It is shared by the publish server and the puller.
//
// Timeline: PTS 0 (plus shift, see below) is the first published video key
// frame; audio is anchored at its first packet after that, through the
// RTCP sender reports of both tracks when they are known (the sender's
// capture clock: exact lip sync), else through the arrival times. A
// stream without video starts at its first audio packet. Anchors never
// move, so timestamps never jump. A lost packet (a sequence gap) drops video
// until the next key frame; those units are counted.
//
// Packets of different tracks may arrive on different goroutines: mu
// serializes them.
type feeder struct {
	log     *slog.Logger
	plan    plan
	publish publishFunc
	stats   *counters
	im      ingest.InputMetrics // the live input's counters, resolved once

	mu       sync.Mutex
	pub      *stream.Publisher
	vIdx     int
	aIdx     int
	video    videoState
	audio    audioState
	baseWall time.Time
	// shift is added to every timestamp so that the first video DTS
	// (before the key frame's PTS when the encoder reorders frames) is >= 0.
	shift      time.Duration
	jitV, jitA jitter
	ntpVideo   time.Time // sender time of the last video packet with one
	ptsVideo   time.Duration
	hasNTPV    bool
	warned     map[string]bool

	// enc transcodes G.711 audio to AAC (nil: G.711 is dropped).
	enc        *ffmpeg.AACEncoder
	encConfig  []byte // the AudioSpecificConfig announced for enc's output
	g711Fed    bool
	g711Base   int64 // extended RTP time of the first sample fed
	g711Next   int64 // extended RTP time the next sample fed should have
	g711Silent byte  // a silent G.711 sample (A-law 0xd5, µ-law 0xff)
	g711Ch     int
}

type seqState struct {
	init bool
	last uint16
}

// next reports how many packets were lost before seq, or -1 for a
// duplicate or late packet (to be dropped).
func (s *seqState) next(seq uint16) int {
	if !s.init {
		s.init, s.last = true, seq
		return 0
	}
	d := int16(seq - s.last)
	if d <= 0 {
		return -1
	}
	s.last = seq
	return int(d) - 1
}

type rtpClock struct {
	rate      int64
	init      bool
	last      uint32
	ext       int64
	anchored  bool
	anchorExt int64
	anchorPTS time.Duration
}

func (c *rtpClock) unwrap(ts uint32) int64 {
	if !c.init {
		c.init, c.last, c.ext = true, ts, int64(ts)
		return c.ext
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	return c.ext
}

func (c *rtpClock) pts(ext int64) time.Duration {
	d := ext - c.anchorExt
	return c.anchorPTS + time.Duration(d/c.rate)*time.Second + time.Duration(d%c.rate)*time.Second/time.Duration(c.rate)
}

// rebase makes the next timestamp of a new source (SSRC) continue one
// step after the last one of the old.
func (c *rtpClock) rebase(ts uint32, step int64) {
	if !c.init {
		return
	}
	c.last = ts
	c.ext += step
}

type videoDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

type videoState struct {
	h265      bool
	dec       videoDecoder
	dts       dtsExtractor
	seq       seqState
	ssrc      uint32
	clock     rtpClock
	waitKey   bool
	codec     stream.Codec // current parameters, nil until complete
	published stream.Codec
	lastDTS   time.Duration
	wrote     bool
}

type audioState struct {
	seq   seqState
	ssrc  uint32
	clock rtpClock
	aac   interface {
		Decode(*rtp.Packet) ([][]byte, error)
	}
	opus interface {
		Decode(*rtp.Packet) ([]byte, error)
	}
	sampleRate int
	lastPTS    time.Duration
	wrote      bool
}

func newFeeder(p plan, publish publishFunc, stats *counters, m ingest.Metrics, proto, liveID string, log *slog.Logger) (*feeder, error) {
	f := &feeder{log: log, plan: p, publish: publish, stats: stats, im: m.Input(proto, liveID),
		vIdx: -1, aIdx: -1, warned: map[string]bool{}}
	if p.video != nil {
		f.video.clock.rate = int64(p.video.format.ClockRate())
		if f.video.clock.rate <= 0 {
			f.video.clock.rate = 90000
		}
		switch vf := p.video.format.(type) {
		case *format.H264:
			sps, pps := vf.SafeParams()
			if sps != nil && pps != nil {
				f.video.codec = stream.H264{SPS: sps, PPS: pps}
			}
		case *format.H265:
			f.video.h265 = true
			if vf.VPS != nil && vf.SPS != nil && vf.PPS != nil {
				f.video.codec = stream.H265{VPS: vf.VPS, SPS: vf.SPS, PPS: vf.PPS}
			}
		}
		if err := f.resetVideo(); err != nil {
			return nil, err
		}
	}
	if p.audio != nil && p.g711 {
		f.audio.clock.rate = int64(p.audio.format.ClockRate())
	}
	if p.audio != nil && !p.g711 {
		f.audio.clock.rate = int64(p.audio.format.ClockRate())
		if f.audio.clock.rate <= 0 {
			return nil, fmt.Errorf("audio clock rate %d", f.audio.clock.rate)
		}
		switch af := p.audio.format.(type) {
		case *format.MPEG4Audio:
			d, err := af.CreateDecoder()
			if err != nil {
				return nil, fmt.Errorf("aac depacketizer: %w", err)
			}
			f.audio.aac = d
			f.audio.sampleRate = af.Config.SampleRate
		case *format.Opus:
			d, err := af.CreateDecoder()
			if err != nil {
				return nil, fmt.Errorf("opus depacketizer: %w", err)
			}
			f.audio.opus = d
		}
		if f.audio.sampleRate <= 0 {
			f.audio.sampleRate = int(f.audio.clock.rate)
		}
	}
	return f, nil
}

// resetVideo drops a partial frame and waits for the next key frame.
func (f *feeder) resetVideo() error {
	v := &f.video
	v.waitKey = true
	switch vf := f.plan.video.format.(type) {
	case *format.H264:
		d, err := vf.CreateDecoder()
		if err != nil {
			return fmt.Errorf("h264 depacketizer: %w", err)
		}
		v.dec = d
		v.dts = h264.NewDTSExtractor()
	case *format.H265:
		d, err := vf.CreateDecoder()
		if err != nil {
			return fmt.Errorf("h265 depacketizer: %w", err)
		}
		v.dec = d
		v.dts = h265.NewDTSExtractor()
	}
	return nil
}

func (f *feeder) warnOnce(key, msg string, attrs ...any) {
	if f.warned[key] {
		return
	}
	f.warned[key] = true
	f.log.Warn(msg, attrs...)
}

// started reports whether the stream is in the hub.
func (f *feeder) started() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pub != nil
}

// packet takes one RTP packet of medi. It returns an error only when the
// session must end (the hub refused the stream).
func (f *feeder) packet(src ntpSource, medi *description.Media, pkt *rtp.Packet, now time.Time) error {
	f.stats.packets.Add(1)
	f.stats.bytes.Add(uint64(len(pkt.Payload)))
	f.im.WireBytes(12 + len(pkt.Payload))
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.plan.video != nil && medi == f.plan.video.media && pkt.PayloadType == f.plan.video.format.PayloadType():
		f.jitV.update(pkt, f.plan.video.format.ClockRate(), now, &f.stats.jitterVideo)
		return f.videoPacket(src, medi, pkt, now)
	case f.plan.audio != nil && medi == f.plan.audio.media && pkt.PayloadType == f.plan.audio.format.PayloadType():
		f.jitA.update(pkt, f.plan.audio.format.ClockRate(), now, &f.stats.jitterAudio)
		return f.audioPacket(src, medi, pkt, now)
	}
	return nil
}

func (f *feeder) videoPacket(src ntpSource, medi *description.Media, pkt *rtp.Packet, now time.Time) error {
	v := &f.video
	if v.seq.init && pkt.SSRC != v.ssrc {
		// a new source (the sender restarted): continue the timeline one
		// frame on, from its next key frame
		f.log.Info("rtsp video source changed", "ssrc", pkt.SSRC)
		v.seq = seqState{}
		v.clock.rebase(pkt.Timestamp, v.clock.rate/30)
		if err := f.resetVideo(); err != nil {
			return err
		}
	}
	v.ssrc = pkt.SSRC
	lost := v.seq.next(pkt.SequenceNumber)
	if lost < 0 {
		return nil
	}
	if lost > 0 {
		f.stats.lost.Add(uint64(lost))
		if !v.waitKey {
			f.log.Debug("rtsp video packets lost, waiting for a key frame", "lost", lost)
		}
		if err := f.resetVideo(); err != nil {
			return err
		}
	}
	ext := v.clock.unwrap(pkt.Timestamp)
	if len(pkt.Payload) == 0 {
		return nil
	}
	nalus, err := v.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph265.ErrMorePacketsNeeded):
		return nil
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious), errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious):
		return nil
	case err != nil:
		f.stats.decodeErrors.Add(1)
		f.log.Debug("rtsp video packet dropped", "error", err.Error())
		return f.resetVideo()
	}
	nalus = f.videoParams(nalus)
	if len(nalus) == 0 {
		return nil
	}
	key := h264.IsRandomAccess(nalus)
	if v.h265 {
		key = h265.IsRandomAccess(nalus)
	}
	if v.waitKey && !key {
		if f.pub != nil {
			f.stats.unitsDropped.Add(1)
		}
		return nil
	}
	if ntp, ok := src.PacketNTP(medi, pkt); ok && f.pub != nil {
		f.ntpVideo, f.ptsVideo, f.hasNTPV = ntp, v.clock.pts(ext), true
	}
	if f.pub == nil {
		if v.codec == nil {
			f.warnOnce("no_params", "rtsp key frame without parameter sets, waiting for them")
			return nil
		}
		v.clock.anchored, v.clock.anchorExt, v.clock.anchorPTS = true, ext, 0
		f.baseWall = now
		if ntp, ok := src.PacketNTP(medi, pkt); ok {
			f.ntpVideo, f.ptsVideo, f.hasNTPV = ntp, 0, true
		}
		if err := f.start(); err != nil {
			return err
		}
	}
	if v.waitKey {
		// a fresh decoding order: the DTS extractor restarts at the key frame
		if v.h265 {
			v.dts = h265.NewDTSExtractor()
		} else {
			v.dts = h264.NewDTSExtractor()
		}
	}
	ptsTicks := ext - v.clock.anchorExt
	dtsTicks, err := v.dts.Extract(f.withParams(nalus, key), ptsTicks)
	if err != nil {
		f.stats.decodeErrors.Add(1)
		f.log.Debug("rtsp video frame dropped: no decode time", "error", err.Error())
		return f.resetVideo()
	}
	pts := v.clock.pts(ext)
	dts := pts - ticks(ptsTicks-dtsTicks, v.clock.rate)
	if !v.wrote && f.vIdx >= 0 && dts < 0 && f.shift == 0 {
		f.shift = -dts
	}
	pts, dts = pts+f.shift, dts+f.shift
	if v.wrote && dts <= v.lastDTS {
		dts = v.lastDTS + time.Millisecond // never step back (broken sender)
		if pts < dts {
			pts = dts
		}
	}
	v.waitKey = false
	u := &stream.Unit{Track: f.vIdx, DTS: dts, PTS: pts, Wall: now, Key: key, NALUs: nalus}
	if v.published != nil && !v.published.Equal(v.codec) {
		u.Codec = v.codec
		f.log.Info("rtsp video parameters changed", "codec", v.codec.Name())
	}
	v.published, v.lastDTS, v.wrote = v.codec, dts, true
	f.write(u, stream.KindVideo)
	return nil
}

// withParams returns a key frame's NAL units with the current parameter
// sets in front when the sender keeps them out of band (in the SDP's
// sprop-parameter-sets, RFC 6184 §8.1): the DTS extractor reads the SPS.
func (f *feeder) withParams(nalus [][]byte, key bool) [][]byte {
	if !key {
		return nalus
	}
	var params [][]byte
	switch c := f.video.codec.(type) {
	case stream.H264:
		if h264.NALUType(nalus[0][0]&0x1f) == h264.NALUTypeSPS {
			return nalus
		}
		params = [][]byte{c.SPS, c.PPS}
	case stream.H265:
		if h265.NALUType((nalus[0][0]>>1)&0x3f) == h265.NALUType_VPS_NUT {
			return nalus
		}
		params = [][]byte{c.VPS, c.SPS, c.PPS}
	default:
		return nalus
	}
	return append(params, nalus...)
}

func ticks(n, rate int64) time.Duration {
	return time.Duration(n/rate)*time.Second + time.Duration(n%rate)*time.Second/time.Duration(rate)
}

// videoParams copies the NAL units, takes parameter sets from them (H.264
// SPS 7 / PPS 8, ITU-T H.264 Table 7-1; H.265 VPS 32 / SPS 33 / PPS 34,
// ITU-T H.265 Table 7-1) and drops access unit delimiters and filler data.
func (f *feeder) videoParams(nalus [][]byte) [][]byte {
	v := &f.video
	out := make([][]byte, 0, len(nalus))
	if v.h265 {
		c, _ := v.codec.(stream.H265)
		for _, n := range nalus {
			if len(n) < 2 {
				continue
			}
			n = append([]byte(nil), n...)
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				c.VPS = n
			case h265.NALUType_SPS_NUT:
				c.SPS = n
			case h265.NALUType_PPS_NUT:
				c.PPS = n
			case h265.NALUType_AUD_NUT, h265.NALUType_FD_NUT:
				continue
			}
			out = append(out, n)
		}
		if c.VPS != nil && c.SPS != nil && c.PPS != nil {
			v.codec = c
		}
		return out
	}
	c, _ := v.codec.(stream.H264)
	for _, n := range nalus {
		if len(n) < 1 {
			continue
		}
		n = append([]byte(nil), n...)
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			c.SPS = n
		case h264.NALUTypePPS:
			c.PPS = n
		case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
			continue
		}
		out = append(out, n)
	}
	if c.SPS != nil && c.PPS != nil {
		v.codec = c
	}
	return out
}

// start publishes the stream; called with mu held.
func (f *feeder) start() error {
	var tracks []stream.Track
	if f.plan.video != nil {
		f.vIdx = len(tracks)
		tracks = append(tracks, stream.Track{Codec: f.video.codec})
	}
	if ac, err := f.plan.audioCodec(); err != nil {
		return err
	} else if ac != nil {
		f.aIdx = len(tracks)
		tracks = append(tracks, stream.Track{Codec: ac})
	} else if f.enc != nil {
		f.aIdx = len(tracks)
		tracks = append(tracks, stream.Track{Codec: stream.AAC{Config: f.encConfig}})
	}
	pub, err := f.publish(tracks)
	if err != nil {
		f.vIdx, f.aIdx = -1, -1
		return err
	}
	f.pub = pub
	return nil
}

func (f *feeder) audioPacket(src ntpSource, medi *description.Media, pkt *rtp.Packet, now time.Time) error {
	a := &f.audio
	if f.plan.g711 && f.enc == nil {
		return nil // no transcode: dropped (the session reported it)
	}
	if a.seq.init && pkt.SSRC != a.ssrc {
		a.seq = seqState{}
		a.clock.rebase(pkt.Timestamp, int64(a.sampleRate)/50)
	}
	a.ssrc = pkt.SSRC
	lost := a.seq.next(pkt.SequenceNumber)
	if lost < 0 {
		return nil
	}
	f.stats.lost.Add(uint64(max(lost, 0)))
	ext := a.clock.unwrap(pkt.Timestamp)
	if f.pub == nil {
		if f.plan.video != nil {
			return nil // waiting for the video key frame
		}
		f.baseWall = now
		if err := f.start(); err != nil {
			return err
		}
	}
	if f.aIdx < 0 || len(pkt.Payload) == 0 {
		return nil
	}
	if !a.clock.anchored {
		anchor := now.Sub(f.baseWall) + f.shift
		if ntp, ok := src.PacketNTP(medi, pkt); ok && f.hasNTPV {
			anchor = ntp.Sub(f.ntpVideo) + f.ptsVideo
		}
		a.clock.anchored, a.clock.anchorExt, a.clock.anchorPTS = true, ext, anchor
	}
	pts := a.clock.pts(ext)
	if pts < 0 {
		return nil // captured before the first video frame
	}
	if f.enc != nil {
		f.feedG711(ext, pkt.Payload)
		return nil
	}
	if a.opus != nil {
		data, err := a.opus.Decode(pkt)
		if err != nil {
			f.stats.decodeErrors.Add(1)
			return nil
		}
		f.writeAudio(pts, now, append([]byte(nil), data...))
		return nil
	}
	aus, err := a.aac.Decode(pkt)
	if err != nil {
		f.stats.decodeErrors.Add(1)
		f.log.Debug("rtsp audio packet dropped", "error", err.Error())
		return nil
	}
	for i, au := range aus {
		p := pts + time.Duration(i)*1024*time.Second/time.Duration(a.sampleRate)
		f.writeAudio(p, now, append([]byte(nil), au...))
	}
	return nil
}

func (f *feeder) writeAudio(pts time.Duration, now time.Time, data []byte) {
	a := &f.audio
	if a.wrote && pts <= a.lastPTS {
		return // duplicate or reordered past what was written
	}
	a.lastPTS, a.wrote = pts, true
	f.write(&stream.Unit{Track: f.aIdx, DTS: pts, PTS: pts, Wall: now, Key: true, Data: data}, stream.KindAudio)
}

func (f *feeder) write(u *stream.Unit, kind stream.Kind) {
	f.pub.Write(u)
	f.stats.units.Add(1)
	f.im.Received(kind, u.Size(), u.Key)
}
