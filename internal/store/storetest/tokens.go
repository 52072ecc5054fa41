package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// tokenCases covers store.Tokens.
func tokenCases() []testCase {
	return []testCase{
		{"create_get_round_trip", testTokenCreateGet},
		{"create_conflict", testTokenConflict},
		{"not_found", testTokenNotFound},
		{"revoke_idempotent", testTokenRevoke},
		{"touch", testTokenTouch},
		{"list", testTokenList},
	}
}

// newToken returns a token whose secret is derived from id.
func newToken(id string) *store.APIToken {
	secret := "mft_secret_" + id
	return &store.APIToken{
		ID:        id,
		Name:      "token " + id,
		Prefix:    secret[:8],
		Hash:      keyHash(secret),
		Scopes:    []string{"live_inputs:read", "live_inputs:write"},
		CreatedAt: baseTime(),
	}
}

// assertToken fails the test unless got equals want as stored.
func assertToken(t testing.TB, got, want *store.APIToken) {
	t.Helper()
	w := *want
	w.CreatedAt = norm(w.CreatedAt)
	w.LastUsedAt, w.RevokedAt = normPtr(w.LastUsedAt), normPtr(w.RevokedAt)
	if w.Scopes == nil {
		w.Scopes = []string{}
	}
	if got.Scopes == nil {
		t.Errorf("%s: Scopes is nil", got.ID)
	}
	if !reflect.DeepEqual(*got, w) {
		t.Errorf("token mismatch\n got: %+v\nwant: %+v", *got, w)
	}
}

// mustCreateToken creates tok or fails the test.
func mustCreateToken(t testing.TB, s store.Store, tok *store.APIToken) {
	t.Helper()
	if err := s.Tokens().Create(t.Context(), tok); err != nil {
		t.Fatalf("Create %s: %v", tok.ID, err)
	}
}

// mustGetToken gets id or fails the test.
func mustGetToken(t testing.TB, s store.Store, id string) *store.APIToken {
	t.Helper()
	tok, err := s.Tokens().Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return tok
}

func testTokenCreateGet(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		tok  *store.APIToken
	}{
		{"minimal", newToken("tok_a")},
		{"nil scopes", func() *store.APIToken { tok := newToken("tok_b"); tok.Scopes = nil; return tok }()},
		{"every field", func() *store.APIToken {
			tok := newToken("tok_c")
			tok.Scopes = []string{"admin"}
			tok.LastUsedAt = ptr(baseTime().Add(time.Minute))
			tok.RevokedAt = ptr(baseTime().Add(time.Hour))
			return tok
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustCreateToken(t, s, tc.tok)
			assertToken(t, mustGetToken(t, s, tc.tok.ID), tc.tok)
			got, err := s.Tokens().GetByHash(t.Context(), tc.tok.Hash)
			if err != nil {
				t.Fatal(err)
			}
			assertToken(t, got, tc.tok)
		})
	}
}

func testTokenConflict(t *testing.T, s store.Store) {
	orig := newToken("tok_a")
	mustCreateToken(t, s, orig)
	dupID := newToken("tok_a")
	dupID.Hash = keyHash("another secret")
	dupHash := newToken("tok_b")
	dupHash.Hash = orig.Hash
	for _, tc := range []struct {
		name string
		tok  *store.APIToken
	}{{"duplicate id", dupID}, {"duplicate hash", dupHash}} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "Create", s.Tokens().Create(t.Context(), tc.tok), store.ErrConflict)
		})
	}
	assertToken(t, mustGetToken(t, s, "tok_a"), orig)
}

func testTokenNotFound(t *testing.T, s store.Store) {
	mustCreateToken(t, s, newToken("tok_a"))
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Tokens().Get(t.Context(), "tok_missing"); return err }},
		{"GetByHash", func() error { _, err := s.Tokens().GetByHash(t.Context(), keyHash("nope")); return err }},
		{"GetByHash nil", func() error { _, err := s.Tokens().GetByHash(t.Context(), nil); return err }},
		{"Revoke", func() error { return s.Tokens().Revoke(t.Context(), "tok_missing", baseTime()) }},
		{"Touch", func() error { return s.Tokens().Touch(t.Context(), "tok_missing", baseTime()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), store.ErrNotFound) })
	}
}

func testTokenRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken("tok_a")
	mustCreateToken(t, s, tok)
	first := baseTime().Add(time.Hour + 7*time.Nanosecond)
	if err := s.Tokens().Revoke(ctx, "tok_a", first); err != nil {
		t.Fatal(err)
	}
	if err := s.Tokens().Revoke(ctx, "tok_a", first.Add(time.Hour)); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	want := *tok
	want.RevokedAt = &first // the first revocation is kept
	assertToken(t, mustGetToken(t, s, "tok_a"), &want)
	got, err := s.Tokens().GetByHash(ctx, tok.Hash) // revoked tokens are still found
	if err != nil {
		t.Fatal(err)
	}
	assertToken(t, got, &want)
}

func testTokenTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken("tok_a")
	mustCreateToken(t, s, tok)
	t1 := baseTime().Add(time.Minute + 999*time.Nanosecond)
	t2 := t1.Add(time.Minute)
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first use", t1, t1},
		{"later use", t2, t2},
		{"earlier use does not move it back", t1, t2},
	}
	for _, st := range steps {
		if err := s.Tokens().Touch(ctx, "tok_a", st.at); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := mustGetToken(t, s, "tok_a")
		if got.LastUsedAt == nil || *got.LastUsedAt != norm(st.want) {
			t.Fatalf("%s: LastUsedAt = %v, want %v", st.name, got.LastUsedAt, norm(st.want))
		}
		if got.RevokedAt != nil {
			t.Fatalf("%s: RevokedAt set", st.name)
		}
	}
}

func testTokenList(t *testing.T, s store.Store) {
	var ids []string
	for i := range 25 {
		id := fmt.Sprintf("tok_%03d", (i*7)%25) // out of order
		ids = append(ids, id)
		mustCreateToken(t, s, newToken(id))
	}
	slices.Sort(ids)
	var got []string
	after := ""
	for {
		// Name and Enabled are ignored for tokens.
		rows, more, err := s.Tokens().List(t.Context(), store.ListOptions{Limit: 7, After: after, Name: "zzz", Enabled: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 7 || (more && len(rows) != 7) {
			t.Fatalf("page of %d rows, more=%v", len(rows), more)
		}
		for _, tok := range rows {
			if tok.Scopes == nil {
				t.Fatalf("%s: Scopes is nil", tok.ID)
			}
			got = append(got, tok.ID)
		}
		if !more {
			break
		}
		after = rows[len(rows)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
}
