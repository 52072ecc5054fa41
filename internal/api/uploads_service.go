package api

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/upload"
)

// UploadsOver is the uploads routes' dependency on the upload service:
// its errors mapped onto the API's (see fromUploadService).
func UploadsOver(s *upload.Service) UploadsDeps { return UploadsDeps{Uploads: uploadService{s}} }

type uploadService struct{ s *upload.Service }

func (u uploadService) CreateDirect(ctx context.Context, o UploadOptions) (*store.Video, string, error) {
	d, err := u.s.CreateDirect(ctx, uploadOptions(o))
	if err != nil {
		return nil, "", fromUploadService(err)
	}
	return d.Video, upload.TusPath(d.Video.ID, d.Secret), nil
}

func (u uploadService) CreatePlain(ctx context.Context, body io.Reader, o UploadOptions) (*store.Video, error) {
	v, err := u.s.CreatePlain(ctx, body, uploadOptions(o))
	return v, fromUploadService(err)
}

func (u uploadService) CreateCopy(ctx context.Context, url string, o UploadOptions) (*store.Video, error) {
	v, err := u.s.CreateCopy(ctx, url, uploadOptions(o))
	return v, fromUploadService(err)
}

func (u uploadService) PlainMaxSize() int64 { return u.s.PlainMaxSize() }

func uploadOptions(o UploadOptions) upload.Options {
	return upload.Options{Meta: o.Meta, Creator: o.Creator, RequireSignedURLs: o.RequireSignedURLs, AllowedOrigins: o.AllowedOrigins,
		MaxDurationSeconds: o.MaxDurationSeconds, MaxSizeBytes: o.MaxSizeBytes, Expiry: o.Expiry, Name: o.Name, TokenID: o.TokenID}
}

// fromUploadService maps the upload service's errors onto the API's.
func fromUploadService(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, upload.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrUploadTooLarge, err)
	case errors.Is(err, upload.ErrEmpty), errors.Is(err, upload.ErrIncomplete):
		return fmt.Errorf("%w: %w", ErrUploadEmpty, err)
	case errors.Is(err, upload.ErrTooManyUnfinished):
		return fmt.Errorf("%w: %w", ErrUploadLimit, err)
	case errors.Is(err, upload.ErrForbiddenSource):
		return fmt.Errorf("%w: %w", ErrUploadSourceRefused, err)
	}
	return err
}
