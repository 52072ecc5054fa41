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
