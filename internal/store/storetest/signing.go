package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// signingCases is the conformance suite of store.SigningKeys.
func signingCases() []testCase {
	return []testCase{
		{"create_get_round_trip", testSigningCreateGet},
		{"create_conflict", testSigningConflict},
		{"not_found", testSigningNotFound},
		{"revoke_keeps_first_time", testSigningRevoke},
		{"list_pages", testSigningList},
		{"secret_first_writer_wins", testSigningSecret},
	}
}

func newSigningKey(id, alg string) *store.SigningKey {
	return &store.SigningKey{ID: id, Algorithm: alg, PublicKey: []byte("der-" + id), Generated: alg == store.AlgRS256, CreatedAt: baseTime()}
}

func assertSigningKey(t testing.TB, got, want *store.SigningKey) {
	t.Helper()
	w := *want
	w.CreatedAt, w.RevokedAt = norm(w.CreatedAt), normPtr(w.RevokedAt)
	if !reflect.DeepEqual(*got, w) {
		t.Errorf("signing key mismatch\n got: %+v\nwant: %+v", *got, w)
	}
}

func testSigningCreateGet(t *testing.T, s store.Store) {
	for _, k := range []*store.SigningKey{newSigningKey("sk_a", store.AlgRS256), newSigningKey("sk_b", store.AlgES256)} {
		if err := s.SigningKeys().Create(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		got, err := s.SigningKeys().Get(t.Context(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSigningKey(t, got, k)
	}
}

func testSigningConflict(t *testing.T, s store.Store) {
	k := newSigningKey("sk_a", store.AlgRS256)
	if err := s.SigningKeys().Create(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	if err := s.SigningKeys().Create(t.Context(), k); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Create: %v, want ErrConflict", err)
	}
}

func testSigningNotFound(t *testing.T, s store.Store) {
	if _, err := s.SigningKeys().Get(t.Context(), "sk_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if err := s.SigningKeys().Revoke(t.Context(), "sk_nope", baseTime()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revoke: %v", err)
	}
}

func testSigningRevoke(t *testing.T, s store.Store) {
	k := newSigningKey("sk_a", store.AlgES256)
	if err := s.SigningKeys().Create(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	first := baseTime().Add(time.Hour)
	for _, at := range []time.Time{first, first.Add(time.Hour)} {
		if err := s.SigningKeys().Revoke(t.Context(), k.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SigningKeys().Get(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	k.RevokedAt = &first
	assertSigningKey(t, got, k)
}

func testSigningList(t *testing.T, s store.Store) {
	for i := range 5 {
		if err := s.SigningKeys().Create(t.Context(), newSigningKey(fmt.Sprintf("sk_%02d", i), store.AlgRS256)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		after    string
		limit    int
		wantIDs  []string
		wantMore bool
	}{
		{"", 2, []string{"sk_00", "sk_01"}, true},
		{"sk_01", 2, []string{"sk_02", "sk_03"}, true},
		{"sk_03", 2, []string{"sk_04"}, false},
		{"", 10, []string{"sk_00", "sk_01", "sk_02", "sk_03", "sk_04"}, false},
	}
	for _, tt := range tests {
		rows, more, err := s.SigningKeys().List(t.Context(), store.ListOptions{Limit: tt.limit, After: tt.after})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, tt.wantIDs) || more != tt.wantMore {
			t.Errorf("List(after %q, limit %d) = %v, %v; want %v, %v", tt.after, tt.limit, ids, more, tt.wantIDs, tt.wantMore)
		}
	}
}

func testSigningSecret(t *testing.T, s store.Store) {
	a, err := s.SigningKeys().Secret(t.Context(), "admission", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.SigningKeys().Secret(t.Context(), "admission", []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, []byte("first")) || !bytes.Equal(b, []byte("first")) {
		t.Fatalf("Secret = %q, %q; want first twice", a, b)
	}
	c, err := s.SigningKeys().Secret(t.Context(), "mint", []byte("other"))
	if err != nil || !bytes.Equal(c, []byte("other")) {
		t.Fatalf("Secret(mint) = %q, %v", c, err)
	}
}
