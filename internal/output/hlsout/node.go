package hlsout

import (
	"context"
	"errors"
	"sync"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// KindName is the node kind of the LL-HLS packager.
const KindName = "hls"

// Kind is the LL-HLS packager as a node kind of live graphs: one muxer per
// live input's stream, fed by a reader of the source stream, plus one
// reader per rendition published into the hub under the live input (its
// transcoded rungs). Every segment the muxer completes goes onto the
// graph's Segments feed; the feed is closed after the broadcast's last
// segment (EXT-X-ENDLIST).
func (s *Server) Kind() pipeline.Kind {
	return pipeline.Kind{Name: KindName, New: func(env *pipeline.Env) (pipeline.Node, error) { return s.newNode(env) }}
}

// Node packages one live input's stream and its renditions.
type Node struct {
	srv    *Server
	env    *pipeline.Env
	e      *entry
	sink   *StreamSink
	r      *stream.Reader
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // rendition readers

	mu     sync.Mutex
	rends  []*stream.Reader
	closed bool // Run no longer takes renditions
}

var (
	_ pipeline.Node                = (*Node)(nil)
	_ pipeline.RenditionSubscriber = (*Node)(nil)
	_ pipeline.SegmentProducer     = (*Node)(nil)
	_ pipeline.Counted             = (*Node)(nil)
)

func (s *Server) newNode(env *pipeline.Env) (*Node, error) {
	e, err := s.newEntry(env.Source, env.Segments.Publish, env.Audio)
	if err != nil {
		return nil, err
	}
	n := &Node{srv: s, env: env, e: e, sink: &StreamSink{srv: s, e: e}, r: env.Source.AddReader(KindName, stream.ReaderOptions{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// ID implements pipeline.Node.
func (n *Node) ID() string { return KindName }

// Kind implements pipeline.Node.
func (n *Node) Kind() string { return KindName }

// ProducesSegments implements pipeline.SegmentProducer.
func (n *Node) ProducesSegments() {}

// Counters implements pipeline.Counted: units dropped by the readers.
func (n *Node) Counters() pipeline.Counters {
	c := pipeline.Counters{In: n.env.Source.Units(), Dropped: n.r.Dropped()}
	n.mu.Lock()
	for _, r := range n.rends {
		c.Dropped += r.Dropped()
	}
	n.mu.Unlock()
	return c
}

// Run packages the source until it ends, then waits for the renditions to
// end (none is published once the graph's producers returned), then ends
// the muxer (EXT-X-ENDLIST; its last segments go onto the feed) and closes
// the feed.
func (n *Node) Run(ctx context.Context) error {
	defer n.env.Segments.Close()
	defer n.cancel()
	stop := context.AfterFunc(ctx, n.cancel)
	defer stop()
	err := n.sink.Run(n.ctx, n.r)
	n.r.Close()
	select {
	case <-n.env.RenditionsDone():
	case <-n.ctx.Done():
	}
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
	n.srv.end(n.e)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Rendition implements pipeline.RenditionSubscriber: the rendition joins
// the muxer next to the source (RFC 8216bis §6.2.4: renditions of a muxer
// share one timeline), fed by its own reader until it ends; a rendition
// withdrawn while the stream goes on leaves the multivariant playlist.
func (n *Node) Rendition(rs *stream.Stream) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if n.e.audioFrom != "" && rs.Rendition() == n.e.audioFrom {
		n.sourceAudio(rs)
		return
	}
	rend, err := n.srv.addRendition(n.e, rs.Rendition(), rs.Tracks())
	if err != nil {
		n.env.Log.Warn("rendition not packaged", "rendition", rs.Rendition(), "error", err)
		return
	}
	r := rs.AddReader(KindName, stream.ReaderOptions{})
	n.rends = append(n.rends, r)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer r.Close()
		for {
			u, err := r.Next(n.ctx)
			if err != nil {
				if errors.Is(err, stream.ErrEnded) && rs.Withdrawn() {
					rend.Remove()
				}
				return
			}
			_ = rend.Write(u) // counted and logged by Write
		}
	}()
}

// sourceAudio reads the rendition that carries the source rendition's
// audio (pipeline.AudioRendition: AAC transcoded from the source's Opus,
// on the source's timeline) into the source rendition, next to the
// source's video; called with n.mu held. The source's video decides the
// timeline: the rendition's discontinuities follow the source's, which
// the source's own units announce.
func (n *Node) sourceAudio(rs *stream.Stream) {
	r := rs.AddReader(KindName, stream.ReaderOptions{})
	n.rends = append(n.rends, r)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer r.Close()
		_ = n.sink.runAudio(n.ctx, r)
	}()
}
