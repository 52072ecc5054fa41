package whip

import (
	"errors"
	"strings"
	"testing"
)

func TestParseOffer(t *testing.T) {
	h265Only := strings.NewReplacer(
		"a=rtpmap:102 H264/90000", "a=rtpmap:102 H265/90000",
		"a=rtpmap:103 H264/90000", "a=rtpmap:103 VP9/90000",
		"a=rtpmap:45 AV1/90000\r\n", "").Replace(minimalOffer)
	av1Only := strings.NewReplacer(
		"a=rtpmap:102 H264/90000", "a=rtpmap:102 VP9/90000",
		"a=rtpmap:103 H264/90000", "a=rtpmap:103 VP9/90000").Replace(minimalOffer)
	mode0Only := strings.Replace(minimalOffer, "packetization-mode=1", "packetization-mode=0", 1)
	noOpus := strings.Replace(minimalOffer, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 ISAC/16000", 1)
	audioOnly := minimalOffer[:strings.Index(minimalOffer, "m=video")]
	pcmuOnly := strings.Replace(audioOnly, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 PCMA/8000", 1)
	vp9Only := strings.NewReplacer("a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000").Replace(vp8Offer)
	tests := []struct {
		name      string
		sdp       string
		video     string
		videoPT   uint8
		audio     bool
		err       error
		errSubstr string
	}{
		{"chrome-like h264+opus", minimalOffer, mimeH264, 102, true, nil, ""},
		{"h265 preferred over vp9", h265Only, mimeH265, 102, true, nil, ""},
		{"av1 when nothing else", av1Only, mimeAV1, 45, true, nil, ""},
		{"vp8/vp9 only", vp8Offer, "", 0, false, errNoAcceptableCodec, "offered opus, pcmu, vp8, vp9"},
		{"vp8/vp9 only: says to enable transcoding", vp8Offer, "", 0, false, errNoAcceptableCodec, "enable transcoding or send h264"},
		{"vp8 when transcoded", vp8Offer, mimeVP8, 96, true, nil, "vp8"},
		{"h264 preferred over vp8 when transcoded", minimalOffer, mimeH264, 102, true, nil, "vp8"},
		{"vp9 when transcoded", vp9Only, mimeVP9, 96, true, nil, "vp8"},
		{"vp9 refused when not transcoded", vp9Only, "", 0, false, errNoAcceptableCodec, "enable transcoding or send h264"},
		{"vp9 profile 0 preferred", strings.Replace(vp9Only, "a=rtpmap:96 VP9/90000\r\n", "a=rtpmap:96 VP9/90000\r\na=fmtp:96 profile-id=2\r\n", 1), mimeVP9, 98, true, nil, "vp8"},
		{"h264 mode 0 only", mode0Only[:strings.Index(mode0Only, "a=rtpmap:45")], "", 0, false, errNoAcceptableCodec, "h264"},
		{"no opus: video only", noOpus, mimeH264, 102, false, nil, ""},
		{"audio only", audioOnly, "", 0, true, nil, ""},
		{"pcma only", pcmuOnly, "", 0, false, errNoAcceptableCodec, "pcma"},
		{"empty", "", "", 0, false, errMalformedOffer, "v=0"},
		{"not sdp", "hello world", "", 0, false, errMalformedOffer, ""},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "", 0, false, errMalformedOffer, "no media"},
		{"bad payload type", strings.Replace(minimalOffer, "SAVPF 111 0", "SAVPF abc", 1), "", 0, false, errMalformedOffer, "payload type"},
		{"too large", minimalOffer + strings.Repeat("a=x\r\n", maxOfferSize/5), "", 0, false, errMalformedOffer, "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// errSubstr "vp8" on a success case: VP8/VP9 allowed (transcoded input)
			allowVPX := tt.errSubstr == "vp8"
			plan, err := parseOffer(tt.sdp, allowVPX)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.video == "" {
				if plan.Video != nil {
					t.Fatalf("video %+v, want none", plan.Video)
				}
			} else if plan.Video == nil || plan.Video.Mime != tt.video || plan.Video.PayloadType != tt.videoPT {
				t.Fatalf("video %+v, want %s pt %d", plan.Video, tt.video, tt.videoPT)
			}
			if (plan.Audio != nil) != tt.audio {
				t.Fatalf("audio %+v, want %v", plan.Audio, tt.audio)
			}
		})
	}
}
