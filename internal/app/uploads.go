package app

import (
	"context"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/upload"
	"github.com/mpegflow/mpegflow/web"
)

// wireUploads builds videos made from files (tus direct uploads at
// /uploads/, plain uploads, copies from a URL through the SSRF guard),
// processed by a leased job queue into the same VOD assets as recordings,
// in the recorder's blob store, on the one ffmpeg capacity account.
func wireUploads(b *Builder) error {
	ff, _ := exec.LookPath("ffmpeg")
	fp, _ := exec.LookPath("ffprobe")
	c := b.Config.Uploads
	svc, err := upload.New(upload.Config{
		Videos: b.Store.Videos(), Uploads: b.Store.Uploads(), Blobs: b.Blobs, Bus: b.Bus,
		Dir: filepath.Join(b.Config.DataDir, "uploads"), Logger: b.Log.With("component", "uploads"),
		FFmpeg: ff, FFprobe: fp, Capacity: b.FFmpeg, Ladder: b.Transcode.Profiles, NodeID: b.Recorder.NodeID(), Workers: c.Workers,
		MaxSize: c.MaxSize, MaxUnfinished: c.MaxUnfinishedPerToken, PlainMaxSize: c.PlainMaxSize, CopyMaxSize: c.CopyMaxSize, CopyTimeout: c.CopyTimeout.D(),
		Guard:  netguard.New(netguard.Config{AllowPrivate: c.AllowPrivateSources, Timeout: 10 * time.Second}),
		Render: b.Render.VideoData, Thumbnails: b.Recorder,
	})
	if err != nil {
		return err
	}
	b.Uploads = api.UploadsOver(svc)
	b.Handle("/uploads/", svc.TusHandler())
	b.Handle("GET /upload/{$}", web.UploadPageHandler()) // the browser's tus-js-client page
	ctx, cancel := context.WithCancel(context.Background())
	b.Actor("uploads", func() error { return ignoreCanceled(svc.Run(ctx)) }, func(error) {
		cancel()
		svc.Close() // jobs in progress are requeued before the store closes
	})
	return nil
}
