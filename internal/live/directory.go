package live

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/store"
)

// ErrLiveInputDisabled is returned by Directory for the stream key of a
// live input with enabled=false. It wraps auth.ErrUnknownKey, so ingest
// refuses it like an unknown key, and it is distinct (errors.Is) for logs
// and events.
var ErrLiveInputDisabled = fmt.Errorf("%w: live input disabled", auth.ErrUnknownKey)

// Directory is the auth.Directory of the control plane: stream keys and
// ids resolved against the store.
type Directory struct{ lis store.LiveInputs }

var _ auth.Directory = (*Directory)(nil)

// NewDirectory returns the Directory over lis.
func NewDirectory(lis store.LiveInputs) *Directory { return &Directory{lis: lis} }

// maxStreamKey bounds the keys looked up (a key is 29 characters; static
// keys may be longer).
const maxStreamKey = 512

// ByStreamKey implements auth.Directory: the key's SHA-256 is looked up,
// then compared in constant time. Disabled inputs give
// ErrLiveInputDisabled.
func (d *Directory) ByStreamKey(ctx context.Context, key string) (auth.LiveInput, error) {
	if key == "" || len(key) > maxStreamKey {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	h := api.HashSecret(key)
	li, err := d.lis.GetByStreamKeyHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	if err != nil {
		return auth.LiveInput{}, fmt.Errorf("resolve stream key: %w", err)
	}
	if subtle.ConstantTimeCompare(li.StreamKeyHash, h) != 1 {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	if !li.Enabled {
		return auth.LiveInput{}, ErrLiveInputDisabled
	}
	return authInput(li), nil
}

// ByID implements auth.Directory.
func (d *Directory) ByID(ctx context.Context, id string) (auth.LiveInput, error) {
	li, err := d.lis.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.LiveInput{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.LiveInput{}, fmt.Errorf("resolve live input: %w", err)
	}
	return authInput(li), nil
}

func authInput(li *store.LiveInput) auth.LiveInput {
	return auth.LiveInput{ID: li.ID, Name: li.Name, SRTPassphrase: li.SRTPassphrase,
		ReconnectWindow: time.Duration(li.ReconnectWindowSeconds) * time.Second}
}
