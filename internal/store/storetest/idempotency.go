package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// idempotencyCases covers store.Idempotency.
func idempotencyCases() []testCase {
	return []testCase{
		{"put_get_round_trip", testIdemPutGet},
		{"conflict", testIdemConflict},
		{"not_found", testIdemNotFound},
		{"purge", testIdemPurge},
	}
}

// newRecord returns a record of scope and key created at.
func newRecord(scope, key string, at time.Time) *store.IdempotencyRecord {
	return &store.IdempotencyRecord{
		Scope:     scope,
		Key:       key,
		BodyHash:  keyHash(scope + key),
		Status:    201,
		Body:      []byte(`{"data":{"id":"li_1"}}`),
		CreatedAt: at,
	}
}

// assertRecord fails the test unless got equals want as stored.
func assertRecord(t testing.TB, got, want *store.IdempotencyRecord) {
	t.Helper()
	if got.Scope != want.Scope || got.Key != want.Key || got.Status != want.Status ||
		!bytes.Equal(got.BodyHash, want.BodyHash) || !bytes.Equal(got.Body, want.Body) ||
		got.CreatedAt != norm(want.CreatedAt) {
		t.Fatalf("record mismatch\n got: %+v\nwant: %+v", *got, *want)
	}
}

func testIdemPutGet(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		r    *store.IdempotencyRecord
	}{
		{"json body", newRecord("tok_a POST /v1/live_inputs", "key-1", baseTime())},
		{"binary body", func() *store.IdempotencyRecord {
			r := newRecord("tok_a POST /v1/live_inputs", "key-2", baseTime())
			r.Body, r.Status = []byte{0, 1, 2, 0xff, 0, 0xfe}, 422
			return r
		}()},
		{"empty body", func() *store.IdempotencyRecord {
			r := newRecord("tok_a POST /v1/x", "key-3", baseTime())
			r.Body, r.Status = nil, 204
			return r
		}()},
		{"unicode key", newRecord("tok_b POST /v1/live_inputs", "clé-🔑", baseTime())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Idempotency().Put(t.Context(), tc.r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Idempotency().Get(t.Context(), tc.r.Scope, tc.r.Key)
			if err != nil {
				t.Fatal(err)
			}
			assertRecord(t, got, tc.r)
		})
	}
}

func testIdemConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := newRecord("scope", "key", baseTime())
	if err := s.Idempotency().Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := newRecord("scope", "key", baseTime().Add(time.Second))
	second.Body = []byte("other")
	wantErr(t, "Put same scope and key", s.Idempotency().Put(ctx, second), store.ErrConflict)
	// The same key in another scope is another record.
	if err := s.Idempotency().Put(ctx, newRecord("scope2", "key", baseTime())); err != nil {
		t.Fatalf("Put same key, other scope: %v", err)
	}
	got, err := s.Idempotency().Get(ctx, "scope", "key")
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, got, first)
}

func testIdemNotFound(t *testing.T, s store.Store) {
	if err := s.Idempotency().Put(t.Context(), newRecord("scope", "key", baseTime())); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ scope, key string }{{"scope", "other"}, {"other", "key"}, {"", ""}} {
		_, err := s.Idempotency().Get(t.Context(), tc.scope, tc.key)
		wantErr(t, "Get "+tc.scope+"/"+tc.key, err, store.ErrNotFound)
	}
}

func testIdemPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := baseTime()
	records := []*store.IdempotencyRecord{
		newRecord("s", "48h", now.Add(-48*time.Hour)),
		newRecord("s", "25h", now.Add(-25*time.Hour)),
		newRecord("s", "cutoff", now.Add(-24*time.Hour)), // not before the cutoff: kept
		newRecord("s", "1h", now.Add(-time.Hour)),
	}
	for _, r := range records {
		if err := s.Idempotency().Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Idempotency().Purge(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2", n, err)
	}
	for _, r := range records {
		_, err := s.Idempotency().Get(ctx, r.Scope, r.Key)
		purged := r.Key == "48h" || r.Key == "25h"
		if purged {
			wantErr(t, "Get purged "+r.Key, err, store.ErrNotFound)
		} else if err != nil {
			t.Fatalf("Get kept %s: %v", r.Key, err)
		}
	}
	if n, err := s.Idempotency().Purge(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want 0", n, err)
	}
}
