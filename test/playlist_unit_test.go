package e2e

import (
	"strings"
	"testing"
)

const sampleLive = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,HOLD-BACK=6,CAN-SKIP-UNTIL=12
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.000Z
#EXTINF:2.000,
seg7.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:07.000Z
#EXT-X-PART:DURATION=0.2,URI="part8.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="part8.1.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.2.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.3.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.4.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.5.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.6.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.7.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.8.mp4"
#EXT-X-PART:DURATION=0.2,URI="part8.9.mp4"
#EXTINF:2.000,
seg8.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.000Z
#EXT-X-PART:DURATION=0.2,URI="part9.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.1,URI="part9.1.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part9.2.mp4"
#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=8,LAST-PART=1
`

func TestParseAttrs(t *testing.T) {
	tests := []struct {
		in   string
		want attrs
		err  bool
	}{
		{`A=1,B="x,y",C=avc1`, attrs{"A": "1", "B": "x,y", "C": "avc1"}, false},
		{`CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360`, attrs{"CODECS": "avc1.64001f,mp4a.40.2", "RESOLUTION": "640x360"}, false},
		{`A="unterminated`, nil, true},
		{`A=1,A=2`, nil, true},
		{`novalue`, nil, true},
		{`A="x"junk`, nil, true},
		{``, attrs{}, false},
	}
	for _, tc := range tests {
		got, err := parseAttrs(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestParsePlaylistLive(t *testing.T) {
	p, err := parsePlaylist(sampleLive)
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != 2 || p.MediaSeq != 7 || p.PartTarget != 0.2 || len(p.Segments) != 2 {
		t.Fatalf("header: %+v", p)
	}
	if p.Segments[1].MSN != 8 || len(p.Segments[1].Parts) != 10 || p.Segments[1].URI != "seg8.mp4" || p.Segments[1].Map != "init.mp4" {
		t.Errorf("segment 8: %+v", p.Segments[1])
	}
	if p.Pending.MSN != 9 || len(p.Pending.Parts) != 2 || p.Pending.PDT.IsZero() {
		t.Errorf("pending: %+v", p.Pending)
	}
	if msn, pt := p.nextPart(); msn != 9 || pt != 2 {
		t.Errorf("nextPart = %d.%d, want 9.2", msn, pt)
	}
	if len(p.Hints) != 1 || p.Hints[0]["URI"] != "part9.2.mp4" || len(p.Reports) != 1 || p.Reports[0]["LAST-MSN"] != "8" {
		t.Errorf("hints %v reports %v", p.Hints, p.Reports)
	}
	if v := checkLLHLS(p, true); len(v) != 0 {
		t.Errorf("valid playlist reported: %v", v)
	}
}

func TestCheckLLHLSFindsViolations(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"part too long", `DURATION=0.2,URI="part8.3.mp4"`, `DURATION=0.25,URI="part8.3.mp4"`, "> PART-TARGET"},
		{"part too short", `DURATION=0.2,URI="part8.3.mp4"`, `DURATION=0.1,URI="part8.3.mp4"`, "< 85%"},
		{"part hold back", "PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.5", "PART-HOLD-BACK"},
		{"hold back", "HOLD-BACK=6,", "HOLD-BACK=5,", "HOLD-BACK 5.000"},
		{"can skip", "CAN-SKIP-UNTIL=12", "CAN-SKIP-UNTIL=11", "CAN-SKIP-UNTIL"},
		{"no blocking", "CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO", "CAN-BLOCK-RELOAD"},
		{"no hint", `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part9.2.mp4"`, ``, "PRELOAD-HINT"},
		{"no pdt", "#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05.000Z\n", "", "no EXT-X-PROGRAM-DATE-TIME"},
		{"pdt after part", "#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.000Z\n#EXT-X-PART:DURATION=0.2,URI=\"part9.0.mp4\",INDEPENDENT=YES\n",
			"#EXT-X-PART:DURATION=0.2,URI=\"part9.0.mp4\",INDEPENDENT=YES\n#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.000Z\n", "after the segment's first EXT-X-PART"},
		{"not independent", `URI="part8.0.mp4",INDEPENDENT=YES`, `URI="part8.0.mp4"`, "INDEPENDENT=YES"},
		{"extinf", "#EXTINF:2.000,\nseg7.mp4", "#EXTINF:2.6,\nseg7.mp4", "rounds above"},
		{"no part-inf", "#EXT-X-PART-INF:PART-TARGET=0.2\n", "", "EXT-X-PART-INF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(sampleLive, tc.from, tc.to, 1)
			if body == sampleLive {
				t.Fatalf("replacement %q not found", tc.from)
			}
			if tc.name == "not independent" {
				// only a playlist declaring every segment independent
				// must start each on an INDEPENDENT=YES part
				body = strings.Replace(body, "#EXTM3U\n", "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n", 1)
			}
			p, err := parsePlaylist(body)
			if err != nil {
				t.Fatal(err)
			}
			v := checkLLHLS(p, true)
			if !strings.Contains(strings.Join(v, "\n"), tc.want) {
				t.Errorf("want a violation containing %q, got %q", tc.want, v)
			}
		})
	}
}

func TestParsePlaylistEnded(t *testing.T) {
	body := strings.Replace(sampleLive, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part9.2.mp4"`, "", 1) + "#EXT-X-ENDLIST\n"
	p, err := parsePlaylist(body)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Endlist {
		t.Fatal("no ENDLIST")
	}
	if v := checkLLHLS(p, false); len(v) != 0 {
		t.Errorf("%v", v)
	}
	p2, _ := parsePlaylist(sampleLive + "#EXT-X-ENDLIST\n")
	if v := checkLLHLS(p2, false); !strings.Contains(strings.Join(v, ""), "still has EXT-X-PRELOAD-HINT") {
		t.Errorf("hint after ENDLIST not reported: %v", v)
	}
}

func TestParseMultivariant(t *testing.T) {
	p, err := parsePlaylist(`#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="main",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="aud"
video/index.m3u8
`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Multi || len(p.Variants) != 1 || p.Variants[0].URI != "video/index.m3u8" || p.Variants[0].Attrs["RESOLUTION"] != "640x360" || len(p.Media) != 1 {
		t.Fatalf("%+v", p)
	}
	if v := checkMultivariant(p); len(v) != 0 {
		t.Error(v)
	}
	if got := resolve("http://h/live/x/index.m3u8?tok=1", "video/index.m3u8"); got != "http://h/live/x/video/index.m3u8" {
		t.Errorf("resolve: %s", got)
	}
}

func TestParsePlaylistErrors(t *testing.T) {
	for _, in := range []string{"", "#EXTM3\n", "#EXTM3U\nseg.mp4\n", "#EXTM3U\n#EXTINF:x,\nseg\n", "#EXTM3U\n#EXTINF:1,\n", "#EXTM3U\n#EXT-X-PART:URI=\"a\"\n"} {
		if _, err := parsePlaylist(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseDeltaPlaylist(t *testing.T) {
	p, err := parsePlaylist(`#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SKIP:SKIPPED-SEGMENTS=5
#EXTINF:2,
s15.mp4
`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Segments[0].MSN != 15 || p.lastMSN() != 15 {
		t.Errorf("msn %d last %d", p.Segments[0].MSN, p.lastMSN())
	}
}
