package store

import (
	"context"
	"time"
)

// Pipeline is a stored pipeline manifest: the manifest of its current
// generation, as canonical JSON (internal/pipeline/manifest).
type Pipeline struct {
	Name string // metadata.name: the key
	// Generation is 1 at creation and grows by one at every change of the
	// manifest (an apply that changes it, a rollback).
	Generation int64
	Manifest   string    // canonical JSON
	CreatedAt  time.Time // UTC, microsecond precision
	UpdatedAt  time.Time // when the current generation was stored
}

// PipelineRevision is the manifest of one generation of a pipeline; every
// generation is kept until the pipeline is deleted.
type PipelineRevision struct {
	Name       string
	Generation int64
	Manifest   string
	CreatedAt  time.Time
}

// Pipelines persists pipelines and their revisions.
type Pipelines interface {
	// Create inserts p (Generation must be 1) and its revision 1;
	// ErrConflict when the name exists.
	Create(ctx context.Context, p *Pipeline) error
	// Get returns pipeline name or ErrNotFound.
	Get(ctx context.Context, name string) (*Pipeline, error)
	// List returns up to opts.Limit pipelines by name after opts.After,
	// and whether more follow.
	List(ctx context.Context, opts ListOptions) ([]*Pipeline, bool, error)
	// Apply stores p.Manifest as the next generation when the stored
	// generation is still p.Generation (ErrPrecondition otherwise;
	// ErrNotFound), with its revision, then increments p.Generation.
	Apply(ctx context.Context, p *Pipeline) error
	// Revisions returns up to limit revisions of pipeline name, newest
	// first, of generations below before (0: from the newest), and whether
	// more follow; ErrNotFound when the pipeline does not exist.
	Revisions(ctx context.Context, name string, limit int, before int64) ([]*PipelineRevision, bool, error)
	// Revision returns one generation of a pipeline, or ErrNotFound.
	Revision(ctx context.Context, name string, generation int64) (*PipelineRevision, error)
	// Delete removes the pipeline and its revisions; ErrNotFound.
	Delete(ctx context.Context, name string) error
}
