package app

import (
	"os/exec"
	"path/filepath"

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
	c := bind.Components{Recorder: b.Recorder, WHEP: b.ICE != nil, Bus: b.Bus}
	for _, k := range b.Kinds.Kinds() {
		if k.Name == hlsout.KindName {
			c.Packager = &k
		}
	}
	if rs, ok := b.Outputs.Runtime.(bind.Restreams); ok {
		c.Restream = rs // the restream manager (wireRestream)
	}
	cfg := bind.Config{Pipelines: b.Store.Pipelines(), LiveInputs: b.Store.LiveInputs(), Outputs: b.Store.Outputs(),
		Events: b.Events, Bus: b.Bus, Notify: b.Webhooks, Logger: b.Log.With("component", "pipelines")}
	if tc := b.Transcode.Transcoder; tc != nil {
		c.Ladders, cfg.Profiles, cfg.Transcoding = tc, tc.Profiles(), true
	}
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		// thumbnail nodes' images: a few per node, in the data directory
		th, err := bind.NewThumbnails(bind.ThumbnailsConfig{Dir: filepath.Join(b.Config.DataDir, "live-thumbnails"), FFmpeg: ff,
			Capacity: b.FFmpeg, Logger: b.Log.With("component", "thumbnails")})
		if err != nil {
			return err
		}
		c.Thumbnails, cfg.Thumbnails = th, th
	}
	cfg.Types = bind.Types(c)
	rt, err := bind.New(cfg)
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
