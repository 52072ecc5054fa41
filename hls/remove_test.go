package hls

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRemoveRendition: a rendition removed while the stream goes on leaves
// the multivariant playlist and the other renditions' rendition reports;
// its playlist, segments and parts get 404, a blocking request waiting on
// it gets 400 at once, writes to it fail with ErrRemoved, and the
// remaining rendition keeps working. The name can be added again.
func TestRemoveRendition(t *testing.T) {
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, MaxSegmentDuration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	src, _ := m.AddRendition(RenditionConfig{Name: "source", Video: testH264(t)})
	rung, _ := m.AddRendition(RenditionConfig{Name: "low", Video: testH264(t)})
	sp := feedSpec{frameDur: time.Second / 30, gop: time.Second, duration: 3 * time.Second}
	feed(t, src, sp, testH264(t))
	feed(t, rung, sp, testH264(t))
	srv := httptest.NewServer(m)
	defer srv.Close()

	if mv := getPlaylist(t, m, "index.m3u8"); len(mv.streams) != 2 {
		t.Fatalf("%d variants before removal, want 2", len(mv.streams))
	}
	if pl := getPlaylist(t, m, "source/media.m3u8"); len(pl.reports) != 1 {
		t.Fatalf("source lists %d rendition reports, want 1", len(pl.reports))
	}
	rpl := getPlaylist(t, m, "low/media.m3u8")
	seg := rpl.segments[0].uri
	nextMSN := len(rpl.segments) - 1 + 2 // beyond what exists: blocks

	// a blocking reload waiting on the rung when it goes
	ch := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/low/media.m3u8?_HLS_msn=" + itoa(nextMSN))
		if err != nil {
			ch <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for m.blockedWaiters() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !m.RemoveRendition("low") {
		t.Fatal("RemoveRendition = false")
	}
	if m.RemoveRendition("low") || m.RemoveRendition("nope") {
		t.Fatal("RemoveRendition of a missing name = true")
	}
	select {
	case code := <-ch:
		if code != http.StatusBadRequest {
			t.Errorf("blocked request on the removed rendition: HTTP %d, want 400", code)
		}
	case <-time.After(2 * time.Second):
		t.Error("the blocked request was not answered at the removal")
	}

	mv := getPlaylist(t, m, "index.m3u8")
	if len(mv.streams) != 1 || !strings.HasPrefix(mv.streams[0].uri, "source/") {
		t.Fatalf("multivariant after removal: %+v", mv.streams)
	}
	for _, p := range []string{"low/media.m3u8", "low/" + seg, "low/init0.mp4"} {
		if code, _, _ := get(t, m, p); code != http.StatusNotFound {
			t.Errorf("GET %s after removal: %d, want 404", p, code)
		}
	}
	err = rung.WriteVideo(VideoUnit{DTS: 3 * time.Second, PTS: 3 * time.Second, Key: true, NALUs: [][]byte{{0x65, 1}}})
	if !errors.Is(err, ErrRemoved) {
		t.Errorf("write after removal: %v, want ErrRemoved", err)
	}
	// the source goes on, without reporting the rung
	feed(t, src, feedSpec{frameDur: time.Second / 30, gop: time.Second, duration: 2 * time.Second, start: 3 * time.Second}, testH264(t))
	pl := getPlaylist(t, m, "source/media.m3u8")
	if len(pl.reports) != 0 {
		t.Errorf("source still reports %d renditions", len(pl.reports))
	}
	if len(pl.segments) < 4 {
		t.Errorf("source has %d segments after 5 s", len(pl.segments))
	}
	// the name may come back (a later transcoder run)
	if _, err := m.AddRendition(RenditionConfig{Name: "low", Video: testH264(t)}); err != nil {
		t.Errorf("AddRendition after removal: %v", err)
	}
}
