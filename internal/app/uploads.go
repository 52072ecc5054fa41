package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/upload"
)

// uploads is the uploads feature: videos made from files (tus direct
// uploads, plain uploads, copies from a URL), processed into the same VOD
// assets as recordings, in the recorder's blob store.
type uploads struct {
	svc *upload.Service
}

// initUploads builds the upload service (after the recorder: it shares its
// blob store, node id and thumbnails).
func (a *App) initUploads(st store.Store, bus *events.Bus) (api.UploadsDeps, error) {
	if a.rec == nil {
		return api.UploadsDeps{}, errors.New("uploads: the recorder is not built")
	}
	ff, _ := exec.LookPath("ffmpeg")
	fp, _ := exec.LookPath("ffprobe")
	c := a.cfg.Uploads
	svc, err := upload.New(upload.Config{
		Videos: st.Videos(), Uploads: st.Uploads(), Blobs: a.rec.blobs, Bus: bus,
		Dir: filepath.Join(a.cfg.DataDir, "uploads"), Logger: a.log.With("component", "uploads"),
		FFmpeg: ff, FFprobe: fp, Capacity: a.ffm, NodeID: a.rec.rec.NodeID(), Workers: c.Workers,
		MaxSize: c.MaxSize, MaxUnfinished: c.MaxUnfinishedPerToken, PlainMaxSize: c.PlainMaxSize, CopyMaxSize: c.CopyMaxSize, CopyTimeout: c.CopyTimeout.D(),
		Guard:  netguard.New(netguard.Config{AllowPrivate: c.AllowPrivateSources, Timeout: 10 * time.Second}),
		Render: a.videoData, Thumbnails: a.rec.rec,
	})
	if err != nil {
		return api.UploadsDeps{}, fmt.Errorf("uploads: %w", err)
	}
	a.up = &uploads{svc: svc}
	return api.UploadsDeps{Uploads: uploadService{svc}}, nil
}

// startUploads runs the processing queue until ctx is done.
func (a *App) startUploads(ctx context.Context, wg *sync.WaitGroup) {
	if a.up == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.up.svc.Run(ctx)
	}()
}

// closeUploads stops the queue (jobs in progress are requeued) before the
// store closes; idempotent, nil-safe.
func (a *App) closeUploads() {
	if a.up != nil {
		a.up.svc.Close()
	}
}

// uploadRoutes mounts the one-time tus URLs of direct uploads.
func (a *App) uploadRoutes(mux *http.ServeMux) {
	if a.up != nil {
		mux.Handle("/uploads/", a.up.svc.TusHandler())
	}
}

// uploadService is the API's UploadService over the upload service.
type uploadService struct{ s *upload.Service }

func (u uploadService) CreateDirect(ctx context.Context, o api.UploadOptions) (*store.Video, string, error) {
	d, err := u.s.CreateDirect(ctx, uploadOptions(o))
	if err != nil {
		return nil, "", apiUploadErr(err)
	}
	return d.Video, upload.TusPath(d.Video.ID, d.Secret), nil
}

func (u uploadService) CreatePlain(ctx context.Context, body io.Reader, o api.UploadOptions) (*store.Video, error) {
	v, err := u.s.CreatePlain(ctx, body, uploadOptions(o))
	return v, apiUploadErr(err)
}

func (u uploadService) CreateCopy(ctx context.Context, url string, o api.UploadOptions) (*store.Video, error) {
	v, err := u.s.CreateCopy(ctx, url, uploadOptions(o))
	return v, apiUploadErr(err)
}

func (u uploadService) PlainMaxSize() int64 { return u.s.PlainMaxSize() }

func uploadOptions(o api.UploadOptions) upload.Options {
	return upload.Options{Meta: o.Meta, Creator: o.Creator, RequireSignedURLs: o.RequireSignedURLs, AllowedOrigins: o.AllowedOrigins,
		MaxDurationSeconds: o.MaxDurationSeconds, MaxSizeBytes: o.MaxSizeBytes, Expiry: o.Expiry, Name: o.Name, TokenID: o.TokenID}
}

// apiUploadErr maps the upload service's errors onto the API's.
func apiUploadErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, upload.ErrTooLarge):
		return fmt.Errorf("%w: %w", api.ErrUploadTooLarge, err)
	case errors.Is(err, upload.ErrEmpty), errors.Is(err, upload.ErrIncomplete):
		return fmt.Errorf("%w: %w", api.ErrUploadEmpty, err)
	case errors.Is(err, upload.ErrTooManyUnfinished):
		return fmt.Errorf("%w: %w", api.ErrUploadLimit, err)
	case errors.Is(err, upload.ErrForbiddenSource):
		return fmt.Errorf("%w: %w", api.ErrUploadSourceRefused, err)
	}
	return err
}
