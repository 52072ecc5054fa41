// Package wheptest is a WHEP (draft-ietf-wish-whep) player for tests and
// the load tool, built with pion: it offers to receive H.264 video and
// Opus audio, and counts the frames and packets it gets.
package wheptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/mpegflow/mpegflow/internal/webrtcice/webrtctest"
)

// StatusError is a WHEP request answered with an unexpected HTTP status.
type StatusError = webrtctest.StatusError

// Options configure Dial.
type Options struct {
	// Token is sent as "Authorization: Bearer" when set.
	Token string
	// NoAudio leaves the audio section out of the offer.
	NoAudio bool
	// VideoCodec is the only video codec offered: "h264" (default) or "vp8".
	VideoCodec string
	// SkipConnect returns right after the answer without applying it, so
	// the session never connects (the server reaps it).
	SkipConnect bool
	// Offer, when set, receives the SDP offer sent.
	Offer *string
	// TCP gathers ICE-TCP candidates only (RFC 6544), as a client whose
	// network blocks UDP.
	TCP bool
	// H264, when set, receives the H.264 video from its first key frame
	// on as an Annex-B stream (ITU-T H.264 Annex B), for a decoder to
	// check. Written from one goroutine; Close returns after the last write.
	H264 io.Writer
}

// Client is one WHEP session.
type Client struct {
	// URL is the session resource (the Location of the 201).
	URL string

	pc     *webrtc.PeerConnection
	token  string
	h264   io.Writer
	start  time.Time
	wg     sync.WaitGroup
	once   sync.Once
	first  chan struct{} // closed at the first complete key frame
	firstO sync.Once

	videoFrames, keyFrames, audioPackets atomic.Int64
	firstAt                              atomic.Int64 // ns after Dial's start
	videoSSRC                            atomic.Uint32
}

// Dial offers to receive and negotiates a session (gathering complete: no
// trickle). A non-201 answer is a *StatusError.
func Dial(ctx context.Context, endpoint string, o Options) (*Client, error) {
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	vc := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102}
	if o.VideoCodec == "vp8" {
		vc = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}
	}
	codecs := []webrtctest.Codec{{Kind: webrtc.RTPCodecTypeVideo, Params: vc}}
	if !o.NoAudio {
		codecs = append(codecs, webrtctest.Codec{Kind: webrtc.RTPCodecTypeAudio, Params: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}})
	}
	pc, err := webrtctest.NewPeerConnection(codecs, o.TCP)
	if err != nil {
		return nil, err
	}
	c := &Client{pc: pc, token: o.Token, h264: o.H264, start: time.Now(), first: make(chan struct{})}
	fail := func(err error) (*Client, error) {
		_ = pc.Close()
		c.wg.Wait()
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.read(tr)
		}()
	})
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recv); err != nil {
		return fail(err)
	}
	if !o.NoAudio {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recv); err != nil {
			return fail(err)
		}
	}
	a, err := webrtctest.Offer(ctx, pc, "whep", endpoint, o.Token)
	if o.Offer != nil && pc.LocalDescription() != nil {
		*o.Offer = pc.LocalDescription().SDP
	}
	if err != nil {
		return fail(err)
	}
	c.URL = a.URL
	if o.SkipConnect {
		return c, nil
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP}); err != nil {
		return fail(fmt.Errorf("wheptest: answer: %w", err))
	}
	return c, nil
}

// read counts the frames of a remote track: video frames end at the RTP
// marker bit (RFC 6184 §5.1); a frame holding an IDR slice or an SPS is a
// key frame.
func (c *Client) read(tr *webrtc.TrackRemote) {
	video := tr.Kind() == webrtc.RTPCodecTypeVideo
	if video {
		c.videoSSRC.Store(uint32(tr.SSRC()))
	}
	key, writing := false, false
	buf := make([]byte, 1600)
	var p rtp.Packet
	var depack codecs.H264Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if !video {
			c.audioPackets.Add(1)
			continue
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		k := isKey(tr.Codec().MimeType, p.Payload)
		key = key || k
		if c.h264 != nil && strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeH264) {
			if writing = writing || k; writing {
				if nal, err := depack.Unmarshal(p.Payload); err == nil && len(nal) > 0 {
					_, _ = c.h264.Write(nal)
				}
			}
		}
		if !p.Marker {
			continue
		}
		c.videoFrames.Add(1)
		if key {
			c.keyFrames.Add(1)
			c.firstO.Do(func() {
				c.firstAt.Store(int64(time.Since(c.start)))
				close(c.first)
			})
		}
		key = false
	}
}

func isKey(mime string, pl []byte) bool {
	if len(pl) == 0 {
		return false
	}
	if strings.EqualFold(mime, webrtc.MimeTypeVP8) {
		// RFC 7741 §4.2/4.3: S bit and PID 0 mark the first partition;
		// the P bit of the payload header is 0 on key frames
		if pl[0]&0x10 == 0 {
			return false
		}
		i := 1
		if pl[0]&0x80 != 0 {
			i++
			if len(pl) > 1 && pl[1]&0x80 != 0 {
				i++
				if len(pl) > 2 && pl[2]&0x80 != 0 {
					i++
				}
			}
			if len(pl) > 1 && pl[1]&0x40 != 0 {
				i++
			}
			if len(pl) > 1 && (pl[1]&0x20 != 0 || pl[1]&0x10 != 0) {
				i++
			}
		}
		return i < len(pl) && pl[i]&0x01 == 0
	}
	switch t := pl[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A (RFC 6184 §5.7.1)
		for b := pl[1:]; len(b) > 2; {
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || 2+n > len(b) {
				break
			}
			if nt := b[2] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			b = b[2+n:]
		}
	case 28: // FU-A start (RFC 6184 §5.8)
		return len(pl) > 1 && pl[1]&0x80 != 0 && pl[1]&0x1f == 5
	}
	return false
}

// WaitKeyFrame waits for the first complete key frame and returns how long
// after Dial began it arrived (time to first frame).
func (c *Client) WaitKeyFrame(ctx context.Context) (time.Duration, error) {
	select {
	case <-c.first:
		return time.Duration(c.firstAt.Load()), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("wheptest: no key frame: %w", ctx.Err())
	}
}

// VideoFrames, KeyFrames and AudioPackets count what was received.
func (c *Client) VideoFrames() int64  { return c.videoFrames.Load() }
func (c *Client) KeyFrames() int64    { return c.keyFrames.Load() }
func (c *Client) AudioPackets() int64 { return c.audioPackets.Load() }

// SendPLI sends a Picture Loss Indication (RFC 4585 §6.3.1) for the video
// track, as a player whose decoder lost its reference pictures does.
func (c *Client) SendPLI() error {
	ssrc := c.videoSSRC.Load()
	if ssrc == 0 {
		return errors.New("wheptest: no video track yet")
	}
	return c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// ConnectionState is the PeerConnection's state.
func (c *Client) ConnectionState() webrtc.PeerConnectionState { return c.pc.ConnectionState() }

// Close sends DELETE to the session (when ctx allows) and closes the
// PeerConnection; idempotent. It returns the DELETE's error, if any.
func (c *Client) Close(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		if c.URL != "" && ctx != nil {
			var resp *http.Response
			var body string
			resp, body, err = Do(ctx, http.MethodDelete, c.URL, c.token, "", "")
			if err == nil && resp.StatusCode != http.StatusOK {
				err = &StatusError{Protocol: "whep", Code: resp.StatusCode, Body: body}
			}
		}
		err = errors.Join(err, c.pc.Close())
		c.wg.Wait()
	})
	return err
}

// Do sends one request with an optional bearer token and body; the
// response body is read and closed.
func Do(ctx context.Context, method, u, bearer, contentType, body string) (*http.Response, string, error) {
	return webrtctest.Do(ctx, method, u, bearer, contentType, body)
}
