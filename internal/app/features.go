package app

import (
	"context"
	"sync"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// featureDeps are the API dependencies the features build from the store.
type featureDeps struct {
	Signing  api.SigningDeps
	Webhooks api.WebhooksDeps
	Videos   api.VideosDeps
	Uploads  api.UploadsDeps
	System   api.SystemDeps
	Outputs  api.OutputsDeps
	Sources  api.SourceStatuser // rtsp.go
}

// featureDeps builds every feature from the opened store and event bus
// (called by openControl, before the API is built).
func (a *App) featureDeps(st store.Store, bus *events.Bus) (featureDeps, error) {
	var fd featureDeps
	var err error
	if fd.Signing, err = a.initPlayback(st, bus); err != nil {
		return fd, err
	}
	if fd.Webhooks, err = a.initWebhooks(st, bus); err != nil {
		return fd, err
	}
	// transcoding first: it builds the ffmpeg capacity account the
	// recorder's thumbnails and MP4 builds draw on too
	if fd.System, err = a.initTranscode(st, bus); err != nil {
		return fd, err
	}
	if fd.Videos, err = a.initRecording(st, bus); err != nil {
		return fd, err
	}
	fd.Outputs = a.initRestream(st, bus)
	fd.Sources = a.initRTSPSources(st, bus)
	if fd.Uploads, err = a.initUploads(st, bus); err != nil { // uploads.go
		return fd, err
	}
	return fd, nil
}

// featureSinks are the sinks the features add to a new stream's graph.
func (a *App) featureSinks(s *stream.Stream) []pipeline.Sink {
	var out []pipeline.Sink
	out = append(out, a.recordingSinks(s)...)
	out = append(out, a.transcodeSinks(s)...)
	return out
}

// startFeatures starts the features' background loops; each adds itself to
// wg and returns when ctx is done.
func (a *App) startFeatures(ctx context.Context, wg *sync.WaitGroup) {
	a.startWebhooks(ctx, wg)
	a.startRecording(ctx, wg)
	a.startUploads(ctx, wg)
}

// closeFeatures releases what the features hold; idempotent, safe on a
// partly built App.
func (a *App) closeFeatures() {
	a.closeUploads()
	a.closeRestream()
	a.closeTranscode()
	a.closeRecording()
	a.closeWebhooks()
	a.closePlayback()
}
