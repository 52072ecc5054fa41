package sqlstore

import (
	"context"
	"errors"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Pipelines returns the pipeline store.
func (db *DB) Pipelines() store.Pipelines { return pipelines{db} }

// pipelines is the store.Pipelines of a DB.
type pipelines struct{ db *DB }

var _ store.Pipelines = pipelines{}

const pipelineColumns = `name, generation, manifest, created_at, updated_at`

func scanPipeline(r rowScanner) (*store.Pipeline, error) {
	var p store.Pipeline
	if err := r.Scan(&p.Name, &p.Generation, &p.Manifest, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	return &p, nil
}

// Create inserts p and its first revision in one transaction.
func (s pipelines) Create(ctx context.Context, p *store.Pipeline) error {
	if p.Generation != 1 {
		return s.db.errorf("create pipeline %s: generation %d, want 1", p.Name, p.Generation)
	}
	err := s.db.inTx(ctx, func(tx runner) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipelines (`+pipelineColumns+`) VALUES (?, ?, ?, ?, ?)`,
			p.Name, p.Generation, p.Manifest, p.CreatedAt, p.UpdatedAt); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pipeline_revisions (name, generation, manifest, created_at) VALUES (?, ?, ?, ?)`,
			p.Name, p.Generation, p.Manifest, p.UpdatedAt)
		return err
	})
	if err != nil {
		return s.db.errorf("create pipeline %s: %w", p.Name, mapErr(s.db.d, err))
	}
	return nil
}

// Get returns pipeline name or ErrNotFound.
func (s pipelines) Get(ctx context.Context, name string) (*store.Pipeline, error) {
	p, err := scanPipeline(s.db.r.QueryRowContext(ctx, `SELECT `+pipelineColumns+` FROM pipelines WHERE name = ?`, name))
	if err != nil {
		return nil, s.db.errorf("get pipeline %s: %w", name, err)
	}
	return p, nil
}

// List pages by name.
func (s pipelines) List(ctx context.Context, opts store.ListOptions) ([]*store.Pipeline, bool, error) {
	if err := checkLimit(opts.Limit); err != nil {
		return nil, false, s.db.errorf("list pipelines: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+pipelineColumns+` FROM pipelines WHERE name > ? ORDER BY name LIMIT ?`,
		opts.After, opts.Limit+1)
	if err != nil {
		return nil, false, s.db.errorf("list pipelines: %w", err)
	}
	defer rows.Close()
	out := []*store.Pipeline{}
	for rows.Next() {
		p, err := scanPipeline(rows)
		if err != nil {
			return nil, false, s.db.errorf("list pipelines: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list pipelines: %w", err)
	}
	more := len(out) > opts.Limit
	if more {
		out = out[:opts.Limit]
	}
	return out, more, nil
}

// Apply moves the pipeline to the next generation when it is still at
// p.Generation: the conditional update is the optimistic lock, and the
// revision is written in the same transaction.
func (s pipelines) Apply(ctx context.Context, p *store.Pipeline) error {
	next := p.Generation + 1
	err := s.db.inTx(ctx, func(tx runner) error {
		res, err := tx.ExecContext(ctx, `UPDATE pipelines SET generation = ?, manifest = ?, updated_at = ? WHERE name = ? AND generation = ?`,
			next, p.Manifest, p.UpdatedAt, p.Name, p.Generation)
		if err != nil {
			return err
		}
		if err := affectedOrNotFound(res); err != nil {
			var n int
			if qerr := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pipelines WHERE name = ?`, p.Name).Scan(&n); qerr != nil {
				return qerr
			}
			if n > 0 {
				return store.ErrPrecondition
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pipeline_revisions (name, generation, manifest, created_at) VALUES (?, ?, ?, ?)`,
			p.Name, next, p.Manifest, p.UpdatedAt)
		return err
	})
	if err != nil {
		return s.db.errorf("apply pipeline %s: %w", p.Name, mapErr(s.db.d, err))
	}
	p.Generation = next
	return nil
}

// Revisions pages newest first.
func (s pipelines) Revisions(ctx context.Context, name string, limit int, before int64) ([]*store.PipelineRevision, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, s.db.errorf("list pipeline revisions: %w", err)
	}
	if _, err := s.Get(ctx, name); err != nil {
		return nil, false, err
	}
	if before <= 0 {
		before = 1<<62 - 1
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT name, generation, manifest, created_at FROM pipeline_revisions
		WHERE name = ? AND generation < ? ORDER BY generation DESC LIMIT ?`, name, before, limit+1)
	if err != nil {
		return nil, false, s.db.errorf("list pipeline revisions: %w", err)
	}
	defer rows.Close()
	out := []*store.PipelineRevision{}
	for rows.Next() {
		var r store.PipelineRevision
		if err := rows.Scan(&r.Name, &r.Generation, &r.Manifest, &r.CreatedAt); err != nil {
			return nil, false, s.db.errorf("list pipeline revisions: %w", err)
		}
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, s.db.errorf("list pipeline revisions: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Revision returns one generation of a pipeline.
func (s pipelines) Revision(ctx context.Context, name string, generation int64) (*store.PipelineRevision, error) {
	var r store.PipelineRevision
	err := s.db.r.QueryRowContext(ctx, `SELECT name, generation, manifest, created_at FROM pipeline_revisions
		WHERE name = ? AND generation = ?`, name, generation).Scan(&r.Name, &r.Generation, &r.Manifest, &r.CreatedAt)
	if err != nil {
		return nil, s.db.errorf("get pipeline %s revision %d: %w", name, generation, err)
	}
	return &r, nil
}

// Delete removes the pipeline; its revisions go with it (ON DELETE
// CASCADE), deleted explicitly too so that a connection without foreign
// keys enforced leaves nothing behind.
func (s pipelines) Delete(ctx context.Context, name string) error {
	err := s.db.inTx(ctx, func(tx runner) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pipeline_revisions WHERE name = ?`, name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM pipelines WHERE name = ?`, name)
		if err != nil {
			return err
		}
		return affectedOrNotFound(res)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		err = mapErr(s.db.d, err)
	}
	if err != nil {
		return s.db.errorf("delete pipeline %s: %w", name, err)
	}
	return nil
}
