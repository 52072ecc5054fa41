package hls

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCarryQuery(t *testing.T) {
	pl, err := VODPlaylist([]VODSegment{
		{URI: "seg0.m4s", InitURI: "init0.mp4", Duration: 2 * time.Second},
		{URI: "seg1.m4s?x=1", InitURI: "init0.mp4", Duration: 2 * time.Second},
		{URI: "seg2.m4s", InitURI: "init2.mp4", Duration: 2 * time.Second, Discontinuity: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(CarryQuery(pl, "token=a.b.c&_HLS_msn=3&x=%22y z"))
	for _, want := range []string{
		`#EXT-X-MAP:URI="init0.mp4?token=a.b.c&x=%22y%20z"` + "\n",
		"\nseg0.m4s?token=a.b.c&x=%22y%20z\n",
		"\nseg1.m4s?x=1&token=a.b.c&x=%22y%20z\n",
		`#EXT-X-MAP:URI="init2.mp4?token=a.b.c&x=%22y%20z"` + "\n",
		"#EXT-X-TARGETDURATION:2\n",
		"#EXT-X-ENDLIST\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Count(got, "token=") != 5 || strings.Contains(got, "_HLS_") {
		t.Errorf("carried %d times:\n%s", strings.Count(got, "token="), got)
	}
	if !bytes.Equal(CarryQuery(pl, ""), pl) || !bytes.Equal(CarryQuery(pl, "_HLS_skip=YES"), pl) {
		t.Error("nothing to carry changed the playlist")
	}
	// attributes that merely end in URI are not URIs; CRLF lines are kept
	in := "#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,KEYFORMATURI=\"k\",URI=\"key\"\r\n\r\nseg.ts\r\n"
	want := "#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,KEYFORMATURI=\"k\",URI=\"key?t=1\"\r\n\r\nseg.ts?t=1\r\n"
	if got := string(CarryQuery([]byte(in), "t=1")); got != want {
		t.Errorf("got %q", got)
	}
}

// FuzzCarryQuery checks that carrying any query onto any playlist keeps
// its lines (no byte of the query can start a new line or end a quoted
// string) and never panics.
func FuzzCarryQuery(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"init0.mp4\"\n#EXTINF:2,\nseg0.m4s\n"), "token=a.b.c")
	f.Add([]byte("#EXT-X-PART:URI=\"p\nx"), "a=\"\n")
	f.Add([]byte("URI=\"\nURI="), "_HLS_msn=1&t")
	f.Fuzz(func(t *testing.T, pl []byte, q string) {
		out := CarryQuery(pl, q)
		if bytes.Count(out, []byte("\n")) != bytes.Count(pl, []byte("\n")) {
			t.Fatalf("lines changed: %q -> %q", pl, out)
		}
		if bytes.Count(out, []byte(`"`)) != bytes.Count(pl, []byte(`"`)) {
			t.Fatalf("quotes changed: %q -> %q", pl, out)
		}
	})
}
