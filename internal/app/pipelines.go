package app

import (
	"github.com/mpegflow/mpegflow/internal/output/hlsout"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/bind"
)

// wirePipelines runs stored pipelines: a live input bound by a
// pipeline's source.live node gets its graph built from the pipeline's
// nodes when it goes live (the others keep their default graph), and a
// generation applied while it is live is planned onto the running graph.
// Its node types run on the kinds registered before it (the packager,
// the ladder, the recorder, restream outputs).
func wirePipelines(b *Builder) error {
	c := bind.SetupConfig{
		Config: bind.Config{Pipelines: b.Store.Pipelines(), LiveInputs: b.Store.LiveInputs(), Outputs: b.Store.Outputs(),
			Events: b.Events, Bus: b.Bus, Notify: b.Webhooks, Logger: b.Log.With("component", "pipelines")},
		Components: bind.Components{Packager: b.Kinds.Lookup(hlsout.KindName), Recorder: b.Recorder, WHEP: b.ICE != nil, Bus: b.Bus},
		Transcoder: b.Transcode.Transcoder, DataDir: b.Config.DataDir, Capacity: b.FFmpeg,
	}
	if rs, ok := b.Outputs.Runtime.(bind.Restreams); ok {
		c.Restream = rs // the restream manager (wireRestream)
	}
	rt, err := bind.Setup(c)
	if err != nil {
		return err
	}
	b.Kinds.Bind(rt)
	b.Pipelines = rt
	stop := make(chan struct{})
	b.Actor("pipelines", func() error { <-stop; return nil }, func(error) {
		rt.Close()
		close(stop)
	})
	return nil
}

var _ pipeline.Binder = (*bind.Runtime)(nil)
