package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

func scanVideo(r pgx.Row) (*store.Video, error) {
	var (
		v                      store.Video
		ended, deletion, lease *time.Time
		durUS, tdUS            int64
		tracks, meta, origins  []byte
	)
	if err := r.Scan(&v.ID, &v.LiveInputID, &v.Status, &v.ErrorCode, &v.ErrorMessage, &v.Recovered, &v.CreatedAt, &v.StartedAt,
		&ended, &durUS, &v.SizeBytes, &v.Segments, &tracks, &meta, &deletion, &v.RequireSignedURLs,
		&origins, &v.ThumbnailKey, &v.DownloadStatus, &v.DownloadKey, &v.UpdatedAt, &v.NodeID, &lease, &tdUS); err != nil {
		return nil, mapErr(err)
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
	v.CreatedAt, v.StartedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.StartedAt.UTC(), v.UpdatedAt.UTC()
	v.EndedAt, v.ScheduledDeletion = utcPtr(ended), utcPtr(deletion)
	v.Duration = time.Duration(durUS) * time.Microsecond
	v.TargetDuration = time.Duration(tdUS) * time.Microsecond
	if lease != nil {
		v.LeaseExpires = lease.UTC()
	}
	return &v, nil
}

// videoArgs are the values of $1..$15: the mutable columns, in the order of
// Create and Update.
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
	return []any{v.Status, v.ErrorCode, v.ErrorMessage, v.Recovered, utc(v.StartedAt), utcPtr(v.EndedAt),
		string(tb), meta, utcPtr(v.ScheduledDeletion), v.RequireSignedURLs, origins, v.ThumbnailKey,
		ds, v.DownloadKey, utc(v.UpdatedAt)}, nil
}

// execer is what the video writes need of the pool and of a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Create inserts v; ErrConflict when the id exists.
func (s videosRepo) Create(ctx context.Context, v *store.Video) error {
	if err := createVideo(ctx, s.db.pool, v); err != nil {
		return fmt.Errorf("postgres: create video %s: %w", v.ID, err)
	}
	return nil
}

// createVideo inserts v with x.
func createVideo(ctx context.Context, x execer, v *store.Video) error {
	args, err := videoArgs(v)
	if err != nil {
		return err
	}
	var lease *time.Time
	if !v.LeaseExpires.IsZero() {
		l := utc(v.LeaseExpires)
		lease = &l
	}
	args = append(args, v.ID, v.LiveInputID, utc(v.CreatedAt), int64(v.Duration/time.Microsecond), v.SizeBytes, v.Segments,
		v.NodeID, lease, int64(v.TargetDuration/time.Microsecond))
	_, err = x.Exec(ctx, `INSERT INTO videos (
		status, error_code, error_message, recovered, started_at, ended_at,
		tracks, meta, scheduled_deletion, require_signed_urls, allowed_origins, thumbnail_key,
		download_status, download_key, updated_at,
		id, live_input_id, created_at, duration_us, size_bytes, segments,
		node_id, lease_expires_at, target_duration_us
	) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`, args...)
	return mapErr(err)
}

// getVideo reads video id with x.
func getVideo(ctx context.Context, x execer, id string) (*store.Video, error) {
	return scanVideo(x.QueryRow(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = $1`, id))
}

// Get returns the video id or ErrNotFound.
func (s videosRepo) Get(ctx context.Context, id string) (*store.Video, error) {
	v, err := scanVideo(s.db.pool.QueryRow(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get video %s: %w", id, err)
	}
	return v, nil
}

// List returns up to opts.Limit videos in id order and whether more follow.
func (s videosRepo) List(ctx context.Context, opts store.VideoListOptions) ([]*store.Video, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, fmt.Errorf("postgres: list videos: %w", err)
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + videoColumns + ` FROM videos WHERE true`)
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if opts.After != "" {
		if opts.Newest {
			q.WriteString(` AND id < ` + arg(opts.After))
		} else {
			q.WriteString(` AND id > ` + arg(opts.After))
		}
	}
	if opts.LiveInputID != "" {
		q.WriteString(` AND live_input_id = ` + arg(opts.LiveInputID))
	}
	if opts.Status != "" {
		q.WriteString(` AND status = ` + arg(opts.Status))
	}
	if !opts.CreatedBefore.IsZero() {
		q.WriteString(` AND created_at < ` + arg(utc(opts.CreatedBefore)))
	}
	if !opts.CreatedAfter.IsZero() {
		q.WriteString(` AND created_at > ` + arg(utc(opts.CreatedAfter)))
	}
	if opts.Newest {
		q.WriteString(` ORDER BY id DESC LIMIT ` + arg(opts.Limit+1))
	} else {
		q.WriteString(` ORDER BY id LIMIT ` + arg(opts.Limit+1))
	}
	out, err := s.query(ctx, q.String(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list videos: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

func (s videosRepo) query(ctx context.Context, q string, args ...any) ([]*store.Video, error) {
	rows, err := s.db.pool.Query(ctx, q, args...)
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
		return fmt.Errorf("postgres: update video %s: %w", v.ID, err)
	}
	args = append(args, v.ID)
	tag, err := s.db.pool.Exec(ctx, `UPDATE videos SET
		status = $1, error_code = $2, error_message = $3, recovered = $4, started_at = $5, ended_at = $6,
		tracks = $7, meta = $8, scheduled_deletion = $9, require_signed_urls = $10, allowed_origins = $11, thumbnail_key = $12,
		download_status = $13, download_key = $14, updated_at = $15
		WHERE id = $16`, args...)
	if err != nil {
		return fmt.Errorf("postgres: update video %s: %w", v.ID, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update video %s: %w", v.ID, store.ErrNotFound)
	}
	return nil
}

// Delete removes the video and its segments; ErrNotFound when absent.
func (s videosRepo) Delete(ctx context.Context, id string) error {
	if err := deleteVideo(ctx, s.db.pool, id); err != nil {
		return fmt.Errorf("postgres: delete video %s: %w", id, err)
	}
	return nil
}

// deleteVideo deletes video id (its segments by cascade) with x.
func deleteVideo(ctx context.Context, x execer, id string) error {
	tag, err := x.Exec(ctx, `DELETE FROM videos WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AddSegment appends seg and adds its duration and size to its video.
func (s videosRepo) AddSegment(ctx context.Context, seg *store.VideoSegment) error {
	durUS := int64(seg.Duration / time.Microsecond)
	var pdt *time.Time
	if !seg.ProgramDateTime.IsZero() {
		t := utc(seg.ProgramDateTime)
		pdt = &t
	}
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE videos SET duration_us = duration_us + $1, size_bytes = size_bytes + $2,
			segments = segments + 1 WHERE id = $3`, durUS, seg.Size, seg.VideoID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		owner := seg.OwnerID
		if owner == "" {
			owner = seg.VideoID
		}
		var off *int64
		if seg.Ranged {
			off = &seg.Offset
		}
		_, err = tx.Exec(ctx, `INSERT INTO video_segments
			(video_id, seq, owner_id, duration_us, program_date_time, discontinuity, init_key, key, size_bytes, parts, range_offset)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			seg.VideoID, seg.Seq, owner, durUS, pdt, seg.Discontinuity, seg.InitKey, seg.Key, seg.Size, store.EncodeParts(seg.Parts), off)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("postgres: add segment %s/%d: %w", seg.VideoID, seg.Seq, err)
	}
	return nil
}

// Segments returns the segments of id with Seq >= from in order, at most
// limit (0 = all).
func (s videosRepo) Segments(ctx context.Context, id string, from int64, limit int) ([]*store.VideoSegment, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := s.db.pool.Query(ctx, `SELECT seq, owner_id, duration_us, program_date_time, discontinuity, init_key, key, size_bytes,
		parts, range_offset FROM video_segments WHERE video_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`, id, from, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: segments of %s: %w", id, err)
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
			return nil, fmt.Errorf("postgres: segments of %s: %w", id, err)
		}
		var err error
		if seg.Parts, err = store.DecodeParts(parts); err != nil {
			return nil, fmt.Errorf("postgres: segments of %s: %w", id, err)
		}
		if off != nil {
			seg.Ranged, seg.Offset = true, *off
		}
		seg.Duration = time.Duration(durUS) * time.Microsecond
		if pdt != nil {
			seg.ProgramDateTime = pdt.UTC()
		}
		out = append(out, seg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: segments of %s: %w", id, err)
	}
	return out, nil
}

// FilesInUse reports whether a segment of any video is a file of owner.
func (s videosRepo) FilesInUse(ctx context.Context, owner string) (bool, error) {
	var inUse bool
	if err := s.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM video_segments WHERE owner_id = $1)`, owner).Scan(&inUse); err != nil {
		return false, fmt.Errorf("postgres: files of %s in use: %w", owner, err)
	}
	return inUse, nil
}

// DueForDeletion returns up to limit videos scheduled for deletion at or
// before t.
func (s videosRepo) DueForDeletion(ctx context.Context, t time.Time, limit int) ([]*store.Video, error) {
	out, err := s.query(ctx, `SELECT `+videoColumns+` FROM videos
		WHERE scheduled_deletion IS NOT NULL AND scheduled_deletion <= $1 ORDER BY scheduled_deletion, id LIMIT $2`,
		utc(t), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: videos due for deletion: %w", err)
	}
	return out, nil
}

// RenewLeases extends the leases of the ids node still records.
func (s videosRepo) RenewLeases(ctx context.Context, node string, ids []string, until time.Time) ([]string, error) {
	out := []string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.pool.Query(ctx, `UPDATE videos SET lease_expires_at = $1
		WHERE node_id = $2 AND status = $3 AND id = ANY($4) RETURNING id`, utc(until), node, store.VideoLiveRecording, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: renew leases of %s: %w", node, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("postgres: renew leases of %s: %w", node, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: renew leases of %s: %w", node, err)
	}
	return out, nil
}

// Unfinished returns the unfinished videos a recovery by node may take.
func (s videosRepo) Unfinished(ctx context.Context, node string, own bool, now time.Time, after string, limit int) ([]*store.Video, error) {
	out, err := s.query(ctx, `SELECT `+videoColumns+` FROM videos
		WHERE status IN ($1, $2) AND id > $3
		AND (lease_expires_at IS NULL OR lease_expires_at < $4 OR ($5 AND node_id = $6))
		ORDER BY id LIMIT $7`,
		store.VideoLiveRecording, store.VideoProcessing, after, utc(now), own, node, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: unfinished videos: %w", err)
	}
	return out, nil
}

// ClaimRecording makes node the owner of id when its lease ran out. Under
// READ COMMITTED a second UPDATE of the row waits for the first to commit
// and re-checks the condition on the new row, so one claimant wins.
func (s videosRepo) ClaimRecording(ctx context.Context, id, node string, own bool, now, until time.Time) (bool, error) {
	tag, err := s.db.pool.Exec(ctx, `UPDATE videos SET node_id = $1, lease_expires_at = $2
		WHERE id = $3 AND status IN ($4, $5)
		AND (lease_expires_at IS NULL OR lease_expires_at < $6 OR ($7 AND node_id = $1))`,
		node, utc(until), id, store.VideoLiveRecording, store.VideoProcessing, utc(now), own)
	if err != nil {
		return false, fmt.Errorf("postgres: claim recording %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpdateSettings writes the user-editable fields of v.ID and UpdatedAt.
func (s videosRepo) UpdateSettings(ctx context.Context, v *store.Video) error {
	meta, err := encodeMeta(v.Meta)
	if err != nil {
		return fmt.Errorf("postgres: update video settings %s: %w", v.ID, err)
	}
	origins, err := encodeStrings(v.AllowedOrigins)
	if err != nil {
		return fmt.Errorf("postgres: update video settings %s: %w", v.ID, err)
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE videos SET meta = $1, scheduled_deletion = $2, require_signed_urls = $3,
		allowed_origins = $4, updated_at = $5 WHERE id = $6`,
		meta, utcPtr(v.ScheduledDeletion), v.RequireSignedURLs, origins, utc(v.UpdatedAt), v.ID)
	if err != nil {
		return fmt.Errorf("postgres: update video settings %s: %w", v.ID, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update video settings %s: %w", v.ID, store.ErrNotFound)
	}
	return nil
}

// Finish ends the recording of id if it is unfinished and node's.
func (s videosRepo) Finish(ctx context.Context, id, node string, e store.VideoEnd) error {
	if err := finishVideo(ctx, s.db.pool, id, node, e); err != nil {
		return fmt.Errorf("postgres: finish video %s: %w", id, err)
	}
	return nil
}

// finishVideo ends the recording of id with x if it is unfinished and
// node's: ErrNotFound, or ErrConflict when it is not.
func finishVideo(ctx context.Context, x execer, id, node string, e store.VideoEnd) error {
	tracks := e.Tracks
	if tracks == nil {
		tracks = []store.VideoTrack{}
	}
	tb, err := json.Marshal(tracks)
	if err != nil {
		return fmt.Errorf("encode tracks: %w", err)
	}
	tag, err := x.Exec(ctx, `UPDATE videos SET status = $1, error_code = $2, error_message = $3, recovered = $4,
		ended_at = $5, tracks = $6, updated_at = $7
		WHERE id = $8 AND node_id = $9 AND status IN ($10, $11)`,
		e.Status, e.ErrorCode, e.ErrorMessage, e.Recovered, utc(e.EndedAt), string(tb), utc(e.UpdatedAt),
		id, node, store.VideoLiveRecording, store.VideoProcessing)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := getVideo(ctx, x, id); err != nil {
			return err
		}
		return fmt.Errorf("%w: finished already or not node %s's", store.ErrConflict, node)
	}
	return nil
}

// SetDownload writes the MP4 download's status and key of id.
func (s videosRepo) SetDownload(ctx context.Context, id, status, key string, at time.Time) error {
	if err := setDownload(ctx, s.db.pool, id, status, key, at); err != nil {
		return fmt.Errorf("postgres: set download of video %s: %w", id, err)
	}
	return nil
}

// setDownload writes the MP4 download's status and key of id with x.
func setDownload(ctx context.Context, x execer, id, status, key string, at time.Time) error {
	tag, err := x.Exec(ctx, `UPDATE videos SET download_status = $1, download_key = $2, updated_at = $3 WHERE id = $4`,
		status, key, utc(at), id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetThumbnail writes the default thumbnail's key of id.
func (s videosRepo) SetThumbnail(ctx context.Context, id, key string, at time.Time) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE videos SET thumbnail_key = $1, updated_at = $2 WHERE id = $3`, key, utc(at), id)
	if err != nil {
		return fmt.Errorf("postgres: set thumbnail of video %s: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set thumbnail of video %s: %w", id, store.ErrNotFound)
	}
	return nil
}
