// Package auth resolves credentials: stream keys to live inputs (and later
// API tokens and playback tokens).
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnknownKey means no live input has the presented stream key.
var ErrUnknownKey = errors.New("unknown stream key")

// ErrNotFound means no live input has the id.
var ErrNotFound = errors.New("live input not found")

// LiveInput is what ingest and playback need to know of a live input.
type LiveInput struct {
	ID   string
	Name string
	// SRTPassphrase, when set, is required from SRT publishers of this
	// input (10-79 characters; the SRT handshake's encryption key).
	SRTPassphrase string
	// ReconnectWindow, when > 0, replaces the daemon's reconnect window for
	// this input's streams.
	ReconnectWindow time.Duration
}

// Directory resolves live inputs by stream key (ingest) and by id (playback).
// The static config list implements it today; the database-backed store
// implements it once the control plane lands.
type Directory interface {
	// ByStreamKey returns the live input whose stream key is key, or
	// ErrUnknownKey. Implementations compare keys in constant time.
	ByStreamKey(ctx context.Context, key string) (LiveInput, error)
	// ByID returns the live input id, or ErrNotFound.
	ByID(ctx context.Context, id string) (LiveInput, error)
}

// Static is a Directory over a fixed list. Keys are kept only as SHA-256
// digests.
type Static struct {
	mu     sync.RWMutex
	byHash map[[32]byte]LiveInput
	byID   map[string]LiveInput
}

var _ Directory = (*Static)(nil)

// StaticEntry is one live input of a Static directory.
type StaticEntry struct {
	ID, Name, StreamKey, SRTPassphrase string
}

// NewStatic builds a Static directory; ids and keys must be unique.
func NewStatic(entries []StaticEntry) (*Static, error) {
	s := &Static{byHash: map[[32]byte]LiveInput{}, byID: map[string]LiveInput{}}
	for i, e := range entries {
		h := sha256.Sum256([]byte(e.StreamKey))
		if _, dup := s.byHash[h]; dup {
			return nil, fmt.Errorf("live_inputs[%d]: duplicate stream_key", i)
		}
		if _, dup := s.byID[e.ID]; dup {
			return nil, fmt.Errorf("live_inputs[%d]: duplicate id %q", i, e.ID)
		}
		li := LiveInput{ID: e.ID, Name: e.Name, SRTPassphrase: e.SRTPassphrase}
		s.byHash[h] = li
		s.byID[e.ID] = li
	}
	return s, nil
}

// ByStreamKey implements Directory. The lookup is by SHA-256 digest, so its
// timing does not depend on how much of a stored key the candidate shares
// (the map compares digests, never the secrets themselves).
func (s *Static) ByStreamKey(_ context.Context, key string) (LiveInput, error) {
	h := sha256.Sum256([]byte(key))
	s.mu.RLock()
	li, ok := s.byHash[h]
	s.mu.RUnlock()
	if !ok {
		return LiveInput{}, ErrUnknownKey
	}
	return li, nil
}

// ByID implements Directory.
func (s *Static) ByID(_ context.Context, id string) (LiveInput, error) {
	s.mu.RLock()
	li, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return LiveInput{}, ErrNotFound
	}
	return li, nil
}
