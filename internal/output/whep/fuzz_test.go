package whep

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// FuzzParseOffer feeds arbitrary SDP to the offer parser: it must return a
// plan or an error, never panic, and a plan always carries a track.
func FuzzParseOffer(f *testing.F) {
	f.Add(chromeLikeOffer)
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
	f.Add("v=0\r\n")
	tracks := []stream.Track{{Codec: stream.H264{SPS: []byte{0x67, 0x42, 0xc0, 0x1f}}}, {Codec: stream.Opus{ChannelCount: 2}}}
	f.Fuzz(func(t *testing.T, sdp string) {
		plan, err := parseOffer(sdp, tracks)
		if err == nil && plan.Video == nil && plan.Audio == nil {
			t.Fatal("plan without tracks")
		}
	})
}
