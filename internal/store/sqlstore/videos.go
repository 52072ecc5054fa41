package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Videos implements store.Store.
func (db *DB) Videos() store.Videos { return videosRepo{db: db} }

type videosRepo struct{ db *DB }

var _ store.Videos = videosRepo{}

// videoColumns are the columns scanVideo reads, in order.
const videoColumns = `id, live_input_id, status, error_code, error_message, recovered, created_at, started_at,
	ended_at, duration_us, size_bytes, segments, tracks, meta, scheduled_deletion, require_signed_urls,
	allowed_origins, thumbnail_key, download_status, download_key, updated_at, node_id, lease_expires_at, target_duration_us`

func scanVideo(r rowScanner) (*store.Video, error) {
	var (
		v                     store.Video
		lease                 *time.Time
		durUS, tdUS           int64
		tracks, meta, origins []byte
	)
	if err := r.Scan(&v.ID, &v.LiveInputID, &v.Status, &v.ErrorCode, &v.ErrorMessage, &v.Recovered, &v.CreatedAt, &v.StartedAt,
		&v.EndedAt, &durUS, &v.SizeBytes, &v.Segments, &tracks, &meta, &v.ScheduledDeletion, &v.RequireSignedURLs,
		&origins, &v.ThumbnailKey, &v.DownloadStatus, &v.DownloadKey, &v.UpdatedAt, &v.NodeID, &lease, &tdUS); err != nil {
		return nil, err
	}
	var err error
	if v.Meta, err = decodeMeta(meta); err != nil {
		return nil, err
	}
	if v.AllowedOrigins, err = decodeStrings(origins); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(tracks, &v.Tracks); err != nil {
		return nil, fmt.Errorf("decode tracks: %w", err)
	}
	if v.Tracks == nil {
		v.Tracks = []store.VideoTrack{}
	}
	v.Duration = time.Duration(durUS) * time.Microsecond
	v.TargetDuration = time.Duration(tdUS) * time.Microsecond
	if lease != nil {
		v.LeaseExpires = *lease
	}
	return &v, nil
}

// videoArgs are the mutable columns, in the order of Create and Update.
func videoArgs(v *store.Video) ([]any, error) {
	meta, err := encodeMeta(v.Meta)
	if err != nil {
		return nil, err
	}
	origins, err := encodeStrings(v.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	tracks := v.Tracks
	if tracks == nil {
		tracks = []store.VideoTrack{}
	}
	tb, err := json.Marshal(tracks)
	if err != nil {
		return nil, fmt.Errorf("encode tracks: %w", err)
	}
	ds := v.DownloadStatus
	if ds == "" {
		ds = store.DownloadNone
	}
	return []any{v.Status, v.ErrorCode, v.ErrorMessage, v.Recovered, v.StartedAt, v.EndedAt,
		string(tb), meta, v.ScheduledDeletion, v.RequireSignedURLs, origins, v.ThumbnailKey,
		ds, v.DownloadKey, v.UpdatedAt}, nil
}

// Create inserts v; ErrConflict when the id exists.
func (s videosRepo) Create(ctx context.Context, v *store.Video) error {
	if err := createVideo(ctx, s.db.w, v); err != nil {
		return s.db.errorf("create video %s: %w", v.ID, err)
	}
	return nil
}

// createVideo inserts v with x.
func createVideo(ctx context.Context, x runner, v *store.Video) error {
	args, err := videoArgs(v)
	if err != nil {
		return err
	}
	var lease *time.Time
	if !v.LeaseExpires.IsZero() {
		lease = &v.LeaseExpires
	}
	args = append(args, v.ID, v.LiveInputID, v.CreatedAt, int64(v.Duration/time.Microsecond), v.SizeBytes, v.Segments,
		v.NodeID, lease, int64(v.TargetDuration/time.Microsecond))
	_, err = x.ExecContext(ctx, `INSERT INTO videos (
		status, error_code, error_message, recovered, started_at, ended_at,
		tracks, meta, scheduled_deletion, require_signed_urls, allowed_origins, thumbnail_key,
		download_status, download_key, updated_at,
		id, live_input_id, created_at, duration_us, size_bytes, segments,
		node_id, lease_expires_at, target_duration_us
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return err
}

// getVideo reads video id with x.
func getVideo(ctx context.Context, x runner, id string) (*store.Video, error) {
	return scanVideo(x.QueryRowContext(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = ?`, id))
}

// Get returns the video id or ErrNotFound.
func (s videosRepo) Get(ctx context.Context, id string) (*store.Video, error) {
	v, err := scanVideo(s.db.r.QueryRowContext(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get video %s: %w", id, err)
	}
	return v, nil
}

// List returns up to opts.Limit videos in id order and whether more follow.
func (s videosRepo) List(ctx context.Context, opts store.VideoListOptions) ([]*store.Video, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list videos: %w", err)
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + videoColumns + ` FROM videos WHERE 1 = 1`)
	var args []any
	if opts.After != "" {
		if opts.Newest {
			q.WriteString(` AND id < ?`)
		} else {
			q.WriteString(` AND id > ?`)
		}
		args = append(args, opts.After)
	}
	if opts.LiveInputID != "" {
		q.WriteString(` AND live_input_id = ?`)
		args = append(args, opts.LiveInputID)
	}
	if opts.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, opts.Status)
	}
	if !opts.CreatedBefore.IsZero() {
		q.WriteString(` AND created_at < ?`)
		args = append(args, opts.CreatedBefore)
	}
	if !opts.CreatedAfter.IsZero() {
		q.WriteString(` AND created_at > ?`)
		args = append(args, opts.CreatedAfter)
	}
	if opts.Newest {
		q.WriteString(` ORDER BY id DESC LIMIT ?`)
	} else {
		q.WriteString(` ORDER BY id LIMIT ?`)
	}
	args = append(args, opts.Limit+1)
	out, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return nil, false, s.db.errorf("list videos: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

func (s videosRepo) query(ctx context.Context, q string, args ...any) ([]*store.Video, error) {
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Video
	for rows.Next() {
		v, err := scanVideo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Update replaces the mutable fields of v.ID; ErrNotFound when absent.
func (s videosRepo) Update(ctx context.Context, v *store.Video) error {
	args, err := videoArgs(v)
	if err != nil {
		return s.db.errorf("update video %s: %w", v.ID, err)
	}
	args = append(args, v.ID)
	res, err := s.db.w.ExecContext(ctx, `UPDATE videos SET
		status = ?, error_code = ?, error_message = ?, recovered = ?, started_at = ?, ended_at = ?,
		tracks = ?, meta = ?, scheduled_deletion = ?, require_signed_urls = ?, allowed_origins = ?, thumbnail_key = ?,
		download_status = ?, download_key = ?, updated_at = ?
		WHERE id = ?`, args...)
	if err != nil {
		return s.db.errorf("update video %s: %w", v.ID, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("update video %s: %w", v.ID, err)
	}
	return nil
}

// Delete removes the video and its segments; ErrNotFound when absent.
func (s videosRepo) Delete(ctx context.Context, id string) error {
	if err := deleteVideo(ctx, s.db.w, id); err != nil {
		return s.db.errorf("delete video %s: %w", id, err)
	}
	return nil
}

// deleteVideo deletes video id (its segments by cascade) with x.
func deleteVideo(ctx context.Context, x runner, id string) error {
	res, err := x.ExecContext(ctx, `DELETE FROM videos WHERE id = ?`, id)
	if err != nil {
		return err
	}
	return affectedOrNotFound(res)
}

// AddSegment appends seg and adds its duration and size to its video.
func (s videosRepo) AddSegment(ctx context.Context, seg *store.VideoSegment) error {
	durUS := int64(seg.Duration / time.Microsecond)
	var pdt *time.Time
	if !seg.ProgramDateTime.IsZero() {
		pdt = &seg.ProgramDateTime
	}
	owner := seg.OwnerID
	if owner == "" {
		owner = seg.VideoID
	}
	var off *int64
	if seg.Ranged {
		off = &seg.Offset
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		res, err := tx.ExecContext(ctx, `UPDATE videos SET duration_us = duration_us + ?, size_bytes = size_bytes + ?,
			segments = segments + 1 WHERE id = ?`, durUS, seg.Size, seg.VideoID)
		if err != nil {
			return err
		}
		if err := affectedOrNotFound(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO video_segments
			(video_id, seq, owner_id, duration_us, program_date_time, discontinuity, init_key, key, size_bytes, parts, range_offset)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			seg.VideoID, seg.Seq, owner, durUS, pdt, seg.Discontinuity, seg.InitKey, seg.Key, seg.Size, store.EncodeParts(seg.Parts), off)
		return err
	})
	if err != nil {
		return s.db.errorf("add segment %s/%d: %w", seg.VideoID, seg.Seq, err)
	}
	return nil
}

// Segments returns the segments of id with Seq >= from in order, at most
// limit (0 = all).
func (s videosRepo) Segments(ctx context.Context, id string, from int64, limit int) ([]*store.VideoSegment, error) {
	q := `SELECT seq, owner_id, duration_us, program_date_time, discontinuity, init_key, key, size_bytes,
		parts, range_offset FROM video_segments WHERE video_id = ? AND seq >= ? ORDER BY seq`
	args := []any{id, from}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.db.errorf("segments of %s: %w", id, err)
	}
	defer rows.Close()
	var out []*store.VideoSegment
	for rows.Next() {
		seg := &store.VideoSegment{VideoID: id}
		var durUS int64
		var pdt *time.Time
		var off *int64
		var parts string
		if err := rows.Scan(&seg.Seq, &seg.OwnerID, &durUS, &pdt, &seg.Discontinuity, &seg.InitKey, &seg.Key, &seg.Size, &parts, &off); err != nil {
			return nil, s.db.errorf("segments of %s: %w", id, err)
		}
		var err error
		if seg.Parts, err = store.DecodeParts(parts); err != nil {
			return nil, s.db.errorf("segments of %s: %w", id, err)
		}
		if off != nil {
			seg.Ranged, seg.Offset = true, *off
		}
		seg.Duration = time.Duration(durUS) * time.Microsecond
		if pdt != nil {
			seg.ProgramDateTime = *pdt
		}
		out = append(out, seg)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.errorf("segments of %s: %w", id, err)
	}
	return out, nil
}

// FilesInUse reports whether a segment of any video is a file of owner.
func (s videosRepo) FilesInUse(ctx context.Context, owner string) (bool, error) {
	var inUse bool
	if err := s.db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM video_segments WHERE owner_id = ?)`,
		owner).Scan(&inUse); err != nil {
		return false, s.db.errorf("files of %s in use: %w", owner, err)
	}
	return inUse, nil
}

// DueForDeletion returns up to limit videos scheduled for deletion at or
// before t.
func (s videosRepo) DueForDeletion(ctx context.Context, t time.Time, limit int) ([]*store.Video, error) {
	out, err := s.query(ctx, `SELECT `+videoColumns+` FROM videos
		WHERE scheduled_deletion IS NOT NULL AND scheduled_deletion <= ? ORDER BY scheduled_deletion, id LIMIT ?`,
		t, limit)
	if err != nil {
		return nil, s.db.errorf("videos due for deletion: %w", err)
	}
	return out, nil
}

// RenewLeases extends the leases of the ids node still records.
func (s videosRepo) RenewLeases(ctx context.Context, node string, ids []string, until time.Time) ([]string, error) {
	out := []string{}
	for len(ids) > 0 {
		n := min(len(ids), 500) // well under either database's parameter limit
		args := []any{until, node, store.VideoLiveRecording}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		rows, err := s.db.w.QueryContext(ctx, `UPDATE videos SET lease_expires_at = ?
			WHERE node_id = ? AND status = ? AND id IN (`+placeholders(n)+`) RETURNING id`, args...)
		if err != nil {
			return nil, s.db.errorf("renew leases of %s: %w", node, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return nil, s.db.errorf("renew leases of %s: %w", node, err)
			}
			out = append(out, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, s.db.errorf("renew leases of %s: %w", node, err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// Unfinished returns the unfinished videos a recovery by node may take.
func (s videosRepo) Unfinished(ctx context.Context, node string, own bool, now time.Time, after string, limit int) ([]*store.Video, error) {
	out, err := s.query(ctx, `SELECT `+videoColumns+` FROM videos
		WHERE status IN (?, ?) AND id > ?
		AND (lease_expires_at IS NULL OR lease_expires_at < ? OR (? AND node_id = ?))
		ORDER BY id LIMIT ?`,
		store.VideoLiveRecording, store.VideoProcessing, after, now, own, node, limit)
	if err != nil {
		return nil, s.db.errorf("unfinished videos: %w", err)
	}
	return out, nil
}

// ClaimRecording makes node the owner of id when its lease ran out.
func (s videosRepo) ClaimRecording(ctx context.Context, id, node string, own bool, now, until time.Time) (bool, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE videos SET node_id = ?, lease_expires_at = ?
		WHERE id = ? AND status IN (?, ?)
		AND (lease_expires_at IS NULL OR lease_expires_at < ? OR (? AND node_id = ?))`,
		node, until, id, store.VideoLiveRecording, store.VideoProcessing, now, own, node)
	if err != nil {
		return false, s.db.errorf("claim recording %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.db.errorf("claim recording %s: %w", id, err)
	}
	return n == 1, nil
}

// UpdateSettings writes the user-editable fields of v.ID and UpdatedAt.
func (s videosRepo) UpdateSettings(ctx context.Context, v *store.Video) error {
	meta, err := encodeMeta(v.Meta)
	if err != nil {
		return s.db.errorf("update video settings %s: %w", v.ID, err)
	}
	origins, err := encodeStrings(v.AllowedOrigins)
	if err != nil {
		return s.db.errorf("update video settings %s: %w", v.ID, err)
	}
	res, err := s.db.w.ExecContext(ctx, `UPDATE videos SET meta = ?, scheduled_deletion = ?, require_signed_urls = ?,
		allowed_origins = ?, updated_at = ? WHERE id = ?`,
		meta, v.ScheduledDeletion, v.RequireSignedURLs, origins, v.UpdatedAt, v.ID)
	if err != nil {
		return s.db.errorf("update video settings %s: %w", v.ID, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("update video settings %s: %w", v.ID, err)
	}
	return nil
}

// Finish ends the recording of id if it is unfinished and node's.
func (s videosRepo) Finish(ctx context.Context, id, node string, e store.VideoEnd) error {
	if err := finishVideo(ctx, s.db.w, id, node, e); err != nil {
		return s.db.errorf("finish video %s: %w", id, err)
	}
	return nil
}

// finishVideo ends the recording of id with x if it is unfinished and
// node's: ErrNotFound, or ErrConflict when it is not.
func finishVideo(ctx context.Context, x runner, id, node string, e store.VideoEnd) error {
	tracks := e.Tracks
	if tracks == nil {
		tracks = []store.VideoTrack{}
	}
	tb, err := json.Marshal(tracks)
	if err != nil {
		return fmt.Errorf("encode tracks: %w", err)
	}
	res, err := x.ExecContext(ctx, `UPDATE videos SET status = ?, error_code = ?, error_message = ?, recovered = ?,
		ended_at = ?, tracks = ?, updated_at = ?
		WHERE id = ? AND node_id = ? AND status IN (?, ?)`,
		e.Status, e.ErrorCode, e.ErrorMessage, e.Recovered, e.EndedAt, string(tb), e.UpdatedAt,
		id, node, store.VideoLiveRecording, store.VideoProcessing)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		if _, err := getVideo(ctx, x, id); err != nil {
			return err
		}
		return fmt.Errorf("%w: finished already or not node %s's", store.ErrConflict, node)
	}
	return nil
}

// SetDownload writes the MP4 download's status and key of id.
func (s videosRepo) SetDownload(ctx context.Context, id, status, key string, at time.Time) error {
	if err := setDownload(ctx, s.db.w, id, status, key, at); err != nil {
		return s.db.errorf("set download of video %s: %w", id, err)
	}
	return nil
}

// setDownload writes the MP4 download's status and key of id with x.
func setDownload(ctx context.Context, x runner, id, status, key string, at time.Time) error {
	res, err := x.ExecContext(ctx, `UPDATE videos SET download_status = ?, download_key = ?, updated_at = ? WHERE id = ?`,
		status, key, at, id)
	if err != nil {
		return err
	}
	return affectedOrNotFound(res)
}

// SetThumbnail writes the default thumbnail's key of id.
func (s videosRepo) SetThumbnail(ctx context.Context, id, key string, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE videos SET thumbnail_key = ?, updated_at = ? WHERE id = ?`, key, at, id)
	if err != nil {
		return s.db.errorf("set thumbnail of video %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("set thumbnail of video %s: %w", id, err)
	}
	return nil
}
