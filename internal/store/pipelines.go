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
	// LiveInputs are the live inputs the manifest's source.live nodes
	// bind. Create and Apply store them with the manifest, atomically: a
	// live input is bound by at most one pipeline (*BindingError). Get and
	// List leave it nil; Bound finds the pipeline of a live input.
	LiveInputs []string
}

// BindingError is returned by Create and Apply when a live input of the
// pipeline is bound by another one. It matches ErrConflict.
type BindingError struct {
	LiveInput string
	Pipeline  string // the pipeline that binds it ("" when it was unbound meanwhile)
}

func (e *BindingError) Error() string {
	return "live input " + e.LiveInput + " is bound by pipeline " + e.Pipeline
}

// Is matches ErrConflict.
func (e *BindingError) Is(target error) bool { return target == ErrConflict }

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
	// Create inserts p (Generation must be 1), its revision 1 and its
	// bindings; ErrConflict when the name exists, *BindingError when a
	// live input is bound by another pipeline.
	Create(ctx context.Context, p *Pipeline) error
	// Get returns pipeline name or ErrNotFound.
	Get(ctx context.Context, name string) (*Pipeline, error)
	// List returns up to opts.Limit pipelines by name after opts.After,
	// and whether more follow.
	List(ctx context.Context, opts ListOptions) ([]*Pipeline, bool, error)
	// Apply stores p.Manifest as the next generation when the stored
	// generation is still p.Generation (ErrPrecondition otherwise;
	// ErrNotFound), with its revision, and replaces its bindings with
	// p.LiveInputs (*BindingError, nothing stored, when one is bound by
	// another pipeline), then increments p.Generation.
	Apply(ctx context.Context, p *Pipeline) error
	// Revisions returns up to limit revisions of pipeline name, newest
	// first, of generations below before (0: from the newest), and whether
	// more follow; ErrNotFound when the pipeline does not exist.
	Revisions(ctx context.Context, name string, limit int, before int64) ([]*PipelineRevision, bool, error)
	// Revision returns one generation of a pipeline, or ErrNotFound.
	Revision(ctx context.Context, name string, generation int64) (*PipelineRevision, error)
	// Delete removes the pipeline, its revisions and its bindings;
	// ErrNotFound.
	Delete(ctx context.Context, name string) error
	// Bound returns the pipeline that binds live input id (with
	// LiveInputs), or ErrNotFound.
	Bound(ctx context.Context, liveInput string) (*Pipeline, error)
}
