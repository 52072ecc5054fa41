package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/stream"
)

var testTracks = []stream.Track{{Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}

// producer publishes one rendition of the source with the units it reads.
type producer struct {
	env *Env
	r   *stream.Reader
}

func (p *producer) ID() string          { return "producer" }
func (p *producer) Kind() string        { return "producer" }
func (p *producer) ProducesRenditions() {}
func (p *producer) Run(ctx context.Context) error {
	defer p.r.Close()
	rp, err := p.env.Source.PublishRendition("low", testTracks)
	if err != nil {
		return err
	}
	defer rp.End()
	for {
		u, err := p.r.Next(ctx)
		if err != nil {
			return err
		}
		_ = rp.Write(u)
	}
}

// subscriber counts the units of the renditions it is handed, then
// publishes the count on the segments feed and closes it.
type subscriber struct {
	env *Env
	wg  sync.WaitGroup
	mu  sync.Mutex
	n   int
}

func (s *subscriber) ID() string        { return "subscriber" }
func (s *subscriber) Kind() string      { return "subscriber" }
func (s *subscriber) ProducesSegments() {}
func (s *subscriber) Rendition(rs *stream.Stream) {
	r := rs.AddReader("sub", stream.ReaderOptions{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer r.Close()
		for {
			if _, err := r.Next(context.Background()); err != nil {
				return
			}
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
		}
	}()
}
func (s *subscriber) Run(ctx context.Context) error {
	<-s.env.RenditionsDone()
	s.wg.Wait()
	s.env.Segments.Publish(hls.SegmentInfo{MSN: uint64(s.n)})
	s.env.Segments.Close()
	return nil
}

type failing struct{}

func (failing) ID() string                { return "failing" }
func (failing) Kind() string              { return "failing" }
func (failing) Run(context.Context) error { return errors.New("boom") }

// TestGraphRenditionsThroughTheHub: a rendition one node publishes into
// the hub reaches the subscribing node through the hub, the feed carries
// what the subscriber publishes to a node built after it, and the graph
// reports each node's state.
func TestGraphRenditionsThroughTheHub(t *testing.T) {
	var m *Manager
	hub := stream.NewHub(stream.HubConfig{
		OnStart:     func(s *stream.Stream) { m.Start(s) },
		OnRendition: func(s *stream.Stream) { m.Rendition(s) },
		OnEnd:       func(s *stream.Stream) { m.End(s) },
	})
	var sub *subscriber
	got := make(chan uint64, 1)
	reg := &Registry{}
	reg.Register(Kind{Name: "subscriber", New: func(env *Env) (Node, error) { sub = &subscriber{env: env}; return sub, nil }})
	reg.Register(Kind{Name: "producer", New: func(env *Env) (Node, error) {
		return &producer{env: env, r: env.Source.AddReader("producer", stream.ReaderOptions{})}, nil
	}})
	reg.Register(Kind{Name: "off", New: func(*Env) (Node, error) { return nil, nil }})
	reg.Register(Kind{Name: "failing", New: func(*Env) (Node, error) { return failing{}, nil }})
	reg.Register(Kind{Name: "feed", New: func(env *Env) (Node, error) {
		in := env.Segments.Subscribe(4)
		return nodeFunc(func(context.Context) error {
			for seg := range in {
				got <- seg.MSN
			}
			return nil
		}), nil
	}})
	var err error
	if m, err = NewManager(ManagerConfig{Kinds: reg}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := hub.Publish("li", testTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	if hub.Get(stream.RenditionKey("li", "low")) == nil {
		time.Sleep(50 * time.Millisecond) // the producer publishes when it runs
	}
	for i := range 10 {
		p.Write(&stream.Unit{DTS: time.Duration(i) * 20 * time.Millisecond, Data: []byte{1}})
	}
	time.Sleep(100 * time.Millisecond)
	sts := m.Status("li")
	if len(sts) != 4 || sts[2].State != StateFailed || sts[2].LastError != "boom" {
		t.Fatalf("status %+v", sts)
	}
	p.End()
	select {
	case n := <-got:
		if n != 10 {
			t.Fatalf("the subscriber read %d units of the rendition, want 10", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the feed carried nothing")
	}
	if m.Status("li") != nil {
		t.Fatal("graph still reported after the end")
	}
}

type nodeFunc func(context.Context) error

func (f nodeFunc) ID() string                    { return "feed" }
func (f nodeFunc) Kind() string                  { return "feed" }
func (f nodeFunc) Run(ctx context.Context) error { return f(ctx) }

// TestGraphFeedClosedWithoutPackager: when the node that publishes
// segments failed to build (a publisher's bad codec parameters), the
// feed's subscribers still see it closed, so the graph drains when the
// stream ends instead of waiting forever.
func TestGraphFeedClosedWithoutPackager(t *testing.T) {
	var m *Manager
	hub := stream.NewHub(stream.HubConfig{
		OnStart: func(s *stream.Stream) { m.Start(s) },
		OnEnd:   func(s *stream.Stream) { m.End(s) },
	})
	reg := &Registry{}
	reg.Register(Kind{Name: "packager", New: func(*Env) (Node, error) { return nil, errors.New("invalid codec parameters") }})
	reg.Register(Kind{Name: "feed", New: func(env *Env) (Node, error) {
		in := env.Segments.Subscribe(4)
		return nodeFunc(func(ctx context.Context) error {
			for {
				select {
				case _, ok := <-in:
					if !ok {
						return nil
					}
				case <-ctx.Done():
					return nil
				}
			}
		}), nil
	}})
	var err error
	if m, err = NewManager(ManagerConfig{Kinds: reg}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := hub.Publish("li", testTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { p.End(); hub.Close(); close(closed) }() // End waits for the graph to drain
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the graph did not drain: its feed subscriber still waits")
	}
	if m.Status("li") != nil {
		t.Fatal("graph still reported after the end")
	}
}

// reporting runs until its source ends and reports a last error.
type reporting struct{ src *stream.Stream }

func (reporting) ID() string        { return "reporting" }
func (reporting) Kind() string      { return "reporting" }
func (reporting) LastError() string { return "busy, picture skipped" }
func (r reporting) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-r.src.Ended():
	}
	return nil
}

// TestGraphRenameAndReporting: a running node takes a new id (not one
// already in the graph), and a Reporting node's last error is its
// status's while it runs.
func TestGraphRenameAndReporting(t *testing.T) {
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", testTracks, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	src := hub.Get("li")
	newNode := func(env *Env) (Node, error) { return reporting{src: env.Source}, nil }
	g := BuildNodes(t.Context(), []NodeSpec{{ID: "a", Type: "r", New: newNode}, {ID: "b", Type: "r", New: newNode}}, &Env{Source: src})
	defer g.Close()
	if g.Rename("a", "b") || g.Rename("x", "y") || g.Rename("a", "") {
		t.Fatal("a rename onto an existing id, of a missing node or to nothing was done")
	}
	if !g.Rename("a", "c") {
		t.Fatal("rename refused")
	}
	ids := map[string]string{}
	for _, st := range g.Status() {
		ids[st.ID] = st.LastError
	}
	if _, ok := ids["c"]; !ok || len(ids) != 2 || ids["c"] != "busy, picture skipped" {
		t.Fatalf("status after the rename: %v", ids)
	}
	if !g.Remove("c") {
		t.Fatal("the renamed node is not removable by its new id")
	}
}

func TestRegistryLookup(t *testing.T) {
	var r Registry
	r.Register(Kind{Name: "hls"})
	r.Register(Kind{Name: "record"})
	if k := r.Lookup("record"); k == nil || k.Name != "record" {
		t.Fatalf("record: %+v", k)
	}
	if k := r.Lookup("restream"); k != nil {
		t.Fatalf("restream: %+v", k)
	}
}
