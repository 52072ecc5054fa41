package bind

import (
	"log/slog"
	"os/exec"
	"path/filepath"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// SetupConfig is what Setup builds the daemon's pipeline runtime from:
// the Runtime's Config but its Types, Profiles, Transcoding and
// Thumbnails, which Setup fills from the components.
type SetupConfig struct {
	Config
	Components // but Ladders and Thumbnails, which Setup fills
	// Transcoder runs the ladders of transcode.abr nodes; nil: transcoding
	// is off and the default graph has no ladder.
	Transcoder *transcode.Transcoder
	// DataDir holds the images of thumbnail nodes (live-thumbnails/),
	// made with ffmpeg (found on PATH; without it the type is not
	// available) on the Capacity account.
	DataDir  string
	Capacity *ffmpeg.Account
}

// Setup builds the pipeline runtime of the daemon: the manifest node types
// it runs on the components given (the packager, the ladder, the recorder,
// restream outputs, WHEP, thumbnails when ffmpeg is on PATH).
func Setup(c SetupConfig) (*Runtime, error) {
	cfg, comp := c.Config, c.Components
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if tc := c.Transcoder; tc != nil {
		comp.Ladders, cfg.Profiles, cfg.Transcoding = tc, tc.Profiles(), true
	}
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		// thumbnail nodes' images: a few per node, in the data directory
		th, err := NewThumbnails(ThumbnailsConfig{Dir: filepath.Join(c.DataDir, "live-thumbnails"), FFmpeg: ff,
			Capacity: c.Capacity, Logger: cfg.Logger.With("component", "thumbnails")})
		if err != nil {
			return nil, err
		}
		comp.Thumbnails, cfg.Thumbnails = th, th
	}
	cfg.Types = Types(comp)
	return New(cfg)
}
