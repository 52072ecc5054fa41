package metrics

import (
	"strconv"
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func TestInputCounters(t *testing.T) {
	m := New("test")
	a := m.Input("rtmp", "li_a")
	b := m.Input("srt", "li_b")
	a.WireBytes(100)
	a.WireBytes(50)
	b.WireBytes(7)
	a.Received(stream.KindVideo, 1000, true)
	a.Received(stream.KindAudio, 10, false)
	a.Received(stream.KindAudio, 10, false)
	// a second session of the same live input adds to the same series
	m.Input("rtmp", "li_a").WireBytes(1)

	if got, want := series(t, m, "mpegflow_ingest_bytes_total"), map[string]float64{
		"live_input=li_a": 151, "live_input=li_b": 7,
	}; !equal(got, want) {
		t.Errorf("bytes: got %v, want %v", got, want)
	}
	if got, want := series(t, m, "mpegflow_ingest_frames_total"), map[string]float64{
		"kind=video,live_input=li_a": 1, "kind=audio,live_input=li_a": 2,
		"kind=video,live_input=li_b": 0, "kind=audio,live_input=li_b": 0, // series start at zero with the session
	}; !equal(got, want) {
		t.Errorf("frames: got %v, want %v", got, want)
	}
}

func TestHLSRequestCounters(t *testing.T) {
	m := New("test")
	for range 3 {
		m.HLSRequest("part", 200)
	}
	m.HLSRequest("part", 404)
	m.HLSRequest("playlist", 200)
	got, want := series(t, m, "mpegflow_hls_requests_total"), map[string]float64{
		"kind=part,status=200": 3, "kind=part,status=404": 1, "kind=playlist,status=200": 1,
	}
	if !equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func equal(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// BenchmarkWireBytes is the cost of counting one network read: the
// session's resolved counter against a label lookup per call.
func BenchmarkWireBytes(b *testing.B) {
	m := New("test")
	b.Run("handle", func(b *testing.B) {
		im := m.Input("rtmp", "li_bench")
		for b.Loop() {
			im.WireBytes(1400)
		}
	})
	b.Run("label_lookup", func(b *testing.B) {
		for b.Loop() {
			m.ingestBytes.WithLabelValues("li_bench").Add(1400)
		}
	})
}

// BenchmarkHLSRequest is the cost of counting one HLS response: the
// cached counter against a label lookup per call.
func BenchmarkHLSRequest(b *testing.B) {
	m := New("test")
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			m.HLSRequest("part", 200)
		}
	})
	b.Run("label_lookup", func(b *testing.B) {
		for b.Loop() {
			m.hlsRequests.WithLabelValues("part", strconv.Itoa(200)).Inc()
		}
	})
}
