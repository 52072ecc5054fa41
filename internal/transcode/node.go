package transcode

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// KindName is the node kind of the ABR ladder.
const KindName = "transcode"

// modeOn is the live input transcode setting that asks for the ladder
// (store.TranscodeSetting.Mode).
const modeOn = "on"

// Kind is the transcoder as a node kind of live graphs: a live input whose
// stored transcode.mode is "on" gets a node that reads its stream, runs
// its ladder (the setting's, or every profile when empty) through ffmpeg,
// and publishes every rung back into the hub as a rendition of the live
// input (Stream.PublishRendition), where the packager and any other
// subscriber read it.
func (t *Transcoder) Kind() pipeline.Kind {
	return pipeline.Kind{Name: KindName, New: t.newNode}
}

// Ladder returns the profile names a live input with setting mode and
// ladder is transcoded to; ok is false when it is not transcoded.
func (t *Transcoder) Ladder(mode string, ladder []string) ([]string, bool) {
	if mode != modeOn {
		return nil, false
	}
	if len(ladder) == 0 {
		for _, p := range t.cfg.Profiles {
			ladder = append(ladder, p.Name)
		}
	}
	return ladder, true
}

func (t *Transcoder) newNode(env *pipeline.Env) (pipeline.Node, error) {
	if env.Input == nil {
		return nil, nil
	}
	ladder, ok := t.Ladder(env.Input.Transcode.Mode, env.Input.Transcode.Ladder)
	if !ok {
		return nil, nil
	}
	return t.ladderNode(env, nil, ladder), nil
}

// LadderNode is the node of a pipeline's transcode.abr: the ladder of
// profiles (their own names, heights and bitrates rather than the
// configured profiles), published into the hub like the default graph's.
func (t *Transcoder) LadderNode(env *pipeline.Env, profiles []Profile) pipeline.Node {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	return t.ladderNode(env, append([]Profile{}, profiles...), names)
}

func (t *Transcoder) ladderNode(env *pipeline.Env, profiles []Profile, ladder []string) pipeline.Node {
	src := env.Source
	for _, tr := range src.Tracks() {
		if tr.Kind() != stream.KindVideo {
			continue
		}
		if stream.TranscodedOnly(tr.Codec) {
			if r, ok := t.topRung(profiles, tr.Codec, ladder); ok {
				codec := r.Codec
				if codec == "hevc" {
					codec = "h265"
				}
				env.Top = &pipeline.TopRendition{Name: r.Name, Codec: codec, Width: r.Width, Height: r.Height}
			}
		}
		break
	}
	k := t.Sink(src, ladder)
	k.out, k.errored, k.profiles = hubOutput{src}, env.Report, profiles
	return &node{k: k, r: src.AddReader(KindName, stream.ReaderOptions{})}
}

// node runs one live input's ladder.
type node struct {
	k *Sink
	r *stream.Reader
}

var (
	_ pipeline.Node              = (*node)(nil)
	_ pipeline.RenditionProducer = (*node)(nil)
)

func (n *node) ID() string          { return KindName }
func (n *node) Kind() string        { return KindName }
func (n *node) ProducesRenditions() {}

func (n *node) Run(ctx context.Context) error {
	defer n.r.Close()
	return n.k.Run(ctx, n.r)
}

// Counters implements pipeline.Counted.
func (n *node) Counters() pipeline.Counters {
	return pipeline.Counters{In: n.k.s.Units(), Dropped: n.r.Dropped()}
}

// hubOutput publishes renditions into the hub as renditions of src.
type hubOutput struct{ src *stream.Stream }

func (h hubOutput) AddRendition(_, name string, tracks []stream.Track) (RenditionWriter, error) {
	return h.src.PublishRendition(name, tracks)
}

// AcceptVPX reports whether a VP8/VP9 WHIP offer may be accepted for live
// input id: only when its stored transcode.mode is "on" and there is ffmpeg
// capacity left, since HLS cannot carry VP8/VP9 and their transcoded H.264
// rungs are all that players get. Otherwise the offer is refused with 406
// saying to enable transcoding or send H.264.
func (t *Transcoder) AcceptVPX(ctx context.Context, settings pipeline.Settings, id string) bool {
	li, err := settings.Get(ctx, id)
	if err != nil {
		t.log.Warn("transcode setting unreadable; refusing vp8/vp9", "live_input", id, "error", err)
		return false
	}
	return li.Transcode.Mode == modeOn && t.Used() < t.Capacity()
}
