package hls

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newFedMuxer(t *testing.T, cfg MuxerConfig, d time.Duration) (*Muxer, *Rendition) {
	t.Helper()
	m, err := NewMuxer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	r, err := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: time.Second, duration: d}, testH264(t))
	return m, r
}

func TestHTTPRules(t *testing.T) {
	m, _ := newFedMuxer(t, MuxerConfig{TargetDuration: 10 * time.Second}, 10*time.Second) // every segment lists its parts
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"index.m3u8", 200},
		{"/index.m3u8", 200},
		{"v/media.m3u8", 200},
		{"v/init0.mp4", 200},
		{"v/init1.mp4", 404},
		{"v/seg0.m4s", 200},
		{"v/seg00.m4s", 404},
		{"v/seg999.m4s", 404},
		{"v/part0.m4s", 200},
		{"v/part999999.m4s", 404},
		{"v/nothing", 404},
		{"x/media.m3u8", 404},
		{"v/media.m3u8?_HLS_part=1", 400},
		{"v/media.m3u8?_HLS_msn=99", 400},
		{"v/media.m3u8?_HLS_msn=4&_HLS_part=100", 400},
		{"v/media.m3u8?_HLS_msn=x", 400},
		{"v/media.m3u8?_HLS_msn=1&_HLS_part=0", 200},
	} {
		code, _, body := get(t, m, tc.path)
		if code != tc.status {
			t.Errorf("%s: %d want %d", tc.path, code, tc.status)
		}
		if code == 404 && len(body) == 0 {
			t.Errorf("%s: empty 404", tc.path)
		}
	}
	// HEAD and byte ranges
	req := httptest.NewRequest(http.MethodHead, "/v/seg0.m4s", nil)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d %d", rec.Code, rec.Body.Len())
	}
	_, _, full := get(t, m, "v/seg0.m4s")
	req = httptest.NewRequest(http.MethodGet, "/v/seg0.m4s", nil)
	req.Header.Set("Range", "bytes=100-1099")
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 206 || string(rec.Body.Bytes()) != string(full[100:1100]) {
		t.Fatalf("range: %d %d", rec.Code, rec.Body.Len())
	}
	req = httptest.NewRequest(http.MethodPost, "/v/seg0.m4s", nil)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 405 {
		t.Fatalf("POST: %d", rec.Code)
	}
	// the segment is its parts concatenated
	pl := getPlaylist(t, m, "v/media.m3u8")
	var cat []byte
	for _, p := range pl.segments[0].parts {
		_, _, b := get(t, m, "v/"+p.uri)
		cat = append(cat, b...)
	}
	if string(cat) != string(full) {
		t.Fatal("segment is not its parts concatenated")
	}
}

func TestDeltaUpdate(t *testing.T) {
	m, _ := newFedMuxer(t, MuxerConfig{SegmentDuration: time.Second, MaxSegmentDuration: time.Second}, 40*time.Second)
	full := getPlaylist(t, m, "v/media.m3u8")
	for _, q := range []string{"_HLS_skip=YES", "_HLS_skip=v2"} {
		code, _, body := get(t, m, "v/media.m3u8?"+q)
		if code != 200 {
			t.Fatal(code)
		}
		d, err := parsePlaylist(string(body))
		if err != nil {
			t.Fatal(err)
		}
		if d.skipped == 0 || int(d.skipped)+len(d.segments) != len(full.segments) {
			t.Fatalf("%s: skipped %d, %d+%d segments", q, d.skipped, len(d.segments), len(full.segments))
		}
		if d.segments[0].uri != full.segments[d.skipped].uri {
			t.Fatal("delta does not line up")
		}
		if q == "_HLS_skip=v2" && (d.version < 10 || !strings.Contains(string(body), "RECENTLY-REMOVED-DATERANGES")) {
			t.Fatal("v2 delta")
		}
	}
}

func TestBlockingReload(t *testing.T) {
	var blocked, requests int
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	hooks := Hooks{
		OnBlocked: func(d int) { <-mu; blocked += d; mu <- struct{}{} },
		OnRequest: func(RequestKind, int) { <-mu; requests++; mu <- struct{}{} },
	}
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, MaxSegmentDuration: time.Second, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	fd := time.Second / 30
	feed(t, r, feedSpec{frameDur: fd, gop: time.Second, duration: 3 * time.Second}, testH264(t))
	srv := httptest.NewServer(m)
	defer srv.Close()

	pl := getPlaylist(t, m, "v/media.m3u8")
	hint := pl.preloadHint["URI"]
	last := pl.segments[len(pl.segments)-1]
	nextMSN := len(pl.segments) - 1
	nextPart := len(last.parts)

	type result struct {
		code int
		body string
		at   time.Time
	}
	fetch := func(path string) chan result {
		ch := make(chan result, 1)
		go func() {
			resp, err := http.Get(srv.URL + "/" + path)
			if err != nil {
				ch <- result{}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ch <- result{resp.StatusCode, string(b), time.Now()}
		}()
		return ch
	}
	plCh := fetch("v/media.m3u8?_HLS_msn=" + itoa(nextMSN) + "&_HLS_part=" + itoa(nextPart))
	partCh := fetch("v/" + hint)
	time.Sleep(200 * time.Millisecond)
	select {
	case <-plCh:
		t.Fatal("blocking playlist answered early")
	case <-partCh:
		t.Fatal("preload hint answered early")
	default:
	}
	// produce the next part: a few more frames
	start := time.Duration(3 * time.Second)
	for i := 0; i < 12; i++ {
		dts := start + time.Duration(i)*fd
		_ = r.WriteVideo(VideoUnit{DTS: dts, PTS: dts, Wall: testWall.Add(dts), Key: i == 0, NALUs: [][]byte{{0x41, 1, 2, 3}}})
	}
	res := <-plCh
	if res.code != 200 || !strings.Contains(res.body, hint) {
		t.Fatalf("blocking playlist: %d\n%s", res.code, res.body)
	}
	pres := <-partCh
	if pres.code != 200 || !parseFragments([]byte(pres.body)).ok {
		t.Fatalf("hinted part: %d", pres.code)
	}
	// a publisher that stalls: 503 after 3 x target duration
	t0 := time.Now()
	res = <-fetch("v/media.m3u8?_HLS_msn=" + itoa(nextMSN+2))
	if res.code != 503 || time.Since(t0) < 3*time.Second || time.Since(t0) > 4*time.Second {
		t.Fatalf("stalled: %d after %v", res.code, time.Since(t0))
	}
	// End releases waiters and directives are ignored
	ch := fetch("v/media.m3u8?_HLS_msn=" + itoa(nextMSN+2))
	time.Sleep(100 * time.Millisecond)
	m.End()
	res = <-ch
	if res.code != 200 || !strings.Contains(res.body, "#EXT-X-ENDLIST") {
		t.Fatalf("after End: %d", res.code)
	}
	<-mu
	if blocked != 0 || requests == 0 {
		t.Fatalf("blocked gauge %d, requests %d", blocked, requests)
	}
	mu <- struct{}{}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

func TestCodecChangeAndReset(t *testing.T) {
	m, err := NewMuxer(MuxerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t), Audio: testAAC()})
	fd := time.Second / 30
	feed(t, r, feedSpec{frameDur: fd, gop: time.Second, audio: true, duration: 5 * time.Second}, testH264(t))
	// codec change: new SPS (different level)
	p := testH264(t)
	p.SPS = append([]byte{}, p.SPS...)
	p.SPS[3] = 0x1f
	if err := r.SetVideoCodec(p); err != nil {
		t.Fatal(err)
	}
	feed(t, r, feedSpec{frameDur: fd, gop: time.Second, audio: true, duration: 5 * time.Second, start: 5 * time.Second}, p)
	// timestamp reset without notice (publisher reconnected)
	feed(t, r, feedSpec{frameDur: fd, gop: time.Second, audio: true, duration: 5 * time.Second, start: 0}, p)
	// jump forward
	feed(t, r, feedSpec{frameDur: fd, gop: time.Second, audio: true, duration: 5 * time.Second, start: time.Hour}, p)
	pl := getPlaylist(t, m, "v/media.m3u8")
	checkMedia(t, m, "v", pl, nil, true)
	var discs, maps int
	prevMap := ""
	for _, s := range pl.segments {
		if s.disc {
			discs++
		}
		if s.mapURI != prevMap {
			maps++
			prevMap = s.mapURI
		}
		if s.dur > 3 {
			t.Fatalf("giant segment %v", s.dur)
		}
	}
	if discs != 3 || maps != 2 {
		t.Fatalf("%d discontinuities, %d maps", discs, maps)
	}
	_, _, b := get(t, m, "v/init1.mp4")
	if !strings.Contains(string(b), "avcC") {
		t.Fatal("new init")
	}
	// tfdt never goes backwards
	var prev uint64
	for _, s := range pl.segments {
		if s.uri == "" {
			continue
		}
		_, _, body := get(t, m, "v/"+s.uri)
		bt := parseFragments(body).baseTime[1]
		if bt < prev {
			t.Fatalf("decode time went backwards: %d < %d", bt, prev)
		}
		prev = bt
	}
}

func TestLongGOP(t *testing.T) {
	// GOP 8 s with a 4 s target duration at most: segments never exceed the
	// target (rounded), the GOP is cut in two without a key frame
	m, _ := NewMuxer(MuxerConfig{MaxSegmentDuration: 4 * time.Second})
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: 8 * time.Second, duration: 40 * time.Second}, testH264(t))
	pl := getPlaylist(t, m, "v/media.m3u8")
	checkMedia(t, m, "v", pl, nil, true)
}

func TestVODPlaylist(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []VODSegment
		err  bool
		want []string
	}{
		{"empty", nil, true, nil},
		{"bad", []VODSegment{{URI: "a", Duration: 0, InitURI: "i"}}, true, nil},
		{"two inits", []VODSegment{
			{URI: "s0.m4s", Duration: 2 * time.Second, InitURI: "init0.mp4"},
			{URI: "s1.m4s", Duration: 2500 * time.Millisecond, InitURI: "init0.mp4"},
			{URI: "s2.m4s", Duration: time.Second, InitURI: "init1.mp4", Discontinuity: true},
		}, false, []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-TARGETDURATION:3", "#EXT-X-ENDLIST", "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init1.mp4\""}},
		{"byte ranges", []VODSegment{
			{URI: "s0.m4s", Duration: 1200 * time.Millisecond, InitURI: "init0.mp4", ByteRangeLength: 5000, ByteRangeOffset: 1234},
			{URI: "s1.m4s", Duration: 2 * time.Second, InitURI: "init0.mp4"},
			{URI: "s2.m4s", Duration: 400 * time.Millisecond, InitURI: "init0.mp4", ByteRangeLength: 800},
		}, false, []string{"#EXTINF:1.20000,\n#EXT-X-BYTERANGE:5000@1234\ns0.m4s\n#EXTINF:2.00000,\ns1.m4s\n", "#EXT-X-BYTERANGE:800@0\ns2.m4s\n"}},
		{"bad range", []VODSegment{{URI: "a", Duration: time.Second, InitURI: "i", ByteRangeLength: -1}}, true, nil},
	} {
		b, err := VODPlaylist(tc.segs)
		if (err != nil) != tc.err {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Fatalf("%s: missing %q in\n%s", tc.name, w, b)
			}
		}
		if !tc.err {
			pl, err := parsePlaylist(string(b))
			if err != nil || !pl.endlist || len(pl.segments) != len(tc.segs) {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
	}
}

// The carried query string is spliced into every URI of the media playlist
// rendered once without it (mediaTemplate), skip modes included.
func TestPlaylistQuerySplice(t *testing.T) {
	m, _ := NewMuxer(MuxerConfig{})
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t), Audio: testAAC()})
	m.AddRendition(RenditionConfig{Name: "a", Audio: testAAC()})
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 90 * time.Second}, testH264(t))
	for _, skip := range []string{"", "_HLS_skip=YES&", "_HLS_skip=v2&"} {
		_, _, plain := get(t, m, "v/media.m3u8?"+skip)
		_, _, tok := get(t, m, "v/media.m3u8?"+skip+"token=a%20b&x=1")
		want := string(plain)
		for _, suffix := range []string{`.m4s"`, `.mp4"`, `.m3u8"`, ".m4s\n"} {
			want = strings.ReplaceAll(want, suffix, suffix[:len(suffix)-1]+"?token=a%20b&x=1"+suffix[len(suffix)-1:])
		}
		if string(tok) != want {
			t.Fatalf("skip %q: with query\n%s\nwant\n%s", skip, tok, want)
		}
		if skip != "" && !strings.Contains(want, "#EXT-X-SKIP") {
			t.Fatalf("skip %q: no EXT-X-SKIP", skip)
		}
	}
}

func TestVODMultivariant(t *testing.T) {
	b, err := VODMultivariant([]VODVariant{
		{URI: "720p/index.m3u8", Bandwidth: 3_400_000, AverageBandwidth: 2_900_000, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720, FrameRate: 30},
		{URI: "360p/index.m3u8", Bandwidth: 800_000},
	})
	want := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=3400000,AVERAGE-BANDWIDTH=2900000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n720p/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n"
	if err != nil || string(b) != want {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, bad := range [][]VODVariant{nil, {{URI: ""}}, {{URI: "a\nb"}}, {{URI: "a", Codecs: `x"`}}} {
		if _, err := VODMultivariant(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
