package hlsout

import (
	"errors"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	testPPS = []byte{0x68, 0xee, 0x3c, 0x80}
)

func TestAddRendition(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	tracks := []stream.Track{{Codec: stream.H264{SPS: testSPS, PPS: testPPS}}}
	if _, err := srv.AddRendition("li", "240p", tracks); !errors.Is(err, ErrNotLive) {
		t.Fatalf("AddRendition before the stream: %v, want ErrNotLive", err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Sink(pub.Stream()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rend    string
		tracks  []stream.Track
		wantErr bool
	}{
		{"rung", "240p", tracks, false},
		{"same name again", "240p", tracks, true},
		{"the source's name", "source", tracks, true},
		{"bad name", "a/b", tracks, true},
		{"unsupported codec", "x", []stream.Track{{Codec: nil}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := srv.AddRendition("li", tt.rend, tt.tracks)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.Name() != tt.rend {
				t.Errorf("Name = %q", r.Name())
			}
			key := &stream.Unit{DTS: time.Second, PTS: time.Second, Key: true, Wall: time.Now(),
				NALUs: [][]byte{testSPS, testPPS, {0x65, 0x88, 0x84, 0x00}}}
			if err := r.Write(key); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := r.Write(&stream.Unit{Track: 5}); err != nil {
				t.Fatalf("Write to an unknown track: %v, want ignored", err)
			}
		})
	}
}

// TestVP8SourceNotServed: a VP8 stream's muxer has no source rendition
// (HLS cannot carry VP8); its units are drained, and a transcoded rung
// named "source" can be added.
func TestVP8SourceNotServed(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", []stream.Track{{Codec: stream.VP8{Width: 320, Height: 240}}, {Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	s := pub.Stream()
	sk, err := srv.Sink(s)
	if err != nil {
		t.Fatal(err)
	}
	r := s.AddReader("hls", stream.ReaderOptions{QueueSize: 16})
	done := make(chan error, 1)
	go func() { done <- sk.Run(t.Context(), r) }()
	pub.Write(&stream.Unit{Track: 0, DTS: 0, PTS: 0, Key: true, Wall: time.Now(), NALUs: [][]byte{{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}}})
	pub.Write(&stream.Unit{Track: 1, DTS: 0, PTS: 0, Key: true, Wall: time.Now(), Data: []byte{1, 2, 3}})
	rend, err := srv.AddRendition("li", "source", []stream.Track{{Codec: stream.H264{SPS: testSPS, PPS: testPPS}}})
	if err != nil {
		t.Fatalf("rung named source: %v", err)
	}
	if err := rend.Write(&stream.Unit{DTS: time.Second, PTS: time.Second, Key: true, Wall: time.Now(),
		NALUs: [][]byte{testSPS, testPPS, {0x65, 0x88, 0x84, 0x00}}}); err != nil {
		t.Fatal(err)
	}
	pub.End()
	if err := <-done; err != nil {
		t.Fatalf("sink: %v", err)
	}
}
