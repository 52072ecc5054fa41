package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// liveInputs is the store.LiveInputs of a DB.
type liveInputs struct{ db *DB }

// liveInputColumns are the columns scanLiveInput reads, in order.
const liveInputColumns = `id, name, meta, enabled, stream_key, stream_key_hash, srt_passphrase,
	reconnect_window_seconds, recording_mode, recording_delete_after_days, require_signed_urls,
	allowed_origins, static, version, created_at, updated_at, keys_rotated_at, last_connected_at,
	transcode_mode, transcode_ladder, source_url, source_transport, source_on_demand`

// scanLiveInput reads one row of liveInputColumns.
func scanLiveInput(r rowScanner) (*store.LiveInput, error) {
	var (
		li                    store.LiveInput
		meta, origins, ladder []byte
		hash                  []byte
		src                   store.PullSource
	)
	if err := r.Scan(&li.ID, &li.Name, &meta, &li.Enabled, &li.StreamKey, &hash, &li.SRTPassphrase,
		&li.ReconnectWindowSeconds, &li.Recording.Mode, &li.Recording.DeleteAfterDays, &li.RequireSignedURLs,
		&origins, &li.Static, &li.Version, &li.CreatedAt, &li.UpdatedAt, &li.KeysRotatedAt, &li.LastConnectedAt,
		&li.Transcode.Mode, &ladder, &src.URL, &src.Transport, &src.OnDemand); err != nil {
		return nil, err
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
	if src.URL != "" {
		li.Source = &src // no URL reads as no source
	}
	return &li, nil
}

// liveInputArgs are the values of every column but id, version and
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
	var src store.PullSource
	if li.Source != nil {
		src = *li.Source
	}
	return []any{
		li.Name, fold(li.Name), meta, li.Enabled, li.StreamKey, nullBytes(li.StreamKeyHash), li.SRTPassphrase,
		li.ReconnectWindowSeconds, mode, li.Recording.DeleteAfterDays, li.RequireSignedURLs,
		origins, li.Static, li.UpdatedAt, li.KeysRotatedAt, li.LastConnectedAt,
		li.Transcode.Mode, ladder, src.URL, src.Transport, src.OnDemand,
	}, nil
}

// insertLiveInput takes liveInputArgs, the id and created_at.
const insertLiveInput = `INSERT INTO live_inputs (
		name, name_fold, meta, enabled, stream_key, stream_key_hash, srt_passphrase,
		reconnect_window_seconds, recording_mode, recording_delete_after_days, require_signed_urls,
		allowed_origins, static, updated_at, keys_rotated_at, last_connected_at,
		transcode_mode, transcode_ladder, source_url, source_transport, source_on_demand,
		id, created_at, version
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`

// updateLiveInput takes liveInputArgs, the id and the expected version.
const updateLiveInput = `UPDATE live_inputs SET
		name = ?, name_fold = ?, meta = ?, enabled = ?, stream_key = ?, stream_key_hash = ?, srt_passphrase = ?,
		reconnect_window_seconds = ?, recording_mode = ?, recording_delete_after_days = ?, require_signed_urls = ?,
		allowed_origins = ?, static = ?, updated_at = ?, keys_rotated_at = ?, last_connected_at = ?,
		transcode_mode = ?, transcode_ladder = ?, source_url = ?, source_transport = ?, source_on_demand = ?,
		version = version + 1
		WHERE id = ? AND version = ?`

// Create inserts li with Version 1 and sets li.Version to 1. ErrConflict
// when the id or the stream key hash exists.
func (s liveInputs) Create(ctx context.Context, li *store.LiveInput) error {
	args, err := liveInputArgs(li)
	if err != nil {
		return s.db.errorf("create live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.CreatedAt)
	_, err = s.db.w.ExecContext(ctx, insertLiveInput, args...)
	if err != nil {
		return s.db.errorf("create live input %s: %w", li.ID, err)
	}
	li.Version = 1
	return nil
}

// Get returns the live input id or ErrNotFound.
func (s liveInputs) Get(ctx context.Context, id string) (*store.LiveInput, error) {
	li, err := scanLiveInput(s.db.r.QueryRowContext(ctx,
		`SELECT `+liveInputColumns+` FROM live_inputs WHERE id = ?`, id))
	if err != nil {
		return nil, s.db.errorf("get live input %s: %w", id, err)
	}
	return li, nil
}

// GetByStreamKeyHash returns the live input with that key hash or
// ErrNotFound.
func (s liveInputs) GetByStreamKeyHash(ctx context.Context, hash []byte) (*store.LiveInput, error) {
	if len(hash) == 0 {
		return nil, s.db.errorf("get live input by key: %w", store.ErrNotFound)
	}
	li, err := scanLiveInput(s.db.r.QueryRowContext(ctx,
		`SELECT `+liveInputColumns+` FROM live_inputs WHERE stream_key_hash = ?`, hash))
	if err != nil {
		return nil, s.db.errorf("get live input by key: %w", err)
	}
	return li, nil
}

// List returns up to opts.Limit rows with ids after opts.After, ordered by
// id, and whether more rows follow. Name matches a case-insensitive
// substring taken literally ('%' and '_' are not wildcards).
func (s liveInputs) List(ctx context.Context, opts store.ListOptions) ([]*store.LiveInput, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list live inputs: %w", err)
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + liveInputColumns + ` FROM live_inputs WHERE id > ?`)
	args := []any{opts.After}
	if opts.Name != "" {
		q.WriteString(` AND name_fold LIKE ? ESCAPE '\'`)
		args = append(args, containsPattern(fold(opts.Name)))
	}
	if opts.Enabled != nil {
		q.WriteString(` AND enabled = ?`)
		args = append(args, *opts.Enabled)
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, opts.Limit+1)

	rows, err := s.db.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, false, s.db.errorf("list live inputs: %w", err)
	}
	defer rows.Close()
	out := make([]*store.LiveInput, 0, min(opts.Limit+1, 64))
	for rows.Next() {
		li, err := scanLiveInput(rows)
		if err != nil {
			return nil, false, s.db.errorf("list live inputs: %w", err)
		}
		out = append(out, li)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list live inputs: %w", err)
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
		return s.db.errorf("update live input %s: %w", li.ID, err)
	}
	args = append(args, li.ID, li.Version)
	res, err := s.db.w.ExecContext(ctx, updateLiveInput, args...)
	if err != nil {
		return s.db.errorf("update live input %s: %w", li.ID, err)
	}
	if err := s.db.checkAffected(ctx, res, "live_inputs", li.ID, store.ErrPrecondition); err != nil {
		return s.db.errorf("update live input %s: %w", li.ID, err)
	}
	li.Version++
	return nil
}

// Delete removes the row; ErrNotFound when absent.
func (s liveInputs) Delete(ctx context.Context, id string) error {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM live_inputs WHERE id = ?`, id)
	if err != nil {
		return s.db.errorf("delete live input %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("delete live input %s: %w", id, err)
	}
	return nil
}

// SetLastConnected sets LastConnectedAt; the Version does not change.
// ErrNotFound when absent.
func (s liveInputs) SetLastConnected(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.w.ExecContext(ctx, `UPDATE live_inputs SET last_connected_at = ? WHERE id = ?`, at, id)
	if err != nil {
		return s.db.errorf("set last connected %s: %w", id, err)
	}
	if err := affectedOrNotFound(res); err != nil {
		return s.db.errorf("set last connected %s: %w", id, err)
	}
	return nil
}
