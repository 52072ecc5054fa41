package sqlstore

import (
	"context"
	"database/sql"
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipeline_revisions (name, generation, manifest, created_at) VALUES (?, ?, ?, ?)`,
			p.Name, p.Generation, p.Manifest, p.UpdatedAt); err != nil {
			return err
		}
		return s.bind(ctx, tx, p)
	})
	if err != nil {
		return s.db.errorf("create pipeline %s: %w", p.Name, s.bindingErr(ctx, p, err))
	}
	return nil
}

// bind replaces the bindings of p with p.LiveInputs inside tx. A live
// input bound by another pipeline is found first, for a precise error;
// the primary key of pipeline_bindings is what makes it atomic (two
// transactions binding one input: one fails with a unique violation).
func (s pipelines) bind(ctx context.Context, tx runner, p *store.Pipeline) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM pipeline_bindings WHERE pipeline = ?`, p.Name); err != nil {
		return err
	}
	for _, id := range p.LiveInputs {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT pipeline FROM pipeline_bindings WHERE live_input_id = ?`, id).Scan(&other)
		switch {
		case err == nil:
			return &store.BindingError{LiveInput: id, Pipeline: other}
		case !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipeline_bindings (live_input_id, pipeline) VALUES (?, ?)`, id, p.Name); err != nil {
			return err
		}
	}
	return nil
}

// bindingErr maps err of a transaction that bound p: a unique violation
// on a binding (a concurrent bind won) becomes a *BindingError naming the
// winner when it can be read.
func (s pipelines) bindingErr(ctx context.Context, p *store.Pipeline, err error) error {
	var be *store.BindingError
	if errors.As(err, &be) || !s.db.d.isUniqueViolation(err) {
		return mapErr(s.db.d, err)
	}
	for _, id := range p.LiveInputs {
		var other string
		if s.db.r.QueryRowContext(ctx, `SELECT pipeline FROM pipeline_bindings WHERE live_input_id = ?`, id).Scan(&other) == nil && other != p.Name {
			return &store.BindingError{LiveInput: id, Pipeline: other}
		}
	}
	return mapErr(s.db.d, err)
}

// Bound returns the pipeline that binds a live input, with its bindings.
func (s pipelines) Bound(ctx context.Context, liveInput string) (*store.Pipeline, error) {
	p, err := scanPipeline(s.db.r.QueryRowContext(ctx, `SELECT `+pipelineColumnsOf("p")+` FROM pipelines p
		JOIN pipeline_bindings b ON b.pipeline = p.name WHERE b.live_input_id = ?`, liveInput))
	if err != nil {
		return nil, s.db.errorf("pipeline of live input %s: %w", liveInput, err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT live_input_id FROM pipeline_bindings WHERE pipeline = ? ORDER BY live_input_id`, p.Name)
	if err != nil {
		return nil, s.db.errorf("pipeline of live input %s: %w", liveInput, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.db.errorf("pipeline of live input %s: %w", liveInput, err)
		}
		p.LiveInputs = append(p.LiveInputs, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.errorf("pipeline of live input %s: %w", liveInput, err)
	}
	return p, nil
}

func pipelineColumnsOf(alias string) string {
	return alias + ".name, " + alias + ".generation, " + alias + ".manifest, " + alias + ".created_at, " + alias + ".updated_at"
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
		if _, err = tx.ExecContext(ctx, `INSERT INTO pipeline_revisions (name, generation, manifest, created_at) VALUES (?, ?, ?, ?)`,
			p.Name, next, p.Manifest, p.UpdatedAt); err != nil {
			return err
		}
		return s.bind(ctx, tx, p)
	})
	if err != nil {
		return s.db.errorf("apply pipeline %s: %w", p.Name, s.bindingErr(ctx, p, err))
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM pipeline_bindings WHERE pipeline = ?`, name); err != nil {
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
