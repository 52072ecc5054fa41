package sqlstore

import (
	"context"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// emitForVideo writes the events evf returns for video id as tx sees it.
func emitForVideo(ctx context.Context, tx runner, id string, evf store.VideoEventFunc) error {
	return emitting(ctx, tx, evf)(getVideo(ctx, tx, id))
}

// CreateEmitting is Create plus the events of evf, in one transaction.
func (s videosRepo) CreateEmitting(ctx context.Context, v *store.Video, evf store.VideoEventFunc) error {
	if evf == nil {
		return s.Create(ctx, v)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		if err := createVideo(ctx, tx, v); err != nil {
			return err
		}
		return emitForVideo(ctx, tx, v.ID, evf)
	})
	if err != nil {
		return s.db.errorf("create video %s: %w", v.ID, err)
	}
	return nil
}

// FinishEmitting is Finish plus the events of evf, in one transaction.
func (s videosRepo) FinishEmitting(ctx context.Context, id, node string, e store.VideoEnd, evf store.VideoEventFunc) error {
	if evf == nil {
		return s.Finish(ctx, id, node, e)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		if err := finishVideo(ctx, tx, id, node, e); err != nil {
			return err
		}
		return emitForVideo(ctx, tx, id, evf)
	})
	if err != nil {
		return s.db.errorf("finish video %s: %w", id, err)
	}
	return nil
}

// SetDownloadEmitting is SetDownload plus the events of evf, in one
// transaction.
func (s videosRepo) SetDownloadEmitting(ctx context.Context, id, status, key string, at time.Time, evf store.VideoEventFunc) error {
	if evf == nil {
		return s.SetDownload(ctx, id, status, key, at)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		if err := setDownload(ctx, tx, id, status, key, at); err != nil {
			return err
		}
		return emitForVideo(ctx, tx, id, evf)
	})
	if err != nil {
		return s.db.errorf("set download of video %s: %w", id, err)
	}
	return nil
}

// DeleteEmitting is Delete plus the events of evf (which sees the row
// before the deletion), in one transaction.
func (s videosRepo) DeleteEmitting(ctx context.Context, id string, evf store.VideoEventFunc) error {
	if evf == nil {
		return s.Delete(ctx, id)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		return emitting(ctx, tx, evf)(scanVideo(tx.QueryRowContext(ctx,
			`DELETE FROM videos WHERE id = ? RETURNING `+videoColumns, id)))
	})
	if err != nil {
		return s.db.errorf("delete video %s: %w", id, err)
	}
	return nil
}
