package hls

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestDVRDiskStorage(t *testing.T) {
	ds, err := NewDiskStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []SegmentInfo
	m, err := NewMuxer(MuxerConfig{MaxSegmentDuration: 2 * time.Second, DVRWindow: 100 * time.Second, Storage: ds,
		Hooks: Hooks{OnSegmentComplete: func(s SegmentInfo) { got = append(got, s) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	for i := 0; i < 7; i++ {
		feed(t, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, duration: 20 * time.Second, start: time.Duration(i) * 20 * time.Second}, testH264(t))
		time.Sleep(50 * time.Millisecond) // let the storage worker catch up
	}
	pl := getPlaylist(t, m, "v/media.m3u8")
	if len(pl.segments) < 49 || pl.mediaSeq == 0 {
		t.Fatalf("DVR window: %d segments from %d", len(pl.segments), pl.mediaSeq)
	}
	m.mu.Lock()
	s := r.segments[0]
	inMem, stored := s.inMemory, s.stored
	m.mu.Unlock()
	if inMem || !stored {
		t.Fatalf("old segment in memory=%v stored=%v", inMem, stored)
	}
	code, _, body := get(t, m, "v/"+pl.segments[0].uri)
	if code != 200 || !parseFragments(body).firstSync[1] {
		t.Fatalf("segment from disk: %d", code)
	}
	if len(got) == 0 || len(got[0].Init) == 0 || len(got[0].Parts) == 0 {
		t.Fatal("OnSegmentComplete")
	}
	for _, si := range got {
		if len(si.PartInfo) != len(si.Parts) || !si.PartInfo[0].Independent {
			t.Fatalf("segment %d: %d part infos for %d parts, first independent %v", si.MSN, len(si.PartInfo), len(si.Parts), si.PartInfo[0].Independent)
		}
		var sum time.Duration
		for i, pi := range si.PartInfo {
			sum += pi.Duration
			if sync := parseFragments(si.Parts[i]).firstSync[1]; sync != pi.Independent {
				t.Fatalf("segment %d part %d: Independent %v, its first sample sync %v", si.MSN, i, pi.Independent, sync)
			}
		}
		if sum != si.Duration {
			t.Fatalf("segment %d: parts last %v, the segment %v", si.MSN, sum, si.Duration)
		}
	}
}

// TestSpillServesParts checks that with a Storage a complete segment leaves
// memory once stored, and that it and its parts (byte ranges of it) are still
// served, whole, by range and by HEAD, for as long as the segment is listed.
func TestSpillServesParts(t *testing.T) {
	ds, err := NewDiskStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("disk", func(t *testing.T) { testSpill(t, ds) })
	// MemoryStorage's reader is not an io.ReaderAt: parts are read by seeking
	t.Run("memory", func(t *testing.T) { testSpill(t, NewMemoryStorage()) })
}

func testSpill(t *testing.T, st Storage) {
	m, err := NewMuxer(MuxerConfig{Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t), Audio: testAAC()})
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 100 * time.Second}, testH264(t))
	waitStored(t, m, r)
	m.mu.Lock()
	inMem := 0
	for _, s := range r.segments {
		if s.inMemory {
			inMem++
		}
	}
	cur := r.cur != nil
	m.mu.Unlock()
	if inMem > 1 || (inMem == 1 && !cur) {
		t.Fatalf("%d segments still in memory (one in progress: %v)", inMem, cur)
	}
	pl := getPlaylist(t, m, "v/media.m3u8")
	checkMedia(t, m, "v", pl, nil, true)
	var parts int
	for _, seg := range pl.segments {
		if seg.uri == "" || len(seg.parts) == 0 {
			continue
		}
		code, _, whole := get(t, m, "v/"+seg.uri)
		if code != 200 {
			t.Fatalf("%s: %d", seg.uri, code)
		}
		var cat []byte
		for _, p := range seg.parts {
			code, hdr, b := get(t, m, "v/"+p.uri)
			if code != 200 || hdr.Get("Content-Type") != "video/mp4" || hdr.Get("Cache-Control") == "" {
				t.Fatalf("%s: %d %v", p.uri, code, hdr)
			}
			cat = append(cat, b...)
			parts++
		}
		if !bytes.Equal(cat, whole) {
			t.Fatalf("%s: parts are not the segment", seg.uri)
		}
		p := seg.parts[len(seg.parts)-1]
		req := httptest.NewRequest(http.MethodGet, "/v/"+p.uri, nil)
		req.Header.Set("Range", "bytes=4-11")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		last := cat[len(cat)-len(lastPart(t, m, p.uri)):]
		if rec.Code != http.StatusPartialContent || !bytes.Equal(rec.Body.Bytes(), last[4:12]) {
			t.Fatalf("range of a stored part: %d", rec.Code)
		}
		req = httptest.NewRequest(http.MethodHead, "/v/"+seg.uri, nil)
		rec = httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(len(whole)) || rec.Body.Len() != 0 {
			t.Fatalf("HEAD of a stored segment: %d %v", rec.Code, rec.Header())
		}
	}
	if parts == 0 {
		t.Fatal("no parts listed")
	}
}

func lastPart(t *testing.T, m *Muxer, uri string) []byte {
	_, _, b := get(t, m, "v/"+uri)
	return b
}
