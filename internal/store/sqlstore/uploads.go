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

// Uploads implements store.Store.
func (db *DB) Uploads() store.Uploads { return uploadsRepo{db: db} }

type uploadsRepo struct{ db *DB }

var _ store.Uploads = uploadsRepo{}

const uploadColumns = `video_id, kind, secret_hash, max_size_bytes, max_duration_seconds, expires_at, creator, token_id,
	source_url, name, file_key, size_bytes, received_bytes, pct_complete, node_id, lease_expires_at, attempts,
	created_at, updated_at`

func scanUpload(r rowScanner) (*store.Upload, error) {
	var (
		u     store.Upload
		lease *time.Time
	)
	if err := r.Scan(&u.VideoID, &u.Kind, &u.SecretHash, &u.MaxSizeBytes, &u.MaxDurationSeconds, &u.ExpiresAt, &u.Creator, &u.TokenID,
		&u.SourceURL, &u.Name, &u.FileKey, &u.SizeBytes, &u.ReceivedBytes, &u.PctComplete, &u.NodeID, &lease, &u.Attempts,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	if len(u.SecretHash) == 0 {
		u.SecretHash = nil
	}
	if lease != nil {
		u.LeaseExpires = *lease
	}
	return &u, nil
}

// Create inserts the video and its upload in one transaction.
func (s uploadsRepo) Create(ctx context.Context, v *store.Video, u *store.Upload, evf store.VideoEventFunc) error {
	if u.VideoID != v.ID {
		return s.db.errorf("create upload %s: video id %q differs", u.VideoID, v.ID)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		if err := createVideo(ctx, tx, v); err != nil {
			return err
		}
		var lease *time.Time
		if !u.LeaseExpires.IsZero() {
			lease = &u.LeaseExpires
		}
		secret := u.SecretHash
		if secret == nil {
			secret = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO uploads (`+uploadColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.VideoID, u.Kind, secret, u.MaxSizeBytes, u.MaxDurationSeconds, u.ExpiresAt, u.Creator, u.TokenID,
			u.SourceURL, u.Name, u.FileKey, u.SizeBytes, u.ReceivedBytes, u.PctComplete, u.NodeID, lease, u.Attempts,
			u.CreatedAt, u.UpdatedAt); err != nil {
			return err
		}
		if evf == nil {
			return nil
		}
		return emitForVideo(ctx, tx, v.ID, evf)
	})
	if err != nil {
		return s.db.errorf("create upload %s: %w", v.ID, err)
	}
	return nil
}

// Get returns the upload of video id.
func (s uploadsRepo) Get(ctx context.Context, id string) (*store.Upload, error) {
	u, err := scanUpload(s.db.r.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE video_id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get upload %s: %w", id, err)
	}
	return u, nil
}

// Transition changes the status of video id as c says.
func (s uploadsRepo) Transition(ctx context.Context, id string, c store.UploadChange, evf store.VideoEventFunc) error {
	if len(c.From) == 0 {
		return s.db.errorf("upload %s: a transition needs the statuses it starts from", id)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		var q strings.Builder
		q.WriteString(`UPDATE videos SET status = ?, error_code = ?, error_message = ?, updated_at = ?`)
		args := []any{c.Status, c.ErrorCode, c.ErrorMessage, c.At}
		if c.Tracks != nil {
			tb, err := encodeTracks(c.Tracks)
			if err != nil {
				return err
			}
			q.WriteString(`, tracks = ?`)
			args = append(args, tb)
		}
		if c.EndedAt != nil {
			q.WriteString(`, ended_at = ?`)
			args = append(args, *c.EndedAt)
		}
		q.WriteString(` WHERE id = ? AND status IN (` + placeholders(len(c.From)) + `)`)
		args = append(args, id)
		for _, f := range c.From {
			args = append(args, f)
		}
		q.WriteString(` AND EXISTS (SELECT 1 FROM uploads WHERE video_id = ?`)
		args = append(args, id)
		if c.Node != "" {
			q.WriteString(` AND node_id = ?`)
			args = append(args, c.Node)
		}
		q.WriteString(`)`)
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := s.getTx(ctx, tx, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: not in %v or not node %q's", store.ErrConflict, c.From, c.Node)
		}
		q.Reset()
		q.WriteString(`UPDATE uploads SET pct_complete = ?, updated_at = ?`)
		args = []any{c.PctComplete, c.At}
		if c.FileKey != "" {
			q.WriteString(`, file_key = ?`)
			args = append(args, c.FileKey)
		}
		if c.SizeBytes > 0 {
			q.WriteString(`, size_bytes = ?, received_bytes = ?`)
			args = append(args, c.SizeBytes, c.SizeBytes)
		}
		if c.ReleaseLease {
			q.WriteString(`, node_id = '', lease_expires_at = NULL`)
		}
		q.WriteString(` WHERE video_id = ?`)
		args = append(args, id)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
		if evf == nil {
			return nil
		}
		return emitForVideo(ctx, tx, id, evf)
	})
	if err != nil {
		return s.db.errorf("upload %s to %s: %w", id, c.Status, err)
	}
	return nil
}

func (s uploadsRepo) getTx(ctx context.Context, x runner, id string) (*store.Upload, error) {
	return scanUpload(x.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE video_id = ?`, id))
}

// Progress writes the received bytes and the processing percent of id.
func (s uploadsRepo) Progress(ctx context.Context, id string, received int64, pct float64, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE uploads SET received_bytes = ?, pct_complete = ?, updated_at = ? WHERE video_id = ?`,
		received, pct, at, id)
	if err == nil {
		err = affectedOrNotFound(res)
	}
	if err != nil {
		return s.db.errorf("progress of upload %s: %w", id, err)
	}
	return nil
}

// Claim leases the oldest waiting job to node.
func (s uploadsRepo) Claim(ctx context.Context, node string, now, until time.Time) (*store.Upload, error) {
	var out *store.Upload
	err := s.db.inTx(ctx, func(tx runner) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT u.video_id FROM uploads u JOIN videos v ON v.id = u.video_id
			WHERE v.status IN (?, ?, ?) AND (u.lease_expires_at IS NULL OR u.lease_expires_at < ?)
			ORDER BY u.video_id LIMIT 1`+s.db.d.skipLocked("u"),
			store.VideoQueued, store.VideoInProgress, store.VideoDownloading, now).Scan(&id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE uploads SET node_id = ?, lease_expires_at = ?, attempts = attempts + 1,
			updated_at = ? WHERE video_id = ?`, node, until, now, id); err != nil {
			return err
		}
		out, err = s.getTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, s.db.errorf("claim an upload job: %w", err)
	}
	return out, nil
}

// Renew extends node's lease on id.
func (s uploadsRepo) Renew(ctx context.Context, id, node string, until time.Time) (bool, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE uploads SET lease_expires_at = ? WHERE video_id = ? AND node_id = ?
		AND EXISTS (SELECT 1 FROM videos WHERE id = ? AND status IN (?, ?, ?))`,
		until, id, node, id, store.VideoQueued, store.VideoInProgress, store.VideoDownloading)
	if err != nil {
		return false, s.db.errorf("renew upload job %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.db.errorf("renew upload job %s: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseNode drops node's leases that run out before before.
func (s uploadsRepo) ReleaseNode(ctx context.Context, node string, before time.Time) (int64, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE uploads SET node_id = '', lease_expires_at = NULL
		WHERE node_id = ? AND lease_expires_at < ?`, node, before)
	if err != nil {
		return 0, s.db.errorf("release the upload jobs of %s: %w", node, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.db.errorf("release the upload jobs of %s: %w", node, err)
	}
	return n, nil
}

// ResetSegments drops the segment index of id and zeroes its totals.
func (s uploadsRepo) ResetSegments(ctx context.Context, id string) error {
	err := s.db.inTx(ctx, func(tx runner) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM video_segments WHERE video_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE videos SET duration_us = 0, size_bytes = 0, segments = 0 WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return affectedOrNotFound(res)
	})
	if err != nil {
		return s.db.errorf("reset segments of %s: %w", id, err)
	}
	return nil
}

// Unfinished counts the uploads of token still waiting for their file.
func (s uploadsRepo) Unfinished(ctx context.Context, token string) (int, error) {
	var n int
	if err := s.db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads u JOIN videos v ON v.id = u.video_id
		WHERE u.token_id = ? AND v.status IN (?, ?, ?)`, token, store.VideoPendingUpload, store.VideoUploading, store.VideoDownloading).Scan(&n); err != nil {
		return 0, s.db.errorf("unfinished uploads of %s: %w", token, err)
	}
	return n, nil
}

// Expired returns unfinished uploads whose URL expired at or before now.
func (s uploadsRepo) Expired(ctx context.Context, now time.Time, limit int) ([]*store.Upload, error) {
	if err := checkLimit(limit); err != nil {
		return nil, s.db.errorf("expired uploads: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+prefixed("u.", uploadColumns)+` FROM uploads u JOIN videos v ON v.id = u.video_id
		WHERE v.status IN (?, ?) AND u.expires_at IS NOT NULL AND u.expires_at <= ? ORDER BY u.video_id LIMIT ?`,
		store.VideoPendingUpload, store.VideoUploading, now, limit)
	if err != nil {
		return nil, s.db.errorf("expired uploads: %w", err)
	}
	defer rows.Close()
	var out []*store.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, s.db.errorf("expired uploads: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.errorf("expired uploads: %w", err)
	}
	return out, nil
}

// prefixed qualifies each column of the comma-separated list cols.
func prefixed(p, cols string) string {
	fs := strings.Split(cols, ",")
	for i, f := range fs {
		fs[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// encodeTracks is the JSON of a video's tracks column.
func encodeTracks(tracks []store.VideoTrack) (string, error) {
	b, err := json.Marshal(tracks)
	if err != nil {
		return "", fmt.Errorf("encode tracks: %w", err)
	}
	return string(b), nil
}
