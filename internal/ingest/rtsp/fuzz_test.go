package rtsp

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/sdp"
	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// FuzzParsePath: the publish path parser never panics, accepts only
// /live/KEY with a key free of separators, and redaction hides that key.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"live/abc", "/live/abc/", "live/", "live/a/b", "other/abc", "", "/live/k?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		key, err := parsePath(p)
		if err != nil {
			return
		}
		if key == "" || strings.ContainsAny(key, "/?# ") || len(key) > maxKeyLen {
			t.Fatalf("parsePath(%q) = %q", p, key)
		}
		if r := redactPath("rtsp://h/live/" + key + " x"); r != "rtsp://h/live/*** x" {
			t.Fatalf("redactPath kept %q: %q", key, r)
		}
	})
}

// parseSDP is what the RTSP library does with an ANNOUNCE body or a
// DESCRIBE answer before planTracks sees it.
func parseSDP(b []byte) (*description.Session, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, err
	}
	var d description.Session
	if err := d.Unmarshal(&sd); err != nil {
		return nil, err
	}
	return &d, nil
}

// FuzzPlanTracks: any session description the library parses gets a plan
// or a reason, never a panic; a plan always has a track, and a feeder can be
// built for it.
func FuzzPlanTracks(f *testing.F) {
	f.Add([]byte(h264SDP))
	f.Add([]byte(mjpegSDP))
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 8\r\n"))
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > MaxSDPSize {
			return
		}
		d, err := parseSDP(b)
		if err != nil {
			return
		}
		p, err := planTracks(d)
		if err != nil {
			return
		}
		if p.video == nil && p.audio == nil {
			t.Fatal("plan without tracks")
		}
		_, _ = newFeeder(p, func([]stream.Track) (*stream.Publisher, error) { return nil, errFuzzNoPublish },
			&counters{}, ingest.NopMetrics{}, ProtocolRTSP, "fuzz", slog.New(slog.DiscardHandler))
	})
}

var errFuzzNoPublish = errors.New("fuzz: no publish")

// noNTP is an ntpSource without sender reports.
type noNTP struct{}

func (noNTP) PacketNTP(*description.Media, *rtp.Packet) (time.Time, bool) { return time.Time{}, false }

// FuzzFeeder feeds RTP packets cut from the input (2-byte length, then
// marker/track byte, then payload) into the H.264+AAC feeder over a real
// hub: no panic, and every unit written has non-decreasing DTS per track.
func FuzzFeeder(f *testing.F) {
	f.Add([]byte{0, 3, 0x80, 0x65, 0x88, 0x84})
	f.Add([]byte{0, 10, 0x80, 0x7c, 0x85, 0x88, 0x84, 0, 0, 0, 0, 0, 0, 4, 0x81, 0x7c, 0x45, 0x01})
	f.Add([]byte{0, 6, 0x01, 0x00, 0x10, 0x00, 0x08, 0x21, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseSDP([]byte(h264SDP))
		if err != nil {
			t.Fatal(err)
		}
		p, err := planTracks(d)
		if err != nil {
			t.Fatal(err)
		}
		hub := stream.NewHub(stream.HubConfig{})
		defer hub.Close()
		var pub *stream.Publisher
		fd, err := newFeeder(p, func(tr []stream.Track) (*stream.Publisher, error) {
			var err error
			pub, err = hub.Publish("fuzz", tr, false)
			return pub, err
		}, &counters{}, ingest.NopMetrics{}, ProtocolRTSP, "fuzz", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1e9, 0)
		var seq [2]uint16
		var ts [2]uint32
		for len(data) >= 3 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			flags := data[0]
			data = data[1:]
			n = min(n, len(data))
			payload := data[:n]
			data = data[n:]
			tr := int(flags & 1)
			seq[tr] += uint16(1 + flags>>6) // sometimes a gap
			ts[tr] += uint32(flags>>1&7) * 1500
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: flags&0x10 != 0, SequenceNumber: seq[tr], Timestamp: ts[tr], SSRC: uint32(1 + flags>>5&1)}, Payload: payload}
			medi := p.video.media
			pkt.PayloadType = 96
			if tr == 1 {
				medi, pkt.PayloadType = p.audio.media, 97
			}
			now = now.Add(10 * time.Millisecond)
			_ = fd.packet(noNTP{}, medi, pkt, now)
		}
		if pub != nil {
			pub.Close()
		}
	})
}
