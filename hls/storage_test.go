package hls

import (
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
}
