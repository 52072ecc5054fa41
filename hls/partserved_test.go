package hls

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// OnPartServed reports each part once, at its first delivery, with its age.
func TestOnPartServedFirstDeliveryOnly(t *testing.T) {
	var mu sync.Mutex
	var ages []time.Duration
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second, MaxSegmentDuration: time.Second,
		Hooks: Hooks{OnPartServed: func(a time.Duration) { mu.Lock(); ages = append(ages, a); mu.Unlock() }}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(t)})
	feed(t, r, feedSpec{frameDur: time.Second / 30, gop: time.Second, duration: 3 * time.Second}, testH264(t))
	pl := getPlaylist(t, m, "v/media.m3u8")
	last := pl.segments[len(pl.segments)-1]
	if len(last.parts) < 2 {
		t.Fatalf("%d parts listed in the last segment", len(last.parts))
	}
	time.Sleep(20 * time.Millisecond)
	get := func(uri string) {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest("GET", "/v/"+uri, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", uri, rec.Code)
		}
	}
	tests := []struct {
		uri  string
		want int // observations after the request
	}{
		{last.parts[0].uri, 1},
		{last.parts[0].uri, 1}, // a second viewer: not a first delivery
		{last.parts[1].uri, 2},
	}
	for _, tc := range tests {
		get(tc.uri)
		mu.Lock()
		n := len(ages)
		mu.Unlock()
		if n != tc.want {
			t.Fatalf("after %s: %d observations, want %d", tc.uri, n, tc.want)
		}
	}
	if ages[0] < 20*time.Millisecond || ages[0] > time.Minute {
		t.Fatalf("age %v of a part served 20 ms after completion at the earliest", ages[0])
	}
}
