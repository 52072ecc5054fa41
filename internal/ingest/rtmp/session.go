package rtmp

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/yutopp/go-rtmp/message"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Limits on a publish's timeline: this many rebases within absurdWindow
// close the connection.
const (
	absurdRebases = 10
	absurdWindow  = 10 * time.Second
	jitterMS      = 100
)

// session is the publish of one connection: it determines the tracks,
// converts tags into units and writes them to the hub. Only go-rtmp's
// connection goroutine touches it.
type session struct {
	c       *conn
	h       *handler
	live    auth.LiveInput
	log     *slog.Logger
	started time.Time

	meta    metadata
	video   trackState
	audio   trackState
	tl      *timeline
	pub     *stream.Publisher
	pending []pendingUnit
	units   uint64
	warned  map[string]bool
	rebases []time.Time
}

type trackState struct {
	kind       stream.Kind
	codec      stream.Codec // current parameters
	first      stream.Codec // parameters of the first unit, the track's codec at Publish
	changed    bool         // the next unit carries codec
	lengthSize int          // AVCC/HVCC NAL unit length size
	vcodec     videoCodec
	acodec     audioCodec
	index      int // stream track index, -1 when not in the stream
}

type pendingUnit struct {
	t *trackState
	u *stream.Unit
}

func newSession(c *conn, h *handler, li auth.LiveInput) *session {
	return &session{
		c:       c,
		h:       h,
		live:    li,
		log:     c.log.With("live_input", li.ID),
		started: time.Now(),
		video:   trackState{kind: stream.KindVideo, index: -1},
		audio:   trackState{kind: stream.KindAudio, index: -1},
		tl:      newTimeline(c.s.cfg.MaxJump.Milliseconds(), jitterMS),
		warned:  map[string]bool{},
	}
}

// warnOnce logs msg the first time key occurs in this session.
func (s *session) warnOnce(key, msg string, attrs ...any) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.log.Warn(msg, attrs...)
}

func (s *session) onMetadata(m metadata, err error) {
	if err != nil {
		s.log.Debug("rtmp onMetaData ignored", "error", err)
		return
	}
	if s.pub == nil && m.Known {
		s.meta = m
		s.log.Debug("rtmp onMetaData", "video", m.VideoCodec.String(), "audio", m.AudioCodec.String())
	}
}

// setCodec installs new parameters on t; if units went out with the old
// ones, the next unit carries the new ones.
func (s *session) setCodec(t *trackState, c stream.Codec) {
	if t.codec != nil && t.codec.Equal(c) {
		return
	}
	if t.first != nil {
		t.changed = true
		s.log.Info("rtmp sequence header changed", "kind", t.kind.String(), "codec", c.Name())
	}
	t.codec = c
}

func (s *session) onVideo(ts uint32, b []byte, wall time.Time) error {
	tag, err := parseVideoTag(b)
	if err != nil {
		s.warnOnce("video_tag:"+err.Error(), "rtmp video tag dropped", "error", err)
		return nil
	}
	t := &s.video
	switch tag.Kind {
	case tagIgnore:
		return nil
	case tagConfig:
		s.videoConfig(tag)
		return s.maybePublish(false)
	}
	var nalus [][]byte
	if tag.Codec == videoAV1 {
		nalus, err = splitOBUs(tag.Payload)
		if err == nil && t.codec == nil && t.vcodec == videoAV1 {
			if sh := findAV1SequenceHeader(nalus); sh != nil {
				s.setCodec(t, stream.AV1{SequenceHeader: sh})
			}
		}
	}
	if t.codec == nil {
		s.warnOnce("video_before_config", "rtmp video before its sequence header dropped")
		return nil
	}
	if tag.Codec != t.vcodec {
		s.warnOnce("video_codec_mismatch", "rtmp video frame of another codec than its sequence header dropped",
			"frame_codec", tag.Codec.String(), "codec", t.vcodec.String())
		return nil
	}
	if tag.Codec != videoAV1 {
		nalus, err = splitLengthPrefixed(tag.Payload, t.lengthSize)
	}
	if err != nil {
		s.warnOnce("video_frame", "rtmp malformed video frame dropped", "error", err)
		return nil
	}
	key := tag.Key
	if !key {
		switch tag.Codec {
		case videoH264:
			key = h264.IsRandomAccess(nalus)
		case videoH265:
			key = h265.IsRandomAccess(nalus)
		case videoAV1:
			key = av1.IsRandomAccess2(nalus)
		}
	}
	ms, disc, err := s.convert(slotVideo, ts)
	if err != nil {
		return err
	}
	return s.emit(t, &stream.Unit{
		DTS:           time.Duration(ms) * time.Millisecond,
		PTS:           time.Duration(ms+int64(tag.CTS)) * time.Millisecond,
		Wall:          wall,
		Key:           key,
		NALUs:         nalus,
		Discontinuity: disc,
	})
}

func (s *session) videoConfig(tag videoTag) {
	t := &s.video
	var c stream.Codec
	var err error
	lengthSize := 0
	switch tag.Codec {
	case videoH264:
		c, lengthSize, err = parseAVCConfig(tag.Payload)
	case videoH265:
		c, lengthSize, err = parseHEVCConfig(tag.Payload)
	case videoAV1:
		var sh []byte
		sh, err = parseAV1Config(tag.Payload)
		if err == nil && sh == nil {
			t.vcodec = videoAV1 // the sequence header comes with the first key frame
			return
		}
		c = stream.AV1{SequenceHeader: sh}
	}
	if err != nil {
		s.warnOnce("video_config", "rtmp bad video sequence header ignored", "codec", tag.Codec.String(), "error", err)
		return
	}
	s.setCodec(t, c)
	t.vcodec, t.lengthSize = tag.Codec, lengthSize
}

func (s *session) onAudio(ts uint32, b []byte, wall time.Time) error {
	tag, err := parseAudioTag(b)
	if err != nil {
		s.warnOnce("audio_tag:"+err.Error(), "rtmp audio tag dropped", "error", err)
		return nil
	}
	t := &s.audio
	switch tag.Kind {
	case tagIgnore:
		return nil
	case tagConfig:
		var c stream.Codec
		switch tag.Codec {
		case audioAAC:
			c, err = parseAACConfig(tag.Payload)
		case audioOpus:
			c, err = parseOpusHead(tag.Payload)
		}
		if err != nil {
			s.warnOnce("audio_config", "rtmp bad audio sequence header ignored", "codec", tag.Codec.String(), "error", err)
			return nil
		}
		s.setCodec(t, c)
		t.acodec = tag.Codec
		return s.maybePublish(false)
	}
	if t.codec == nil {
		s.warnOnce("audio_before_config", "rtmp audio before its sequence header dropped")
		return nil
	}
	if tag.Codec != t.acodec || len(tag.Payload) == 0 {
		s.warnOnce("audio_frame", "rtmp audio frame dropped", "frame_codec", tag.Codec.String(), "bytes", len(tag.Payload))
		return nil
	}
	ms, disc, err := s.convert(slotAudio, ts)
	if err != nil {
		return err
	}
	d := time.Duration(ms) * time.Millisecond
	return s.emit(t, &stream.Unit{DTS: d, PTS: d, Wall: wall, Key: true, Data: tag.Payload, Discontinuity: disc})
}

// convert maps an RTMP timestamp onto the session's timeline and closes the
// connection when the publisher's timestamps keep jumping.
func (s *session) convert(slot int, ts uint32) (int64, bool, error) {
	before := s.tl.rebases
	ms, disc := s.tl.convert(slot, ts)
	if s.tl.rebases == before {
		return ms, disc, nil
	}
	now := time.Now()
	s.log.Info("rtmp timestamp discontinuity", "slot", slot, "rtmp_timestamp", ts)
	keep := s.rebases[:0]
	for _, t := range s.rebases {
		if now.Sub(t) < absurdWindow {
			keep = append(keep, t)
		}
	}
	s.rebases = append(keep, now)
	if len(s.rebases) >= absurdRebases {
		return 0, false, fmt.Errorf("%w: absurd timestamps (%d discontinuities within %s)", ErrProtocol, len(s.rebases), absurdWindow)
	}
	return ms, disc, nil
}

// emit writes u of track t, or queues it while the tracks are undecided.
func (s *session) emit(t *trackState, u *stream.Unit) error {
	if t.changed {
		u.Codec = t.codec
		t.changed = false
	}
	if t.first == nil {
		t.first = t.codec
	}
	if s.pub == nil {
		s.pending = append(s.pending, pendingUnit{t: t, u: u})
		return s.maybePublish(len(s.pending) >= maxPendingUnits)
	}
	if t.index < 0 {
		s.warnOnce("late_track_"+t.kind.String(), "rtmp track that appeared after the stream started dropped", "kind", t.kind.String())
		return nil
	}
	s.write(t, u)
	return nil
}

func (s *session) write(t *trackState, u *stream.Unit) {
	u.Track = t.index
	s.pub.Write(u)
	s.units++
	s.c.im.Received(t.kind, u.Size(), u.Key)
}

// maybePublish publishes the stream once its tracks are known: the codecs
// onMetaData announced all have sequence headers, or (without onMetaData)
// both audio and video have, or TrackWait passed with at least one, or the
// queue of early units is full.
func (s *session) maybePublish(force bool) error {
	if s.pub != nil {
		return nil
	}
	haveV, haveA := s.video.codec != nil, s.audio.codec != nil
	waited := time.Since(s.started)
	if !haveV && !haveA {
		if waited > s.c.s.cfg.HandshakeTimeout {
			return fmt.Errorf("%w: no supported audio or video within %s", ErrProtocol, s.c.s.cfg.HandshakeTimeout)
		}
		return nil
	}
	ready := haveV && haveA
	if s.meta.Known {
		ready = (!s.meta.Video || haveV) && (!s.meta.Audio || haveA)
	}
	if !ready && !force && waited < s.c.s.cfg.TrackWait {
		return nil
	}
	return s.publish()
}

func (s *session) publish() error {
	var tracks []stream.Track
	var names []string
	for _, t := range []*trackState{&s.video, &s.audio} {
		c := t.first
		if c == nil {
			c = t.codec
		}
		if c == nil {
			t.index = -1
			continue
		}
		t.index = len(tracks)
		tracks = append(tracks, stream.Track{Codec: c})
		names = append(names, c.Name())
	}
	cfg := &s.c.s.cfg
	pub, err := cfg.Hub.PublishSession(s.live.ID, tracks, cfg.Takeover,
		stream.SessionInfo{Protocol: s.c.s.protocol, Remote: s.c.remote, ReconnectWindow: s.live.ReconnectWindow})
	if err != nil {
		reason := reasonUnavailable
		code := message.NetStreamOnStatusCodePublishFailed
		if errors.Is(err, stream.ErrBusy) {
			reason, code = reasonBusy, message.NetStreamOnStatusCodePublishBadName
		}
		s.h.sendStatus(code, "Publish failed: "+err.Error())
		return s.h.reject(reason, err)
	}
	s.pub = pub
	s.c.pubCh <- pub
	cfg.Metrics.SessionOpened(s.c.s.protocol, s.live.ID)
	s.log.Info("rtmp stream started", "tracks", names, "waited", time.Since(s.started).Round(time.Millisecond))
	for _, p := range s.pending {
		s.write(p.t, p.u)
	}
	s.pending = nil
	return nil
}

// close ends the publish normally: the stream waits for a reconnect.
func (s *session) close() {
	s.pending = nil
	if s.pub == nil {
		return
	}
	s.pub.Close()
	s.c.s.cfg.Metrics.SessionClosed(s.c.s.protocol, s.live.ID)
}
