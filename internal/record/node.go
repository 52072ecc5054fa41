package record

import (
	"context"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// KindName is the node kind of the recorder.
const KindName = "record"

// segmentQueue is the node's queue of completed segments; the recorder's
// own bounded queue (Config.Queue) follows it.
const segmentQueue = 64

// Kind is the recorder as a node kind of live graphs. Its node subscribes
// to the graph's Segments feed (the LL-HLS packager's completed segments,
// so a recording is made of the very bytes served live: no second encode,
// no remux) and hands them to the recorder, which keeps those of the
// recorded rendition: the source, or for a source the packager cannot
// carry (VP8/VP9) the top transcoded rung (pipeline.Env.Top), described
// as that rung. Whether the broadcast is recorded at all is the live
// input's recording setting, read by the recorder. The recording ends on
// live_input.idle (Run), after the graph drained.
func (r *Recorder) Kind() pipeline.Kind {
	return pipeline.Kind{Name: KindName, New: func(env *pipeline.Env) (pipeline.Node, error) {
		return r.newNode(env), nil
	}}
}

// VODNode is the node of a pipeline's record.vod: it records the
// broadcast whatever the live input's recording setting says, its videos
// deleted after deleteAfterDays (0: kept).
func (r *Recorder) VODNode(env *pipeline.Env, deleteAfterDays int) pipeline.Node {
	return r.nodeWith(env, &store.Recording{Mode: store.RecordingAutomatic, DeleteAfterDays: deleteAfterDays})
}

func (r *Recorder) newNode(env *pipeline.Env) *node { return r.nodeWith(env, nil) }

func (r *Recorder) nodeWith(env *pipeline.Env, setting *store.Recording) *node {
	id := env.Source.ID()
	tracks := Tracks(env.Source.Tracks())
	if top := env.Top; top != nil {
		for i := range tracks {
			if tracks[i].Kind == "video" {
				tracks[i] = store.VideoTrack{Kind: "video", Codec: top.Codec, Width: top.Width, Height: top.Height}
			} else {
				tracks[i].Codec = "aac" // the rungs' audio: AAC copied or from Opus
			}
		}
		r.startWith(id, tracks, top.Name, setting)
	} else {
		r.startWith(id, tracks, "", setting)
	}
	return &node{r: r, id: id, in: env.Segments.Subscribe(segmentQueue)}
}

// Tracks describes a stream's tracks for its video: kind, codec and, for
// video, the picture size its parameters declare.
func Tracks(ts []stream.Track) []store.VideoTrack {
	out := make([]store.VideoTrack, 0, len(ts))
	for _, t := range ts {
		vt := store.VideoTrack{Kind: "audio", Codec: t.Codec.Name()}
		if t.Kind() == stream.KindVideo {
			vt.Kind = "video"
			vt.Width, vt.Height, _ = stream.VideoSize(t.Codec)
		}
		out = append(out, vt)
	}
	return out
}

// node hands one live input's completed segments to the recorder.
type node struct {
	r  *Recorder
	id string
	in <-chan hls.SegmentInfo
	n  uint64
}

var _ pipeline.Node = (*node)(nil)

func (n *node) ID() string   { return KindName }
func (n *node) Kind() string { return KindName }

// Run forwards segments until the packager closes the feed (after the
// broadcast's last segment) or ctx is done.
func (n *node) Run(ctx context.Context) error {
	for {
		select {
		case seg, ok := <-n.in:
			if !ok {
				return nil
			}
			n.n++
			n.r.Segment(n.id, seg)
		case <-ctx.Done():
			return nil
		}
	}
}
