package hls

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br, GZIP;q=0.5", true},
		{"deflate", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=1.0", true},
		{"x-gzip", true},
		{"*", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v/media.m3u8", nil)
		if tc.header != "" {
			req.Header.Set("Accept-Encoding", tc.header)
		}
		if got := acceptsGzip(req); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestPlaylistGzip checks that a media playlist is served gzip-compressed to
// clients that accept it, with the same content, and uncompressed to the
// others; with a carried query string too.
func TestPlaylistGzip(t *testing.T) {
	m, _ := newFedMuxer(t, MuxerConfig{}, 30*time.Second)
	fetch := func(path, ae string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		return rec
	}
	plain := fetch("/v/media.m3u8", "")
	if plain.Header().Get("Content-Encoding") != "" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("plain: %v", plain.Header())
	}
	for _, path := range []string{"/v/media.m3u8", "/v/media.m3u8?_HLS_skip=YES", "/v/media.m3u8?_HLS_msn=1&_HLS_part=0"} {
		want := fetch(path, "").Body.Bytes()
		rec := fetch(path, "gzip, deflate")
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Type") != contentTypePlaylist {
			t.Fatalf("%s: %d %v", path, rec.Code, rec.Header())
		}
		if rec.Header().Get("Content-Length") != itoa(rec.Body.Len()) || rec.Body.Len() >= len(want) {
			t.Fatalf("%s: %d compressed bytes of %d, Content-Length %s", path, rec.Body.Len(), len(want), rec.Header().Get("Content-Length"))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: gzip content differs (%v)", path, err)
		}
	}
	// a carried query: the same text as uncompressed, spliced into gzip
	for _, path := range []string{"/v/media.m3u8?token=abc", "/v/media.m3u8?token=abc&_HLS_skip=YES", "/v/media.m3u8?a=" + strings.Repeat("b", 700)} {
		want := fetch(path, "").Body.Bytes()
		if !bytes.Contains(want, []byte(".m4s?")) {
			t.Fatalf("%s: query not carried", path)
		}
		rec := fetch(path, "gzip")
		if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Length") != itoa(rec.Body.Len()) || rec.Body.Len() >= len(want) {
			t.Fatalf("%s: %v, %d bytes of %d", path, rec.Header(), rec.Body.Len(), len(want))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: gzip content differs (%v)", path, err)
		}
	}
	if rec := fetch("/v/media.m3u8", "gzip;q=0"); rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got gzip")
	}
}

// BenchmarkPlaylistGzip measures compressing one full media playlist
// template (68 s window, 10 s target duration, parts listed for the last
// 30 s), which happens once per part per rendition and skip mode.
func BenchmarkPlaylistGzip(b *testing.B) {
	m, err := NewMuxer(MuxerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b), Audio: testAAC()})
	feed(b, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 100 * time.Second}, testH264(b))
	m.mu.Lock()
	t := r.mediaTemplateLocked(skipNone)
	m.mu.Unlock()
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &mediaTemplate{data: t.data}
		gz, _ := c.gzipped(&m.gzipPool)
		size = len(gz)
	}
	b.ReportMetric(float64(len(t.data)), "plain-B")
	b.ReportMetric(float64(size), "gzip-B")
}

// TestPlaylistGzipManyTokens serves one template to more players (tokens
// of one length) than planAfter, so that later bodies take their CRC-32
// from the plan, and checks every body against the uncompressed text.
func TestPlaylistGzipManyTokens(t *testing.T) {
	m, _ := newFedMuxer(t, MuxerConfig{}, 30*time.Second)
	for i := 0; i < planAfter+20; i++ {
		path := "/v/media.m3u8?token=" + itoa(1_000_000+i) + ".x"
		req := httptest.NewRequest(http.MethodGet, path, nil)
		plainRec := httptest.NewRecorder()
		m.ServeHTTP(plainRec, req)
		req = httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("#%d: %v", i, rec.Header())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, plainRec.Body.Bytes()) {
			t.Fatalf("#%d: gzip content differs (%v)", i, err)
		}
	}
}
