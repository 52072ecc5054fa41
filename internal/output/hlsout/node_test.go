package hlsout

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// rungCopier publishes the source back into the hub as rendition "240p"
// and withdraws it when told.
type rungCopier struct {
	env      *pipeline.Env
	r        *stream.Reader
	withdraw chan struct{}
}

func (c *rungCopier) ID() string          { return "copier" }
func (c *rungCopier) Kind() string        { return "copier" }
func (c *rungCopier) ProducesRenditions() {}
func (c *rungCopier) Run(ctx context.Context) error {
	defer c.r.Close()
	rp, err := c.env.Source.PublishRendition("240p", c.env.Source.Tracks())
	if err != nil {
		return err
	}
	defer rp.End()
	for {
		u, err := c.r.Next(ctx)
		if err != nil {
			return err
		}
		select {
		case <-c.withdraw:
			rp.Remove()
		default:
			_ = rp.Write(u)
		}
	}
}

type segCollector struct {
	in  <-chan hls.SegmentInfo
	mu  sync.Mutex
	got map[string]int
}

func (s *segCollector) ID() string   { return "segments" }
func (s *segCollector) Kind() string { return "segments" }
func (s *segCollector) Run(context.Context) error {
	for seg := range s.in {
		s.mu.Lock()
		s.got[seg.Rendition]++
		s.mu.Unlock()
	}
	return nil
}

func serve(srv *Server, rest string) string {
	w := httptest.NewRecorder()
	srv.ServeStream(w, httptest.NewRequest("GET", "/live/li/"+rest, nil), "li", rest)
	b, _ := io.ReadAll(w.Result().Body)
	return string(b)
}

// TestNodeRenditionsFromTheHub: the packager node packages the source and
// the renditions published into the hub under its live input, puts every
// completed segment on the graph's feed, takes a withdrawn rendition out of
// the multivariant playlist, and ends the playlists and the feed with the
// stream.
func TestNodeRenditionsFromTheHub(t *testing.T) {
	srv := New(Config{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond})
	defer srv.Close()
	var g *pipeline.Graph
	var gmu sync.Mutex
	hub := stream.NewHub(stream.HubConfig{OnRendition: func(s *stream.Stream) {
		gmu.Lock()
		defer gmu.Unlock()
		g.Rendition(s)
	}})
	tracks := []stream.Track{{Codec: stream.H264{SPS: testSPS, PPS: testPPS}}}
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	withdraw := make(chan struct{})
	col := &segCollector{got: map[string]int{}}
	reg := &pipeline.Registry{}
	reg.Register(srv.Kind())
	reg.Register(pipeline.Kind{Name: "copier", New: func(env *pipeline.Env) (pipeline.Node, error) {
		return &rungCopier{env: env, r: env.Source.AddReader("copier", stream.ReaderOptions{}), withdraw: withdraw}, nil
	}})
	reg.Register(pipeline.Kind{Name: "segments", New: func(env *pipeline.Env) (pipeline.Node, error) {
		col.in = env.Segments.Subscribe(64)
		return col, nil
	}})
	gmu.Lock()
	g = pipeline.Build(context.Background(), reg, &pipeline.Env{Source: pub.Stream()})
	gmu.Unlock()
	defer g.Close()

	start := time.Now()
	write := func(from, to int) {
		for i := from; i < to; i++ { // 10 fps, a key frame every second
			nalu := []byte{0x41, 0x9a, 0x00}
			if i%10 == 0 {
				nalu = []byte{0x65, 0x88, 0x84, 0x00}
			}
			d := time.Duration(i) * 100 * time.Millisecond
			pub.Write(&stream.Unit{DTS: d, PTS: d, Key: i%10 == 0, Wall: start.Add(d), NALUs: [][]byte{nalu}})
		}
	}
	write(0, 50)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(serve(srv, "index.m3u8"), "240p/media.m3u8") {
		if time.Now().After(deadline) {
			t.Fatalf("240p never listed:\n%s", serve(srv, "index.m3u8"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(withdraw)
	write(50, 60)
	for strings.Contains(serve(srv, "index.m3u8"), "240p/media.m3u8") {
		if time.Now().After(deadline) {
			t.Fatal("the withdrawn 240p is still listed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	write(60, 80)
	pub.End()
	g.Wait()
	if pl := serve(srv, "source/media.m3u8"); !strings.Contains(pl, "#EXT-X-ENDLIST") {
		t.Fatalf("no ENDLIST after the end:\n%s", pl)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.got["source"] < 5 || col.got["240p"] < 2 {
		t.Fatalf("segments on the feed: %v", col.got)
	}
}

// aacMaker stands for transcode.audio: built before the packager, it sets
// Env.Audio and publishes the rendition "aac" holding one AAC track, whose
// frames (on the source's timeline) come lag behind the source's Opus.
type aacMaker struct {
	env *pipeline.Env
	r   *stream.Reader
	lag time.Duration
}

func (c *aacMaker) ID() string          { return "aacmaker" }
func (c *aacMaker) Kind() string        { return "aacmaker" }
func (c *aacMaker) ProducesRenditions() {}
func (c *aacMaker) Run(ctx context.Context) error {
	defer c.r.Close()
	rp, err := c.env.Source.PublishRendition("aac", []stream.Track{{Codec: c.env.Audio.Codec}})
	if err != nil {
		return err
	}
	defer rp.End()
	for {
		u, err := c.r.Next(ctx)
		if err != nil {
			return nil
		}
		if u.Track != 1 {
			continue
		}
		time.Sleep(time.Until(u.Wall.Add(c.lag)))
		_ = rp.Write(&stream.Unit{DTS: u.PTS, PTS: u.PTS, Wall: u.Wall, Key: true, Data: make([]byte, 200)})
	}
}

// TestNodeAudioFromRendition: a source with Opus whose graph has an
// Env.Audio rendition is packaged as one muxed variant of its video and
// that rendition's AAC: the multivariant playlist lists AAC, not Opus, and
// no variant or audio group of its own for the AAC rendition.
func TestNodeAudioFromRendition(t *testing.T) {
	srv := New(Config{SegmentDuration: time.Second, PartDuration: 200 * time.Millisecond})
	defer srv.Close()
	var g *pipeline.Graph
	var gmu sync.Mutex
	hub := stream.NewHub(stream.HubConfig{OnRendition: func(s *stream.Stream) {
		gmu.Lock()
		defer gmu.Unlock()
		g.Rendition(s)
	}})
	tracks := []stream.Track{{Codec: stream.H264{SPS: testSPS, PPS: testPPS}}, {Codec: stream.Opus{ChannelCount: 2}}}
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	reg := &pipeline.Registry{}
	reg.Register(pipeline.Kind{Name: "aacmaker", New: func(env *pipeline.Env) (pipeline.Node, error) {
		env.Audio = &pipeline.AudioRendition{Name: "aac", Codec: stream.AAC{Config: []byte{0x11, 0x90}}, Lag: 600 * time.Millisecond}
		return &aacMaker{env: env, r: env.Source.AddReader("aacmaker", stream.ReaderOptions{}), lag: 50 * time.Millisecond}, nil
	}})
	reg.Register(srv.Kind())
	gmu.Lock()
	g = pipeline.Build(context.Background(), reg, &pipeline.Env{Source: pub.Stream()})
	gmu.Unlock()
	defer g.Close()

	start := time.Now()
	aFrame := 20 * time.Millisecond
	next := time.Duration(0)
	for i := range 40 { // 10 fps, a key frame every second, Opus every 20 ms
		d := time.Duration(i) * 100 * time.Millisecond
		time.Sleep(time.Until(start.Add(d)))
		for ; next < d+100*time.Millisecond; next += aFrame {
			pub.Write(&stream.Unit{Track: 1, DTS: next, PTS: next, Key: true, Wall: start.Add(next), Data: []byte{0xfc, 1, 2}})
		}
		nalu := []byte{0x41, 0x9a, 0x00}
		if i%10 == 0 {
			nalu = []byte{0x65, 0x88, 0x84, 0x00}
		}
		pub.Write(&stream.Unit{DTS: d, PTS: d, Key: i%10 == 0, Wall: start.Add(d), NALUs: [][]byte{nalu}})
	}
	multi := serve(srv, "index.m3u8")
	pub.End()
	g.Wait()
	if !strings.Contains(multi, "mp4a.40.2") || strings.Contains(multi, "opus") || strings.Contains(multi, "aac/") ||
		strings.Count(multi, "#EXT-X-STREAM-INF") != 1 {
		t.Fatalf("multivariant playlist, want one variant of H.264 and AAC:\n%s", multi)
	}
	if pl := serve(srv, "source/media.m3u8"); strings.Count(pl, "#EXTINF") < 3 || !strings.Contains(pl, "#EXT-X-ENDLIST") {
		t.Fatalf("source playlist:\n%s", pl)
	}
}
