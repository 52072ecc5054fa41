package app

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/upload"
	"github.com/mpegflow/mpegflow/web"
)

// wireUploads builds videos made from files (tus direct uploads at
// /uploads/, plain uploads, copies from a URL through the SSRF guard),
// processed by a leased job queue into the same VOD assets as recordings,
// in the recorder's blob store, on the one ffmpeg capacity account.
func wireUploads(b *Builder) error {
	c := upload.ConfigFrom(b.Config.Uploads, b.Config.DataDir)
	c.Videos, c.Uploads, c.Blobs, c.Bus = b.Store.Videos(), b.Store.Uploads(), b.Blobs, b.Bus
	c.Capacity, c.Ladder, c.NodeID = b.FFmpeg, b.Transcode.Profiles, b.Recorder.NodeID()
	c.Render, c.Thumbnails, c.Logger = b.Render.VideoData, b.Recorder, b.Log.With("component", "uploads")
	svc, err := upload.New(c)
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
