package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// PlainMaxSize is the limit of a plain upload's body.
func (s *Service) PlainMaxSize() int64 { return s.cfg.PlainMaxSize }

// CreatePlain makes a video of the file body yields (a plain upload: one
// request body, multipart or raw), reading at most the plain upload limit
// (ErrTooLarge past it, ErrEmpty for nothing), and queues it. The file is
// received before the video exists: a failed upload leaves nothing.
func (s *Service) CreatePlain(ctx context.Context, body io.Reader, o Options) (*store.Video, error) {
	limit := s.cfg.PlainMaxSize
	if o.MaxSizeBytes > 0 && o.MaxSizeBytes < limit {
		limit = o.MaxSizeBytes
	}
	f, err := s.tempFile("plain-")
	if err != nil {
		return nil, err
	}
	p := f.Name()
	n, err := io.Copy(f, io.LimitReader(body, limit+1))
	if err != nil && !errors.Is(err, ErrTooLarge) {
		err = fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err == nil && n == 0 {
		err = ErrEmpty
	}
	if err != nil {
		_ = os.Remove(p)
		return nil, err
	}
	v, now := s.newVideo(store.VideoQueued, o)
	key := sourceKey(v.ID)
	if err := s.putFile(ctx, key, p); err != nil {
		_ = os.Remove(p)
		return nil, fmt.Errorf("store the uploaded file: %w", err)
	}
	u := &store.Upload{VideoID: v.ID, Kind: store.UploadPlain, MaxSizeBytes: limit, MaxDurationSeconds: o.MaxDurationSeconds,
		Creator: o.Creator, TokenID: o.TokenID, Name: o.Name, FileKey: key, SizeBytes: n, ReceivedBytes: n, CreatedAt: now, UpdatedAt: now}
	var evs []events.Event
	if err := s.cfg.Uploads.Create(ctx, v, u, s.videoEvents(&evs, events.VideoUploadCreated, events.VideoUploadCompleted)); err != nil {
		_ = s.cfg.Blobs.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	s.publish(evs)
	s.log.Info("plain upload queued", "video", v.ID, "bytes", n)
	s.kick()
	return v, nil
}
