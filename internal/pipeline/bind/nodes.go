package bind

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// Ladders builds the node of a transcode.abr (transcode.Transcoder).
type Ladders interface {
	LadderNode(env *pipeline.Env, profiles []transcode.Profile) pipeline.Node
}

// Recorders builds the node of a record.vod (record.Recorder).
type Recorders interface {
	VODNode(env *pipeline.Env, deleteAfterDays int) pipeline.Node
}

// Restreams builds the node of an output.restream (restream.Manager):
// it runs the live input's stored outputs ids alone.
type Restreams interface {
	OutputNode(env *pipeline.Env, ids []string) pipeline.Node
}

// Components are the parts of the daemon the node types run on; a nil
// or zero one makes its type unavailable.
type Components struct {
	Packager *pipeline.Kind // the LL-HLS packager's kind
	Ladders  Ladders        // nil without ffmpeg
	Recorder Recorders
	Restream Restreams // the restream outputs
	// WHEP is true when WebRTC playback runs: it serves the hub's streams
	// to viewers that come and go, so its node only follows the source.
	WHEP bool
	// Bus carries the events notify.webhook nodes count.
	Bus *events.Bus
	// Thumbnails makes the images of thumbnail nodes; nil (no ffmpeg):
	// the type is not available.
	Thumbnails *Thumbnails
}

// Types returns the manifest node types c runs.
func Types(c Components) map[string]NodeType {
	t := map[string]NodeType{
		"notify.webhook": func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
			return webhookType(c.Bus, n)
		},
	}
	if c.Thumbnails != nil {
		t["thumbnail"] = thumbnailType(c.Thumbnails)
	}
	if k := c.Packager; k != nil {
		t["package.llhls"] = kindType(*k)
	}
	if rs := c.Restream; rs != nil {
		t["output.restream"] = func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
			id, _ := n.Config["output"].(string)
			if id == "" {
				return nil, fmt.Errorf("config.output: the id of a restream output is required")
			}
			return func(env *pipeline.Env) (pipeline.Node, error) { return rs.OutputNode(env, []string{id}), nil }, nil
		}
	}
	if c.WHEP {
		t["package.whep"] = func(manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
			return func(env *pipeline.Env) (pipeline.Node, error) {
				return &follow{kind: "package.whep", src: env.Source}, nil
			}, nil
		}
	}
	if l := c.Ladders; l != nil {
		t["transcode.abr"] = func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
			profiles, err := Profiles(n.Config)
			if err != nil {
				return nil, err
			}
			return func(env *pipeline.Env) (pipeline.Node, error) { return l.LadderNode(env, profiles), nil }, nil
		}
	}
	if rec := c.Recorder; rec != nil {
		t["record.vod"] = func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
			days, _ := intOf(n.Config["delete_after_days"])
			return func(env *pipeline.Env) (pipeline.Node, error) { return rec.VODNode(env, int(days)), nil }, nil
		}
	}
	return t
}

// kindType runs a node kind of the default graph as a pipeline's node.
func kindType(k pipeline.Kind) NodeType {
	return func(manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) { return k.New, nil }
}

// Profiles reads the renditions of a transcode.abr config as transcode
// profiles (codec h265 is the transcoder's hevc).
func Profiles(cfg map[string]any) ([]transcode.Profile, error) {
	l, _ := cfg["renditions"].([]any)
	out := make([]transcode.Profile, 0, len(l))
	for i, x := range l {
		o, _ := x.(map[string]any)
		name, _ := o["name"].(string)
		h, _ := intOf(o["height"])
		b, err := manifest.ParseBitrate(o["video_bitrate"])
		if err != nil || name == "" || h <= 0 {
			return nil, fmt.Errorf("rendition %d: name, height and video_bitrate are required", i)
		}
		codec, _ := o["codec"].(string)
		if codec == "h265" {
			codec = "hevc"
		}
		out = append(out, transcode.Profile{Name: name, Height: int(h), Bitrate: b, Codec: codec})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no rendition")
	}
	return out, nil
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// follow is a node that runs while its source does (WHEP playback, which
// serves the hub's streams itself).
type follow struct {
	kind string
	src  *stream.Stream
}

func (f *follow) ID() string   { return f.kind }
func (f *follow) Kind() string { return f.kind }
func (f *follow) Run(ctx context.Context) error {
	select {
	case <-f.src.Ended():
	case <-ctx.Done():
	}
	return nil
}

// webhookNode counts the events its `on` names (`node.event`, mapped
// onto the live input's events) while its graph runs; the Runtime's
// notifier sends them, through the outbox, to the endpoint it names.
type webhookNode struct {
	bus   *events.Bus
	types map[events.Type]bool
	li    string
	src   *stream.Stream
	in    atomic.Uint64
}

func webhookType(bus *events.Bus, n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
	types := onTypes(n)
	return func(env *pipeline.Env) (pipeline.Node, error) {
		return &webhookNode{bus: bus, types: types, li: env.Source.ID(), src: env.Source}, nil
	}, nil
}

func (w *webhookNode) ID() string   { return "notify.webhook" }
func (w *webhookNode) Kind() string { return "notify.webhook" }

// Counters implements pipeline.Counted: the events that triggered it.
func (w *webhookNode) Counters() pipeline.Counters { return pipeline.Counters{In: w.in.Load()} }

// Run counts triggers until the stream ends (events that follow the
// end, such as video.ready, are sent by the notifier but not counted
// here) or ctx is done.
func (w *webhookNode) Run(ctx context.Context) error {
	if w.bus == nil {
		return (&follow{src: w.src}).Run(ctx)
	}
	sub := w.bus.Subscribe(events.SubscribeOptions{Match: func(e events.Event) bool { return e.LiveInputID == w.li && w.types[e.Type] }})
	defer sub.Close()
	for {
		select {
		case <-sub.C():
			w.in.Add(1)
		case <-sub.Done():
			return nil
		case <-w.src.Ended():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
