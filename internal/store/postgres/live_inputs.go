package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mpegflow/mpegflow/internal/store"
)

// liveInputs is the store.LiveInputs of a DB.
type liveInputs struct{ db *DB }

// liveInputColumns are the columns scanLiveInput reads, in order.
const liveInputColumns = `id, name, meta, enabled, stream_key, stream_key_hash, srt_passphrase,
	reconnect_window_seconds, recording_mode, recording_delete_after_days, require_signed_urls,
	allowed_origins, static, version, created_at, updated_at, keys_rotated_at, last_connected_at,
	transcode_mode, transcode_ladder`

// scanLiveInput reads one row of liveInputColumns.
func scanLiveInput(r pgx.Row) (*store.LiveInput, error) {
	var (
		li                 store.LiveInput
		meta, origins      []byte
		ladder             []byte
		rotated, connected *time.Time
		hash               []byte
	)
	if err := r.Scan(&li.ID, &li.Name, &meta, &li.Enabled, &li.StreamKey, &hash, &li.SRTPassphrase,
		&li.ReconnectWindowSeconds, &li.Recording.Mode, &li.Recording.DeleteAfterDays, &li.RequireSignedURLs,
		&origins, &li.Static, &li.Version, &li.CreatedAt, &li.UpdatedAt, &rotated, &connected,
		&li.Transcode.Mode, &ladder); err != nil {
		return nil, mapErr(err)
	}
	var err error
	if li.Meta, err = decodeMeta(meta); err != nil {
		return nil, err
	}
	if li.AllowedOrigins, err = decodeStrings(origins); err != nil {
		return nil, err
	}
	if li.Transcode.Ladder, err = decodeStrings(ladder); err != nil {
		return nil, err
	}
	if len(li.Transcode.Ladder) == 0 {
		li.Transcode.Ladder = nil // an empty ladder reads as nil
	}
	if len(hash) > 0 {
		li.StreamKeyHash = hash
	}
	li.CreatedAt, li.UpdatedAt = li.CreatedAt.UTC(), li.UpdatedAt.UTC()
	li.KeysRotatedAt, li.LastConnectedAt = utcPtr(rotated), utcPtr(connected)
	return &li, nil
}

// liveInputArgs are the values of $1..$18: every column but id, version and
// created_at, in the order of the INSERT and UPDATE statements.
func liveInputArgs(li *store.LiveInput) ([]any, error) {
	meta, err := encodeMeta(li.Meta)
	if err != nil {
		return nil, err
	}
	origins, err := encodeStrings(li.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	mode := li.Recording.Mode
	if mode == "" {
		mode = store.RecordingOff
	}
	ladder, err := encodeStrings(li.Transcode.Ladder)
	if err != nil {
		return nil, err
	}
	return []any{
		li.Name, fold(li.Name), meta, li.Enabled, li.StreamKey, nullBytes(li.StreamKeyHash), li.SRTPassphrase,
		li.ReconnectWindowSeconds, mode, li.Recording.DeleteAfterDays, li.RequireSignedURLs,
		origins, li.Static, utc(li.UpdatedAt), utcPtr(li.KeysRotatedAt), utcPtr(li.LastConnectedAt),
		li.Transcode.Mode, ladder,
	}, nil
}

// insertLiveInput takes liveInputArgs, the id and created_at.
const insertLiveInput = `INSERT INTO live_inputs (
		name, name_fold, meta, enabled, stream_key, stream_key_hash, srt_passphrase,
		reconnect_window_seconds, recording_mode, recording_delete_after_days, require_signed_urls,
		allowed_origins, static, updated_at, keys_rotated_at, last_connected_at,
		transcode_mode, transcode_ladder,
		id, created_at, version
	) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 1)`

// updateLiveInput takes liveInputArgs, the id and the expected version.
const updateLiveInput = `UPDATE live_inputs SET
		name = $1, name_fold = $2, meta = $3, enabled = $4, stream_key = $5, stream_key_hash = $6, srt_passphrase = $7,
		reconnect_window_seconds = $8, recording_mode = $9, recording_delete_after_days = $10, require_signed_urls = $11,
		allowed_origins = $12, static = $13, updated_at = $14, keys_rotated_at = $15, last_connected_at = $16,
		transcode_mode = $17, transcode_ladder = $18,
		version = version + 1
		WHERE id = $19 AND version = $20`

// Create inserts li with Version 1 and sets li.Version to 1. ErrConflict
// when the id or the stream key hash exists.
func (s liveInputs) Create(ctx context.Context, li *store.LiveInput) error {
	args, err := liveInputArgs(li)
	if err != nil {
		return fmt.Errorf("postgres: create live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, utc(li.CreatedAt))
	_, err = s.db.pool.Exec(ctx, insertLiveInput, args...)
	if err != nil {
		return fmt.Errorf("postgres: create live input %s: %w", li.ID, mapErr(err))
	}
	li.Version = 1
	return nil
}

// Get returns the live input id or ErrNotFound.
func (s liveInputs) Get(ctx context.Context, id string) (*store.LiveInput, error) {
	li, err := scanLiveInput(s.db.pool.QueryRow(ctx,
		`SELECT `+liveInputColumns+` FROM live_inputs WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get live input %s: %w", id, err)
	}
	return li, nil
}

// GetByStreamKeyHash returns the live input with that key hash or
// ErrNotFound.
func (s liveInputs) GetByStreamKeyHash(ctx context.Context, hash []byte) (*store.LiveInput, error) {
	if len(hash) == 0 {
		return nil, fmt.Errorf("postgres: get live input by key: %w", store.ErrNotFound)
	}
	li, err := scanLiveInput(s.db.pool.QueryRow(ctx,
		`SELECT `+liveInputColumns+` FROM live_inputs WHERE stream_key_hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: get live input by key: %w", err)
	}
	return li, nil
}

// List returns up to opts.Limit rows with ids after opts.After, ordered by
// id, and whether more rows follow. Name matches a case-insensitive
// substring taken literally ('%' and '_' are not wildcards).
func (s liveInputs) List(ctx context.Context, opts store.ListOptions) ([]*store.LiveInput, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, fmt.Errorf("postgres: list live inputs: %w", err)
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + liveInputColumns + ` FROM live_inputs WHERE id > $1`)
	args := []any{opts.After}
	if opts.Name != "" {
		args = append(args, containsPattern(fold(opts.Name)))
		q.WriteString(` AND name_fold LIKE $` + strconv.Itoa(len(args)) + ` ESCAPE '\'`)
	}
	if opts.Enabled != nil {
		args = append(args, *opts.Enabled)
		q.WriteString(` AND enabled = $` + strconv.Itoa(len(args)))
	}
	args = append(args, opts.Limit+1)
	q.WriteString(` ORDER BY id LIMIT $` + strconv.Itoa(len(args)))

	rows, err := s.db.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: list live inputs: %w", err)
	}
	defer rows.Close()
	out := make([]*store.LiveInput, 0, min(opts.Limit+1, 64))
	for rows.Next() {
		li, err := scanLiveInput(rows)
		if err != nil {
			return nil, false, fmt.Errorf("postgres: list live inputs: %w", err)
		}
		out = append(out, li)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres: list live inputs: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// Update replaces every field of row li.ID but CreatedAt when the stored
// Version equals li.Version, then increments li.Version. ErrNotFound when
// the row is absent, ErrPrecondition when its version differs, ErrConflict
// when the stream key hash belongs to another row.
func (s liveInputs) Update(ctx context.Context, li *store.LiveInput) error {
	args, err := liveInputArgs(li)
	if err != nil {
		return fmt.Errorf("postgres: update live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.Version)
	tag, err := s.db.pool.Exec(ctx, updateLiveInput, args...)
	if err != nil {
		return fmt.Errorf("postgres: update live input %s: %w", li.ID, mapErr(err))
	}
	if err := s.db.checkAffected(ctx, tag, "live_inputs", li.ID, store.ErrPrecondition); err != nil {
		return fmt.Errorf("postgres: update live input %s: %w", li.ID, err)
	}
	li.Version++
	return nil
}

// Delete removes the row; ErrNotFound when absent.
func (s liveInputs) Delete(ctx context.Context, id string) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM live_inputs WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete live input %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete live input %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// SetLastConnected sets LastConnectedAt; the Version does not change.
// ErrNotFound when absent.
func (s liveInputs) SetLastConnected(ctx context.Context, id string, at time.Time) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE live_inputs SET last_connected_at = $1 WHERE id = $2`, utc(at), id)
	if err != nil {
		return fmt.Errorf("postgres: set last connected %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set last connected %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// checkAffected returns nil when tag changed a row; otherwise
// store.ErrNotFound when table has no row id, else otherwise.
func (db *DB) checkAffected(ctx context.Context, tag pgconn.CommandTag, table, id string, otherwise error) error {
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int
	if err := db.pool.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, id).Scan(&one); err != nil {
		return mapErr(err)
	}
	return otherwise
}
