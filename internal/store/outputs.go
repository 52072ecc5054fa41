package store

import (
	"context"
	"errors"
	"time"
)

// ErrLimit: the parent already holds the most rows allowed (outputs of a
// live input).
var ErrLimit = errors.New("limit reached")

// LiveInputOutput is a restream target of a live input: while the input is
// live, its stream (or a rendition of it) is pushed to URL.
type LiveInputOutput struct {
	ID            string    // "out_..."
	LiveInputID   string    //
	Name          string    //
	URL           string    // rtmp://, rtmps:// or srt:// (may hold an SRT passphrase: secret)
	StreamKey     string    // secret; write-only over the API
	Rendition     string    // "source" or a ladder rung name
	Enabled       bool      //
	TLSSkipVerify bool      // rtmps without certificate verification; only when asked
	CreatedAt     time.Time // UTC, microsecond precision
	UpdatedAt     time.Time //
}

// LiveInputOutputs persists the outputs of live inputs. Deleting a live
// input deletes its outputs.
type LiveInputOutputs interface {
	// Create inserts o unless its live input already has max outputs
	// (ErrLimit); ErrNotFound when the live input is absent, ErrConflict
	// when the id exists.
	Create(ctx context.Context, o *LiveInputOutput, max int) error
	// Get returns output id of the live input, or ErrNotFound.
	Get(ctx context.Context, liveInputID, id string) (*LiveInputOutput, error)
	// List returns the outputs of a live input ordered by id.
	List(ctx context.Context, liveInputID string) ([]*LiveInputOutput, error)
	// Update replaces every field of the row but the ids and CreatedAt;
	// ErrNotFound.
	Update(ctx context.Context, o *LiveInputOutput) error
	// Delete removes output id of the live input; ErrNotFound.
	Delete(ctx context.Context, liveInputID, id string) error
}
