// Package whiptest is a WHIP (RFC 9725) publisher for tests, built with
// pion: it sends H.264 (from an Annex-B file) and Opus (packets of an Ogg
// Opus file) to a WHIP endpoint, paced in real time.
package whiptest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/mpegflow/mpegflow/internal/webrtcice/webrtctest"
)

// StatusError is a WHIP request answered with an unexpected HTTP status.
type StatusError = webrtctest.StatusError

// Options select what the offer contains.
type Options struct {
	// Video is the offered video codec: "h264" (default, packetization-mode
	// 1, constrained baseline), "vp8", "vp9" (profile 0), "av1" (frames
	// are temporal units in the low overhead format, as ReadIVF returns
	// them), or "" with NoVideo.
	Video   string
	NoVideo bool
	// NoAudio leaves Opus out of the offer.
	NoAudio bool
}

// Session is one WHIP publish.
type Session struct {
	// URL is the absolute session URL (the Location of the 201 answer).
	URL string
	// ETag is the ETag of the 201 answer.
	ETag string

	bearer string
	pc     *webrtc.PeerConnection
	video  *webrtc.TrackLocalStaticSample
	audio  *webrtc.TrackLocalStaticSample
	conn   chan struct{}
	connO  sync.Once
	wg     sync.WaitGroup
	plis   atomic.Int64
	close  sync.Once
}

// PLIs is the number of picture loss indications the server sent.
func (s *Session) PLIs() int64 { return s.plis.Load() }

// Dial negotiates a session with the WHIP endpoint (POST with the offer,
// gathering complete: no trickle). A non-201 answer is a *StatusError.
func Dial(ctx context.Context, endpoint, bearer string, o Options) (*Session, error) {
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	var codecs []webrtctest.Codec
	var videoCap webrtc.RTPCodecCapability
	if !o.NoVideo {
		var pt webrtc.PayloadType
		switch strings.ToLower(o.Video) {
		case "", "h264":
			videoCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}
			pt = 102
		case "vp8":
			videoCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}
			pt = 96
		case "vp9":
			videoCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb}
			pt = 98
		case "av1":
			videoCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: fb}
			pt = 45
		default:
			return nil, fmt.Errorf("whiptest: unknown video codec %q", o.Video)
		}
		codecs = append(codecs, webrtctest.Codec{Kind: webrtc.RTPCodecTypeVideo, Params: webrtc.RTPCodecParameters{RTPCodecCapability: videoCap, PayloadType: pt}})
	}
	audioCap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	if !o.NoAudio {
		codecs = append(codecs, webrtctest.Codec{Kind: webrtc.RTPCodecTypeAudio, Params: webrtc.RTPCodecParameters{RTPCodecCapability: audioCap, PayloadType: 111}})
	}
	pc, err := webrtctest.NewPeerConnection(codecs, false)
	if err != nil {
		return nil, err
	}
	s := &Session{bearer: bearer, pc: pc, conn: make(chan struct{})}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			s.connO.Do(func() { close(s.conn) })
		}
	})
	fail := func(err error) (*Session, error) {
		_ = s.Close()
		return nil, err
	}
	addTrack := func(c webrtc.RTPCodecCapability, id string) (*webrtc.TrackLocalStaticSample, error) {
		tr, err := webrtc.NewTrackLocalStaticSample(c, id, "whiptest")
		if err != nil {
			return nil, err
		}
		tx, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				pkts, _, err := tx.Sender().ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						s.plis.Add(1)
					}
				}
			}
		}()
		return tr, nil
	}
	if !o.NoVideo {
		if s.video, err = addTrack(videoCap, "video"); err != nil {
			return fail(err)
		}
	}
	if !o.NoAudio {
		if s.audio, err = addTrack(audioCap, "audio"); err != nil {
			return fail(err)
		}
	}
	a, err := webrtctest.Offer(ctx, pc, "whip", endpoint, bearer)
	if err != nil {
		return fail(err)
	}
	s.URL, s.ETag = a.URL, a.ETag
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
		return fail(fmt.Errorf("whiptest: answer: %w", err))
	}
	return s, nil
}

// Post sends one WHIP request with a body and returns the response (body
// already read and closed) and its body.
func Post(ctx context.Context, endpoint, bearer, contentType, body string) (*http.Response, string, error) {
	return do(ctx, http.MethodPost, endpoint, bearer, contentType, body)
}

func do(ctx context.Context, method, u, bearer, contentType, body string) (*http.Response, string, error) {
	return webrtctest.Do(ctx, method, u, bearer, contentType, body)
}

// WaitConnected waits until ICE and DTLS are up.
func (s *Session) WaitConnected(ctx context.Context) error {
	select {
	case <-s.conn:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("whiptest: not connected: %w", ctx.Err())
	}
}

// Stream waits for the connection and sends the H.264 access units of
// h264AnnexB at fps and the Opus packets (20 ms each unless their TOC says
// otherwise) concurrently, paced in real time, once. Either may be empty.
func (s *Session) Stream(ctx context.Context, h264AnnexB []byte, fps int, opus [][]byte) error {
	var aus [][]byte
	if len(h264AnnexB) > 0 {
		aus = SplitAccessUnits(h264AnnexB)
	}
	return s.StreamFrames(ctx, aus, fps, opus)
}

// StreamFrames is Stream with the video given as frames of the offered
// codec (H.264 access units in Annex B, or VP8/VP9 frames, see ReadIVF).
func (s *Session) StreamFrames(ctx context.Context, frames [][]byte, fps int, opus [][]byte) error {
	if err := s.WaitConnected(ctx); err != nil {
		return err
	}
	if fps <= 0 {
		fps = 30
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	if s.video != nil && len(frames) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[0] = pace(ctx, time.Second/time.Duration(fps), len(frames), func(i int) (time.Duration, error) {
				d := time.Second / time.Duration(fps)
				return d, s.video.WriteSample(media.Sample{Data: frames[i], Duration: d})
			})
		}()
	}
	if s.audio != nil && len(opus) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[1] = pace(ctx, 20*time.Millisecond, len(opus), func(i int) (time.Duration, error) {
				d := OpusDuration(opus[i])
				return d, s.audio.WriteSample(media.Sample{Data: opus[i], Duration: d})
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pace calls send for 0..n-1, each at the sum of the previous durations.
func pace(ctx context.Context, _ time.Duration, n int, send func(i int) (time.Duration, error)) error {
	start := time.Now()
	var at time.Duration
	for i := range n {
		if wait := time.Until(start.Add(at)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		d, err := send(i)
		if err != nil {
			return err
		}
		at += d
	}
	return nil
}

// Delete ends the session with DELETE on its URL (RFC 9725 §4.2).
func (s *Session) Delete(ctx context.Context) error {
	resp, body, err := do(ctx, http.MethodDelete, s.URL, s.bearer, "", "")
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Protocol: "whip", Code: resp.StatusCode, Body: body}
	}
	return nil
}

// Close closes the PeerConnection and waits for the session's goroutines.
// Idempotent.
func (s *Session) Close() error {
	var err error
	s.close.Do(func() {
		err = s.pc.Close()
		s.wg.Wait()
	})
	return err
}

// Publish dials endpoint and streams the media once (see Session.Stream).
// The session stays open: Delete and Close it.
func Publish(ctx context.Context, endpoint, bearer string, h264AnnexB []byte, fps int, opusPackets [][]byte) (*Session, error) {
	s, err := Dial(ctx, endpoint, bearer, Options{NoAudio: len(opusPackets) == 0})
	if err != nil {
		return nil, err
	}
	if err := s.Stream(ctx, h264AnnexB, fps, opusPackets); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// OpusDuration is the duration of an Opus packet from its TOC byte
// (RFC 6716 §3.1); 20 ms when unparseable.
func OpusDuration(p []byte) time.Duration {
	if len(p) == 0 {
		return 20 * time.Millisecond
	}
	cfg := int(p[0] >> 3)
	var us int
	switch {
	case cfg < 12:
		us = [4]int{10000, 20000, 40000, 60000}[cfg%4]
	case cfg < 16:
		us = [2]int{10000, 20000}[cfg%2]
	default:
		us = [4]int{2500, 5000, 10000, 20000}[cfg%4]
	}
	frames := 1
	switch p[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) > 1 {
			frames = int(p[1] & 0x3f)
		}
	}
	return time.Duration(us*frames) * time.Microsecond
}

// SplitAccessUnits splits an H.264 Annex-B stream (ITU-T H.264 Annex B) into
// access units, each an Annex-B byte string. A new access unit starts at an
// AUD, SPS, PPS or SEI after a slice, or at a slice with first_mb_in_slice 0
// after a slice (§7.4.1.2.3).
func SplitAccessUnits(b []byte) [][]byte {
	var aus [][]byte
	var cur []byte
	hasVCL := false
	for _, n := range splitAnnexB(b) {
		if len(n) == 0 {
			continue
		}
		t := n[0] & 0x1f
		newAU := false
		switch {
		case t == 9 || t == 7 || t == 8 || t == 6:
			newAU = hasVCL
		case t == 1 || t == 5:
			newAU = hasVCL && len(n) > 1 && n[1]&0x80 != 0
		}
		if newAU {
			aus = append(aus, cur)
			cur, hasVCL = nil, false
		}
		cur = append(cur, 0, 0, 0, 1)
		cur = append(cur, n...)
		if t == 1 || t == 5 {
			hasVCL = true
		}
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// ReadOggOpus returns the audio packets of an Ogg Opus file (RFC 7845,
// RFC 3533), without the OpusHead and OpusTags headers, for a single
// logical stream.
func ReadOggOpus(b []byte) ([][]byte, error) {
	var packets [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, errors.New("whiptest: not an ogg page")
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, errors.New("whiptest: short ogg page")
		}
		lacing := b[27 : 27+nseg]
		data := b[27+nseg:]
		_ = binary.LittleEndian.Uint64(b[6:])
		used := 0
		for _, l := range lacing {
			if used+int(l) > len(data) {
				return nil, errors.New("whiptest: short ogg page data")
			}
			cur = append(cur, data[used:used+int(l)]...)
			used += int(l)
			if l < 255 {
				packets = append(packets, cur)
				cur = nil
			}
		}
		b = data[used:]
	}
	if len(packets) < 2 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) {
		return nil, errors.New("whiptest: no OpusHead")
	}
	return packets[2:], nil
}
