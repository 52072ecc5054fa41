package stream

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

var avTracks = []Track{{Codec: H264{SPS: []byte{0x67}, PPS: []byte{0x68}}}, {Codec: AAC{Config: []byte{0x12, 0x10}}}}

func next(t *testing.T, r *Reader) *Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return u
}

func TestHubBusyAndTakeover(t *testing.T) {
	h := NewHub(HubConfig{ReconnectWindow: time.Minute})
	defer h.Close()
	p1, err := h.Publish("a", avTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish("a", avTracks, false); !errors.Is(err, ErrBusy) {
		t.Fatalf("second publisher: err = %v, want ErrBusy", err)
	}
	p2, err := h.Publish("a", avTracks, true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p1.Kicked():
	default:
		t.Fatal("first publisher not kicked on takeover")
	}
	if p2.Stream() != p1.Stream() {
		t.Fatal("takeover started a new stream")
	}
	r := p2.Stream().AddReader("t", ReaderOptions{})
	p1.Write(&Unit{Track: 0, Key: true}) // ignored: kicked
	p2.Write(&Unit{Track: 0, Key: true, DTS: 7})
	u := next(t, r)
	if u.DTS != 7 || !u.Discontinuity {
		t.Fatalf("got %+v, want the new publisher's unit marked as a discontinuity", u)
	}
	p1.Close() // a kicked publisher's close must not detach its successor
	if h.Get("a") == nil {
		t.Fatal("stream gone after the kicked publisher closed")
	}
}

func TestHubReconnectWindow(t *testing.T) {
	var started, ended atomic.Int32
	h := NewHub(HubConfig{
		ReconnectWindow: 100 * time.Millisecond,
		OnStart:         func(*Stream) { started.Add(1) },
		OnEnd:           func(*Stream) { ended.Add(1) },
	})
	defer h.Close()
	p, _ := h.Publish("a", avTracks, false)
	s := p.Stream()
	p.Close()
	p2, err := h.Publish("a", avTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Stream() != s || started.Load() != 1 {
		t.Fatal("reconnect within the window started a new stream")
	}
	p2.Close()
	select {
	case <-s.Ended():
	case <-time.After(2 * time.Second):
		t.Fatal("stream did not end after the window")
	}
	// OnEnd runs just after Ended is closed (the graph drains first)
	for deadline := time.Now().Add(2 * time.Second); ended.Load() != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if ended.Load() != 1 || h.Get("a") != nil {
		t.Fatalf("ended=%d get=%v", ended.Load(), h.Get("a"))
	}
	p3, _ := h.Publish("a", avTracks, false)
	if p3.Stream() == s || started.Load() != 2 {
		t.Fatal("publish after the window must start a new stream")
	}
}

func TestHubDifferentTracksStartNewStream(t *testing.T) {
	h := NewHub(HubConfig{ReconnectWindow: time.Minute})
	defer h.Close()
	p, _ := h.Publish("a", avTracks, false)
	s := p.Stream()
	p.Close()
	p2, _ := h.Publish("a", avTracks[1:], false)
	if p2.Stream() == s {
		t.Fatal("audio-only publisher continued an audio+video stream")
	}
	select {
	case <-s.Ended():
	default:
		t.Fatal("old stream not ended")
	}
}

func TestSlowReaderDropsAndResyncsAtKeyframe(t *testing.T) {
	var drops atomic.Int32
	h := NewHub(HubConfig{OnDrop: func(string, string) { drops.Add(1) }})
	defer h.Close()
	p, _ := h.Publish("a", avTracks, false)
	slow := p.Stream().AddReader("slow", ReaderOptions{QueueSize: 2})
	fast := p.Stream().AddReader("fast", ReaderOptions{QueueSize: 100})
	p.Write(&Unit{Track: 0, Key: false, DTS: 1}) // before any key frame: skipped by new readers
	for i := 2; i <= 10; i++ {
		p.Write(&Unit{Track: 0, Key: i == 2 || i == 8, DTS: time.Duration(i)})
	}
	if slow.Dropped() == 0 || drops.Load() == 0 {
		t.Fatal("slow reader did not drop")
	}
	if fast.Dropped() != 0 {
		t.Fatal("fast reader dropped")
	}
	if u := next(t, fast); u.DTS != 2 {
		t.Fatalf("fast reader first unit DTS %d, want the first key frame", u.DTS)
	}
	a, b := next(t, slow), next(t, slow)
	if a.DTS != 2 || b.DTS != 3 {
		t.Fatalf("slow reader got %d,%d", a.DTS, b.DTS)
	}
	// after dropping, the slow reader resumes at the next key frame (8)
	p.Write(&Unit{Track: 0, Key: false, DTS: 11})
	p.Write(&Unit{Track: 0, Key: true, DTS: 12})
	if u := next(t, slow); u.DTS != 12 {
		t.Fatalf("slow reader resumed at %d, want 12 (next key frame after the drop)", u.DTS)
	}
}

func TestReaderEndsAfterDrain(t *testing.T) {
	h := NewHub(HubConfig{})
	p, _ := h.Publish("a", avTracks, false)
	r := p.Stream().AddReader("r", ReaderOptions{})
	p.Write(&Unit{Track: 1, Key: true})
	p.End()
	if u := next(t, r); u.Track != 1 {
		t.Fatal("queued unit lost at end")
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrEnded) {
		t.Fatalf("err = %v, want ErrEnded", err)
	}
	h.Close()
	if _, err := h.Publish("a", avTracks, false); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestCodecChangeUpdatesTracks(t *testing.T) {
	h := NewHub(HubConfig{})
	defer h.Close()
	p, _ := h.Publish("a", avTracks, false)
	nc := H264{SPS: []byte{0x67, 1}, PPS: []byte{0x68}}
	p.Write(&Unit{Track: 0, Key: true, Codec: nc})
	if !p.Stream().Tracks()[0].Codec.Equal(nc) {
		t.Fatal("track codec not updated")
	}
}

func BenchmarkWriteFanout10(b *testing.B) {
	h := NewHub(HubConfig{})
	defer h.Close()
	p, _ := h.Publish("a", avTracks, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 10; i++ {
		r := p.Stream().AddReader("r", ReaderOptions{QueueSize: 1024})
		go func() {
			for {
				if _, err := r.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	u := &Unit{Track: 0, Key: true, NALUs: [][]byte{make([]byte, 1000)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Write(u)
	}
}

func TestHubSessionKickEnd(t *testing.T) {
	var connects, disconnects atomic.Int32
	h := NewHub(HubConfig{
		ReconnectWindow: time.Minute,
		OnConnect:       func(*Stream, SessionInfo) { connects.Add(1) },
		OnDisconnect:    func(*Stream, SessionInfo) { disconnects.Add(1) },
	})
	defer h.Close()
	p, err := h.PublishSession("a", avTracks, false, SessionInfo{Protocol: "rtmp", Remote: "1.2.3.4:5"})
	if err != nil {
		t.Fatal(err)
	}
	if si, ok := h.Session("a"); !ok || si.Protocol != "rtmp" || si.StartedAt.IsZero() {
		t.Fatalf("session: %+v %v", si, ok)
	}
	if !h.Kick("a") {
		t.Fatal("kick found no publisher")
	}
	select {
	case <-p.Kicked():
	default:
		t.Fatal("publisher not told it was kicked")
	}
	if live, pub := h.State("a"); !live || pub {
		t.Fatalf("after kick: live=%v publishing=%v, want waiting for reconnect", live, pub)
	}
	p.Close()
	if h.Kick("a") {
		t.Fatal("kick with no publisher reported true")
	}
	p2, _ := h.PublishSession("a", avTracks, false, SessionInfo{Protocol: "srt"})
	s := p2.Stream()
	if !h.End("a") {
		t.Fatal("end found no stream")
	}
	select {
	case <-s.Ended():
	default:
		t.Fatal("stream not ended")
	}
	if live, _ := h.State("a"); live {
		t.Fatal("stream still listed after End")
	}
	if connects.Load() != 2 || disconnects.Load() != 2 {
		t.Fatalf("connects=%d disconnects=%d, want 2 and 2", connects.Load(), disconnects.Load())
	}
}

func TestHubPerPublisherReconnectWindow(t *testing.T) {
	h := NewHub(HubConfig{ReconnectWindow: time.Hour})
	defer h.Close()
	p, _ := h.PublishSession("a", avTracks, false, SessionInfo{ReconnectWindow: 50 * time.Millisecond})
	s := p.Stream()
	p.Close()
	select {
	case <-s.Ended():
	case <-time.After(2 * time.Second):
		t.Fatal("the live input's own 50 ms window was not used (the hub's is an hour)")
	}
}
