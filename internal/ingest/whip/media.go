package whip

import (
	"errors"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// rtpClock maps one track's 32-bit RTP timestamps (RFC 3550 §5.1) onto the
// stream timeline: unwrapped to 64 bits, then anchored once at the track's
// first published unit.
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
	return c.anchorPTS + time.Duration((ext-c.anchorExt)*int64(time.Second)/c.rate)
}

type senderReport struct {
	ntp time.Duration // NTP time since 1900 (RFC 3550 §4)
	rtp uint32
}

// mediaState is the A/V state of a session, guarded by session.mu.
//
// Timeline (A/V sync): PTS 0 is the first published video key frame. Each
// track's PTS is its RTP time relative to an anchor. The video anchor is
// that key frame. The audio anchor is its first packet after the start: when
// RTCP sender reports of both tracks are known, its PTS is the difference of
// the two packets' NTP times (RFC 3550 §6.4.1, the sender's own capture
// clock, exact lip sync); otherwise it is the difference of their arrival
// times (good to the network jitter). Anchors are never moved afterwards,
// so timestamps never jump; later sender reports are not used to re-sync.
type mediaState struct {
	plan       offerPlan
	pub        *stream.Publisher
	videoIndex int
	audioIndex int

	video     stream.Codec // current parameters (H264 or H265), nil until complete
	published stream.Codec // parameters of the last written video unit
	vclock    rtpClock
	aclock    rtpClock
	lastVideo time.Duration
	videoSSRC uint32
	audioSSRC uint32

	baseWall time.Time
	baseNTP  time.Duration
	hasNTP   bool
	srs      map[uint32]senderReport
}

func newMediaState(plan offerPlan) mediaState {
	return mediaState{
		plan:       plan,
		videoIndex: -1,
		audioIndex: -1,
		vclock:     rtpClock{rate: 90000},
		aclock:     rtpClock{rate: 48000},
		srs:        map[uint32]senderReport{},
	}
}

func (m *mediaState) senderReport(ssrc uint32, ntp uint64, rtpTS uint32) {
	secs := time.Duration(ntp>>32) * time.Second
	frac := time.Duration((ntp & 0xffffffff) * uint64(time.Second) >> 32)
	m.srs[ssrc] = senderReport{ntp: secs + frac, rtp: rtpTS}
}

// ntpOf returns the NTP time of RTP timestamp ts of ssrc, if a sender report
// of ssrc is known.
func (m *mediaState) ntpOf(ssrc uint32, ts uint32, rate int64) (time.Duration, bool) {
	sr, ok := m.srs[ssrc]
	if !ok {
		return 0, false
	}
	return sr.ntp + time.Duration(int64(int32(ts-sr.rtp))*int64(time.Second)/rate), true
}

// videoDepacketizer is nalDepacketizer, av1Depacketizer, vp8Depacketizer or
// vp9Depacketizer.
type videoDepacketizer interface {
	push(payload []byte, ts uint32, marker bool) ([]*accessUnit, error)
	reset()
}

// readVideo depacketizes a video track into access units.
func (ss *session) readVideo(tr *webrtc.TrackRemote) {
	ssrc := uint32(tr.SSRC())
	var dep videoDepacketizer
	switch ss.plan.Video.Mime {
	case mimeH265:
		dep = newNALDepacketizer(codecH265)
	case mimeAV1:
		dep = &av1Depacketizer{}
	case mimeVP8:
		dep = &vp8Depacketizer{}
	case mimeVP9:
		dep = &vp9Depacketizer{}
	default:
		dep = newNALDepacketizer(codecH264)
	}
	reorder := newReorderBuffer(reorderWait)
	waitKey := true
	var lastPLI, lastKey time.Time
	ss.requestKeyframe(ssrc)
	lastPLI = time.Now()
	// Browsers send a key frame only at the start and after a resolution
	// change; HLS segments start on key frames, so ask for one every
	// KeyframeInterval (the segment duration).
	every := ss.srv.cfg.KeyframeInterval
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		ss.im.WireBytes(pkt.MarshalSize())
		for _, o := range reorder.push(pkt, now) {
			if o.Lost {
				dep.reset()
				if !waitKey {
					ss.log.Debug("whip video packets lost, waiting for a key frame")
				}
				waitKey = true
			}
			if len(o.P.Payload) == 0 {
				continue // padding only (bandwidth probing, RFC 3550 §5.1)
			}
			aus, err := dep.push(o.P.Payload, o.P.Timestamp, o.P.Marker)
			if err != nil {
				waitKey = true
				ss.log.Debug("whip video packet dropped", "error", err)
			}
			for _, au := range aus {
				if waitKey && !au.Key {
					continue
				}
				if ss.onVideo(au, ssrc, now) {
					waitKey = false
					if au.Key {
						lastKey = now
					}
				}
			}
		}
		switch {
		case waitKey && now.Sub(lastPLI) >= keyframeRequestEach:
			ss.requestKeyframe(ssrc)
			lastPLI = now
		case !waitKey && every > 0 && now.Sub(lastKey) >= every && now.Sub(lastPLI) >= every:
			ss.requestKeyframe(ssrc)
			lastPLI = now
		}
	}
}

// onVideo takes parameter sets from au and writes it to the hub, publishing
// the stream at the first key frame with complete parameters. It reports
// whether the unit was written.
func (ss *session) onVideo(au *accessUnit, ssrc uint32, now time.Time) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	m := &ss.media
	m.videoSSRC = ssrc
	nalus := ss.videoParams(au.NALUs)
	ext := m.vclock.unwrap(au.TS)
	if m.pub == nil {
		if !au.Key || m.video == nil || ss.closing {
			return false
		}
		m.baseWall = now
		m.baseNTP, m.hasNTP = m.ntpOf(ssrc, au.TS, 90000)
		m.vclock.anchored, m.vclock.anchorExt, m.vclock.anchorPTS = true, ext, 0
		if !ss.publish() {
			return false
		}
	}
	if m.videoIndex < 0 || len(nalus) == 0 {
		return false
	}
	pts := m.vclock.pts(ext)
	if pts <= m.lastVideo && m.published != nil {
		pts = m.lastVideo + time.Millisecond // never step back (broken sender)
	}
	m.lastVideo = pts
	u := &stream.Unit{Track: m.videoIndex, DTS: pts, PTS: pts, Wall: now, Key: au.Key, NALUs: nalus}
	if m.published != nil && !m.published.Equal(m.video) {
		u.Codec = m.video
		ss.log.Info("whip video parameters changed", "codec", m.video.Name())
	}
	m.published = m.video
	ss.writeUnit(u, stream.KindVideo)
	return true
}

// videoParams updates the video parameters from the parameter set NAL units
// of nalus (H.264 SPS 7 / PPS 8, ITU-T H.264 Table 7-1; H.265 VPS 32 / SPS 33
// / PPS 34, ITU-T H.265 Table 7-1) and returns the NAL units to publish
// (access unit delimiters and filler data removed).
func (ss *session) videoParams(nalus [][]byte) [][]byte {
	m := &ss.media
	out := nalus[:0:0]
	if ss.plan.Video.Mime == mimeVP8 {
		// no parameter sets: the size comes with every key frame
		if len(nalus) == 0 {
			return nil
		}
		if key, w, h := vp8KeyFrame(nalus[0]); key && w > 0 && h > 0 {
			m.video = stream.VP8{Width: w, Height: h}
		}
		return nalus
	}
	if ss.plan.Video.Mime == mimeVP9 {
		if len(nalus) == 0 {
			return nil
		}
		if key, w, h := vp9KeyFrame(nalus[0]); key {
			m.video = stream.VP9{Width: w, Height: h}
		}
		return nalus
	}
	if ss.plan.Video.Mime == mimeAV1 {
		if sh := av1SequenceHeader(nalus); sh != nil {
			m.video = stream.AV1{SequenceHeader: sh}
		}
		return nalus
	}
	if ss.plan.Video.Mime == mimeH265 {
		c, _ := m.video.(stream.H265)
		for _, n := range nalus {
			switch (n[0] >> 1) & 0x3f {
			case 32:
				c.VPS = n
			case 33:
				c.SPS = n
			case 34:
				c.PPS = n
			case 35, 38: // AUD, filler
				continue
			}
			out = append(out, n)
		}
		if c.VPS != nil && c.SPS != nil && c.PPS != nil {
			m.video = c
		}
		return out
	}
	c, _ := m.video.(stream.H264)
	for _, n := range nalus {
		switch n[0] & 0x1f {
		case 7:
			c.SPS = n
		case 8:
			c.PPS = n
		case 9, 12: // AUD, filler
			continue
		}
		out = append(out, n)
	}
	if c.SPS != nil && c.PPS != nil {
		m.video = c
	}
	return out
}

// publish attaches the session to the hub; called with ss.mu held, once the
// tracks are known. On failure the session stops.
func (ss *session) publish() bool {
	m := &ss.media
	var tracks []stream.Track
	if m.plan.Video != nil {
		m.videoIndex = len(tracks)
		tracks = append(tracks, stream.Track{Codec: m.video})
	}
	if m.plan.Audio != nil {
		// Opus as it came: the live graph's transcode.audio node makes the
		// AAC that HLS players need from it
		m.audioIndex = len(tracks)
		tracks = append(tracks, stream.Track{Codec: stream.Opus{ChannelCount: 2}})
	}
	pub, err := ss.srv.cfg.Hub.PublishSession(ss.live.ID, tracks, ss.srv.cfg.Takeover,
		stream.SessionInfo{Protocol: Protocol, Remote: ss.remote, StartedAt: time.Now(), ReconnectWindow: ss.live.ReconnectWindow})
	if err != nil {
		reason := "protocol_error"
		if errors.Is(err, stream.ErrBusy) {
			reason = "busy"
		}
		ss.srv.cfg.Metrics.Rejected(Protocol, reason)
		ss.log.Warn("whip publish refused by the hub", "error", err)
		m.videoIndex, m.audioIndex = -1, -1
		ss.cancel()
		return false
	}
	m.pub = pub
	names := make([]string, len(tracks))
	for i, t := range tracks {
		names[i] = t.Codec.Name()
	}
	ss.log.Info("whip stream published", "tracks", names)
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		select {
		case <-pub.Kicked():
			ss.log.Info("whip publisher kicked")
			ss.stop(false)
		case <-ss.ctx.Done():
		}
	}()
	return true
}

// readAudio reads an Opus track (RFC 7587: one Opus packet per RTP packet).
func (ss *session) readAudio(tr *webrtc.TrackRemote) {
	ssrc := uint32(tr.SSRC())
	reorder := newReorderBuffer(reorderWait / 2)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		ss.im.WireBytes(pkt.MarshalSize())
		for _, o := range reorder.push(pkt, now) {
			ss.onOpus(o.P, ssrc, now)
		}
	}
}

func (ss *session) onOpus(p *rtp.Packet, ssrc uint32, now time.Time) {
	if len(p.Payload) == 0 {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	m := &ss.media
	m.audioSSRC = ssrc
	ext := m.aclock.unwrap(p.Timestamp)
	if m.pub == nil {
		if m.plan.Video != nil || ss.closing {
			return // wait for the video key frame
		}
		m.baseWall = now
		m.baseNTP, m.hasNTP = m.ntpOf(ssrc, p.Timestamp, 48000)
		if !ss.publish() {
			return
		}
	}
	if m.audioIndex < 0 {
		return
	}
	if !m.aclock.anchored {
		anchor := now.Sub(m.baseWall)
		if ntp, ok := m.ntpOf(ssrc, p.Timestamp, 48000); ok && m.hasNTP {
			anchor = ntp - m.baseNTP
		} else if m.plan.Video != nil {
			if vntp, vok := m.ntpOf(m.videoSSRC, m.vclock.last, 90000); vok && ok {
				// the video report arrived after the key frame: anchor
				// against the video clock through its current NTP time
				anchor = ntp - vntp + m.vclock.pts(m.vclock.ext)
			}
		}
		m.aclock.anchored, m.aclock.anchorExt, m.aclock.anchorPTS = true, ext, anchor
	}
	pts := m.aclock.pts(ext)
	if pts < 0 {
		return // captured before the first video frame
	}
	u := &stream.Unit{Track: m.audioIndex, DTS: pts, PTS: pts, Wall: now, Key: true, Data: append([]byte(nil), p.Payload...)}
	ss.writeUnit(u, stream.KindAudio)
}
