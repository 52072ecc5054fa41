// Package store holds MpegFlow's domain types and the interfaces of their
// persistence. One SQL implementation satisfies them, store/sqlstore, on
// SQLite (embedded, the default; opened by store/sqlite) and on PostgreSQL
// (several nodes; opened by store/postgres). store/storetest is the
// conformance suite it passes on both. Only internal/app chooses which
// database is used.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped or bare; test with errors.Is).
var (
	// ErrNotFound: no row with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (id, stream key, idempotency key) exists.
	ErrConflict = errors.New("conflict")
	// ErrPrecondition: the row changed since the version the caller read
	// (optimistic concurrency, If-Match).
	ErrPrecondition = errors.New("precondition failed")
	// ErrSchemaTooNew: the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary understands")
)

// Recording modes of a live input.
const (
	RecordingOff       = "off"
	RecordingAutomatic = "automatic"
)

// Recording is a live input's recording setting (used by the recording
// feature; stored now).
type Recording struct {
	Mode            string `json:"mode"`              // off | automatic; default off
	DeleteAfterDays int    `json:"delete_after_days"` // 0 = keep
}

// TranscodeSetting is a live input's transcoding setting: Mode
// "off" (default: the source is passed through alone) or "on" (the source
// plus the Ladder's rungs, named after transcode.profiles).
type TranscodeSetting struct {
	Mode   string   `json:"mode"`   // off | on; "" reads as off
	Ladder []string `json:"ladder"` // profile names; nil when empty
}

// LiveInput is a place encoders publish to.
type LiveInput struct {
	ID                     string           // public id, e.g. "li_01j..."; URL-safe
	Name                   string           //
	Meta                   map[string]any   // free JSON object; never nil after a read
	Enabled                bool             //
	StreamKey              string           // secret; shown to the input's own scope only
	StreamKeyHash          []byte           // SHA-256 of StreamKey, the lookup index
	SRTPassphrase          string           // secret; 10-79 characters, "" = none
	ReconnectWindowSeconds int              // 0 = daemon default
	Recording              Recording        //
	RequireSignedURLs      bool             //
	Transcode              TranscodeSetting //
	AllowedOrigins         []string         // never nil after a read
	Static                 bool             // declared in the config file: read-only over the API
	Version                int64            // incremented by every update (ETag)
	CreatedAt, UpdatedAt   time.Time        // UTC, microsecond precision
	KeysRotatedAt          *time.Time       //
	LastConnectedAt        *time.Time       //
	Source                 *PullSource      // a camera the daemon pulls; nil = publishers push
}

// PullSource is an RTSP URL the daemon pulls into a live input while it is
// enabled. URL may carry credentials (rtsp://user:pass@host/path): a
// secret, never logged, masked on read over the API.
type PullSource struct {
	URL       string // rtsp:// or rtsps://
	Transport string // auto | tcp | udp ("" = auto)
	OnDemand  bool   // pull only while someone watches
}

// ListOptions page through a list ordered by id ascending.
type ListOptions struct {
	Limit int    // 1..1000; the store does not default it
	After string // return ids strictly greater than this ("" = from the start)
	// Name, when set, keeps rows whose name contains it (case-insensitive).
	Name string
	// Enabled, when non-nil, keeps rows with that value.
	Enabled *bool
}

// LiveInputs persists live inputs.
type LiveInputs interface {
	// Create inserts li (Version set to 1; CreatedAt/UpdatedAt set by the
	// caller). ErrConflict when the id or the stream key hash exists.
	Create(ctx context.Context, li *LiveInput) error
	// Get returns the live input id or ErrNotFound.
	Get(ctx context.Context, id string) (*LiveInput, error)
	// GetByStreamKeyHash returns the live input with that key hash or
	// ErrNotFound.
	GetByStreamKeyHash(ctx context.Context, hash []byte) (*LiveInput, error)
	// List returns up to opts.Limit rows after opts.After, and whether more
	// rows follow.
	List(ctx context.Context, opts ListOptions) (rows []*LiveInput, more bool, err error)
	// Update replaces every field of the row li.ID when its stored Version
	// equals li.Version, then increments li.Version. ErrNotFound,
	// ErrPrecondition, ErrConflict (stream key hash taken).
	Update(ctx context.Context, li *LiveInput) error
	// Delete removes the row; ErrNotFound when absent.
	Delete(ctx context.Context, id string) error
	// SetLastConnected records a publish; no Version change.
	SetLastConnected(ctx context.Context, id string, at time.Time) error

	// The transactional outbox: each method below is the one
	// above plus the events evf returns, written to the webhook outbox
	// (see Webhooks.Emit) in the change's transaction. evf may be nil.

	// CreateEmitting is Create; evf sees the row as created.
	CreateEmitting(ctx context.Context, li *LiveInput, evf EventFunc) error
	// UpdateEmitting is Update; evf sees the row as updated (new Version).
	UpdateEmitting(ctx context.Context, li *LiveInput, evf EventFunc) error
	// DeleteEmitting is Delete; evf sees the row as it was.
	DeleteEmitting(ctx context.Context, id string, evf EventFunc) error
	// SetLastConnectedEmitting is SetLastConnected; evf sees the row after.
	SetLastConnectedEmitting(ctx context.Context, id string, at time.Time, evf EventFunc) error
}

// APIToken is a bearer token of the control API. The secret itself is never
// stored: only its SHA-256.
type APIToken struct {
	ID         string     // public id, "tok_..."
	Name       string     //
	Prefix     string     // the first characters of the secret, for people to recognise it
	Hash       []byte     // SHA-256 of the whole secret
	Scopes     []string   // e.g. live_inputs:read, live_inputs:write, tokens:write, admin
	CreatedAt  time.Time  //
	LastUsedAt *time.Time //
	RevokedAt  *time.Time //
}

// Tokens persists API tokens.
type Tokens interface {
	Create(ctx context.Context, t *APIToken) error                         // ErrConflict on id/hash
	Get(ctx context.Context, id string) (*APIToken, error)                 // ErrNotFound
	GetByHash(ctx context.Context, hash []byte) (*APIToken, error)         // ErrNotFound (revoked ones too are returned)
	List(ctx context.Context, opts ListOptions) ([]*APIToken, bool, error) // by id; Name/Enabled ignored
	Revoke(ctx context.Context, id string, at time.Time) error             // ErrNotFound; idempotent
	Touch(ctx context.Context, id string, at time.Time) error              // LastUsedAt
}

// IdempotencyRecord remembers the first response to a POST with an
// Idempotency-Key, for 24 hours.
type IdempotencyRecord struct {
	Scope     string // who sent it (token id) + method + path
	Key       string // the Idempotency-Key header
	BodyHash  []byte // SHA-256 of the request body
	Status    int
	Body      []byte
	CreatedAt time.Time
}

// Idempotency persists idempotency records.
type Idempotency interface {
	// Get returns the record for (scope, key) or ErrNotFound.
	Get(ctx context.Context, scope, key string) (*IdempotencyRecord, error)
	// Put stores r; ErrConflict when (scope, key) exists.
	Put(ctx context.Context, r *IdempotencyRecord) error
	// Purge deletes records created before t.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Store is one database.
type Store interface {
	LiveInputs() LiveInputs
	Tokens() Tokens
	Idempotency() Idempotency
	SigningKeys() SigningKeys  // signing.go
	Webhooks() Webhooks        // webhooks.go
	Videos() Videos            // videos.go
	Outputs() LiveInputOutputs // outputs.go
	Uploads() Uploads          // uploads.go
	Pipelines() Pipelines      // pipelines.go
	// SchemaVersion is the migration level of the database.
	SchemaVersion(ctx context.Context) (int, error)
	// Close releases the connections; idempotent.
	Close() error
}
