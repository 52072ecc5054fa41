package record

import (
	"log/slog"
	"os/exec"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Bus is the event bus of the daemon's recorder: it publishes the video
// events and learns broadcast ends.
type Bus interface {
	Publisher
	Subscriber
}

// SetupConfig is what Setup builds the daemon's recorder from.
type SetupConfig struct {
	Conf           conf.Recording
	NodeID         string        // NodeID(Conf.NodeID, data_dir)
	TargetDuration time.Duration // the live packager's EXT-X-TARGETDURATION, which no segment exceeds
	Videos         store.Videos
	LiveInputs     store.LiveInputs
	Blobs          blob.Store
	Bus            Bus
	Render         func(v *store.Video) events.Payload
	Capacity       *ffmpeg.Account // the daemon's ffmpeg account (thumbnails, MP4 builds)
	Registerer     prometheus.Registerer
	Logger         *slog.Logger
}

// Setup builds the recorder as the daemon runs it, and the Service that
// ends its recordings on live_input.idle. The recorder writes its events to
// the webhook outbox in the transactions of its video changes, then
// publishes them on the bus. Without ffmpeg on PATH, thumbnails and MP4
// downloads are off (logged); a metric that cannot be registered is
// logged, not fatal.
func Setup(c SetupConfig) (*Service, error) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		c.Logger.Warn("ffmpeg not found: video thumbnails and MP4 downloads are off")
		ff = ""
	}
	rec, err := New(Config{
		Videos: c.Videos, LiveInputs: c.LiveInputs, Blobs: c.Blobs, Bus: c.Bus, Render: c.Render,
		Logger: c.Logger.With("component", "recorder"), ThumbnailTimePct: c.Conf.ThumbnailTimePct, FFmpeg: ff, Capacity: c.Capacity,
		NodeID: c.NodeID, Lease: c.Conf.Lease.D(), Heartbeat: c.Conf.Heartbeat.D(), TargetDuration: c.TargetDuration,
	})
	if err != nil {
		return nil, err
	}
	if err := rec.Register(c.Registerer); err != nil {
		c.Logger.Warn("cannot export a recording metric", "error", err)
	}
	return NewService(rec, c.Bus, c.Logger), nil
}
