package loadtest

import (
	"errors"
	"testing"
	"time"
)

const llPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=12.0
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:05.000Z
#EXTINF:2.000,
seg10.mp4
#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:07.000Z
#EXT-X-PART:DURATION=0.200,URI="part11.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.200,URI="part11.1.mp4"
#EXTINF:0.400,
seg11.mp4
#EXT-X-PART:DURATION=0.2,URI="part12.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="part12.1.mp4",BYTERANGE="1000@200"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part12.2.mp4"
#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=12,LAST-PART=1
`

func TestParseLLPlaylist(t *testing.T) {
	pl, err := ParsePlaylist([]byte(llPlaylist))
	if err != nil {
		t.Fatal(err)
	}
	if pl.TargetDuration != 2 || pl.MediaSequence != 10 || pl.PartTarget != 0.2 || !pl.CanBlockReload || pl.PartHoldBack != 0.6 || pl.EndList {
		t.Fatalf("header: %+v", pl)
	}
	if len(pl.Segments) != 3 {
		t.Fatalf("segments: %d", len(pl.Segments))
	}
	s10, s11, s12 := pl.Segments[0], pl.Segments[1], pl.Segments[2]
	if s10.MSN != 10 || !s10.Complete || s10.URI != "seg10.mp4" || len(s10.Parts) != 0 {
		t.Errorf("seg10: %+v", s10)
	}
	if s11.MSN != 11 || !s11.Complete || len(s11.Parts) != 2 || !s11.Parts[0].Independent || s11.Parts[1].Independent {
		t.Errorf("seg11: %+v", s11)
	}
	if s12.MSN != 12 || s12.Complete || len(s12.Parts) != 2 {
		t.Errorf("seg12: %+v", s12)
	}
	if br := s12.Parts[1].ByteRange; br != (ByteRange{Start: 200, Length: 1000}) {
		t.Errorf("byterange: %+v", br)
	}
	want := time.Date(2025, 1, 2, 3, 4, 7, 400e6, time.UTC)
	if !s12.ProgramDateTime.Equal(want) || s12.PDTExplicit {
		t.Errorf("extrapolated PDT: %v", s12.ProgramDateTime)
	}
	if pl.PreloadHint == nil || pl.PreloadHint.Type != "PART" || pl.PreloadHint.URI != "part12.2.mp4" {
		t.Errorf("hint: %+v", pl.PreloadHint)
	}
	if got := nextPart(pl); got != (pos{12, 2}) {
		t.Errorf("nextPart = %v", got)
	}
	if got := lastListed(pl); got != (pos{12, 1}) {
		t.Errorf("lastListed = %v", got)
	}
	lat, ok := availability(s12, 0.2, 0.2, want.Add(450*time.Millisecond))
	if !ok || lat != 50*time.Millisecond {
		t.Errorf("availability = %v %v", lat, ok)
	}
}

func TestParsePlaylistCases(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  bool
		segs     int
		next     pos
		variants int
		endList  bool
	}{
		{name: "multivariant", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\nv0/index.m3u8\n", variants: 1},
		{name: "segment ended, next part is part 0 of next", in: "#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-PART:DURATION=0.2,URI=\"a\"\n#EXTINF:0.2,\ns5\n", segs: 1, next: pos{6, 0}},
		{name: "empty live playlist", in: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n", next: pos{7, 0}},
		{name: "delta update", in: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXTINF:2,\ns7\n", segs: 1, next: pos{8, 0}},
		{name: "endlist", in: "#EXTM3U\n#EXTINF:2,\ns0\n#EXT-X-ENDLIST\n", segs: 1, next: pos{1, 0}, endList: true},
		{name: "crlf and comments", in: "#EXTM3U\r\n# comment\r\n#EXTINF:2.0,title, with comma\r\ns0.ts\r\n", segs: 1, next: pos{1, 0}},
		{name: "no header", in: "#EXTINF:2,\ns0\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "uri without extinf", in: "#EXTM3U\nseg.ts\n", wantErr: true},
		{name: "bad extinf", in: "#EXTM3U\n#EXTINF:abc,\ns\n", wantErr: true},
		{name: "negative duration", in: "#EXTM3U\n#EXTINF:-1,\ns\n", wantErr: true},
		{name: "NaN duration", in: "#EXTM3U\n#EXTINF:NaN,\ns\n", wantErr: true},
		{name: "part without uri", in: "#EXTM3U\n#EXT-X-PART:DURATION=0.2\n", wantErr: true},
		{name: "unterminated quote", in: "#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"a\n", wantErr: true},
		{name: "bad pdt", in: "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n", wantErr: true},
		{name: "late media sequence", in: "#EXTM3U\n#EXTINF:2,\ns\n#EXT-X-MEDIA-SEQUENCE:4\n", wantErr: true},
		{name: "stream-inf without uri", in: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", wantErr: true},
		{name: "hint without uri", in: "#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=PART\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := ParsePlaylist([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrPlaylist) {
					t.Fatalf("err = %v, want ErrPlaylist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(pl.Segments) != tt.segs || len(pl.Variants) != tt.variants || pl.EndList != tt.endList {
				t.Fatalf("got %d segments, %d variants, endlist %v", len(pl.Segments), len(pl.Variants), pl.EndList)
			}
			if tt.variants == 0 {
				if got := nextPart(pl); got != tt.next {
					t.Errorf("nextPart = %v, want %v", got, tt.next)
				}
			}
		})
	}
}

func TestParseAttributes(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{in: `A=1,B="x,y",C=YES`, want: map[string]string{"A": "1", "B": "x,y", "C": "YES"}},
		{in: `URI=""`, want: map[string]string{"URI": ""}},
		{in: `A=1,`, wantErr: true},
		{in: `a=1`, wantErr: true},
		{in: `A=1,A=2`, wantErr: true},
		{in: `A="x"y`, wantErr: true},
		{in: `=1`, wantErr: true},
		{in: `NOVALUE`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseAttributes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.in, err)
			continue
		}
		if !tt.wantErr && len(got) != len(tt.want) {
			t.Errorf("%q: got %v", tt.in, got)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(100 - i)
	}
	s := summarize(v)
	if s.P50 != 50 || s.P95 != 95 || s.P99 != 99 || s.Max != 100 || s.Min != 1 || s.N != 100 {
		t.Fatalf("%+v", s)
	}
	if (summarize(nil) != LatencySummary{}) {
		t.Fatal("empty")
	}
}
