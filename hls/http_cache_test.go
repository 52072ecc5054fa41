package hls

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCacheControlPrivate checks that every resource keeps its public
// caching headers by default and gets their private form when the caller
// marked the response private before serving (signed playback).
func TestCacheControlPrivate(t *testing.T) {
	m, err := NewMuxer(MuxerConfig{TargetDuration: 10 * time.Second}) // every segment lists its parts
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t), Audio: testAAC()})
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 10 * time.Second}, testH264(t))
	pl := getPlaylist(t, m, "v/media.m3u8")
	if len(pl.segments) == 0 || len(pl.segments[0].parts) == 0 {
		t.Fatal("no segment with parts")
	}
	paths := map[string]string{
		"index.m3u8":                       cachePlaylist,
		"v/media.m3u8":                     cachePlaylist,
		"v/init0.mp4":                      cacheImmutable,
		"v/" + pl.segments[0].uri:          cacheImmutable,
		"v/" + pl.segments[0].parts[0].uri: cacheImmutable,
	}
	for p, want := range paths {
		for _, private := range []bool{false, true} {
			req := httptest.NewRequest(http.MethodGet, "/"+p, nil)
			rec := httptest.NewRecorder()
			if private {
				rec.Header().Set("Cache-Control", "private")
			}
			m.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: HTTP %d", p, rec.Code)
			}
			w := want
			if private {
				w = "private, " + strings.TrimPrefix(want, "public, ")
			}
			if got := rec.Header().Get("Cache-Control"); got != w {
				t.Errorf("%s (private %v): Cache-Control %q, want %q", p, private, got, w)
			}
		}
	}
}
