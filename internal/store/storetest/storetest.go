// Package storetest is the conformance suite of store.Store: the SQL
// implementation (store/sqlstore) runs Run in its tests on each database and
// BenchmarkGetLiveInput / BenchmarkCreateLiveInput in its benchmarks, so that
// it behaves the same way on both behind the interfaces of package store.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// testCase is one conformance test; it gets a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest and must return a fresh, empty, migrated store
// that it closes at the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"LiveInputs", liveInputCases()},
		{"Tokens", tokenCases()},
		{"Idempotency", idempotencyCases()},
		{"SigningKeys", signingCases()},
		{"Webhooks", webhooksCases()},
		{"Outbox", outboxCases()},
		{"Videos", videosCases()},
		{"Uploads", uploadsCases()},
		{"Transcode", transcodeCases()},
		{"Source", sourceCases()},
		{"Store", storeCases()},
		{"Boundaries", boundaryCases()},
		{"Outputs", outputCases()},
		{"Pipelines", pipelineCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, open(t))
				})
			}
		})
	}
	t.Run("Store/close_idempotent", func(t *testing.T) {
		s := open(t)
		for i := range 3 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close #%d: %v", i+1, err)
			}
		}
	})
}

// storeCases covers the Store methods.
func storeCases() []testCase {
	return []testCase{
		{"schema_version", func(t *testing.T, s store.Store) {
			v, err := s.SchemaVersion(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if v <= 0 {
				t.Fatalf("SchemaVersion = %d, want > 0", v)
			}
		}},
		{"canceled_context", func(t *testing.T, s store.Store) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := s.LiveInputs().Get(ctx, "li_x"); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get with a canceled context: err = %v, want a context error", err)
			}
			if err := s.LiveInputs().Create(ctx, newLiveInput("li_x")); err == nil {
				t.Fatal("Create with a canceled context succeeded")
			}
		}},
	}
}

// baseTime is a fixed instant with sub-microsecond digits, in a zone other
// than UTC, so that round trips must normalise both.
func baseTime() time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))
}

// norm is what a stored time reads back as.
func norm(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// normPtr is norm of an optional time.
func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// keyHash is the SHA-256 of a stream key or token secret.
func keyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// newLiveInput returns a minimal valid live input with a stream key derived
// from id.
func newLiveInput(id string) *store.LiveInput {
	key := "sk_" + id
	return &store.LiveInput{
		ID:            id,
		Name:          "input " + id,
		Meta:          map[string]any{},
		Enabled:       true,
		StreamKey:     key,
		StreamKeyHash: keyHash(key),
		Recording:     store.Recording{Mode: store.RecordingOff},
		CreatedAt:     baseTime(),
		UpdatedAt:     baseTime(),
	}
}

// mustCreate creates li or fails the test.
func mustCreate(t testing.TB, s store.Store, li *store.LiveInput) {
	t.Helper()
	if err := s.LiveInputs().Create(t.Context(), li); err != nil {
		t.Fatalf("Create %s: %v", li.ID, err)
	}
}

// mustGet gets id or fails the test.
func mustGet(t testing.TB, s store.Store, id string) *store.LiveInput {
	t.Helper()
	li, err := s.LiveInputs().Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return li
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// normalised returns what li reads back as: times truncated to the
// microsecond in UTC, nil collections empty, the default recording mode.
func normalised(li *store.LiveInput) *store.LiveInput {
	n := *li
	n.CreatedAt, n.UpdatedAt = norm(li.CreatedAt), norm(li.UpdatedAt)
	n.KeysRotatedAt, n.LastConnectedAt = normPtr(li.KeysRotatedAt), normPtr(li.LastConnectedAt)
	if n.Meta == nil {
		n.Meta = map[string]any{}
	}
	if n.AllowedOrigins == nil {
		n.AllowedOrigins = []string{}
	}
	if n.Recording.Mode == "" {
		n.Recording.Mode = store.RecordingOff
	}
	if len(n.StreamKeyHash) == 0 {
		n.StreamKeyHash = nil
	}
	return &n
}

// assertLiveInput fails the test unless got equals want as stored (see
// normalised); Meta is compared as JSON values.
func assertLiveInput(t testing.TB, got, want *store.LiveInput) {
	t.Helper()
	want = normalised(want)
	if got.Meta == nil {
		t.Errorf("%s: Meta is nil", got.ID)
	}
	if got.AllowedOrigins == nil {
		t.Errorf("%s: AllowedOrigins is nil", got.ID)
	}
	for _, tm := range []*time.Time{&got.CreatedAt, &got.UpdatedAt, got.KeysRotatedAt, got.LastConnectedAt} {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: time %v is not in UTC", got.ID, tm)
		}
	}
	if g, w := jsonValue(t, got.Meta), jsonValue(t, want.Meta); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: Meta = %#v, want %#v", got.ID, g, w)
	}
	g, w := *got, *want
	g.Meta, w.Meta = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("live input mismatch\n got: %s\nwant: %s", describe(&g), describe(&w))
	}
}

// jsonValue returns v encoded and decoded as JSON: a value comparable with
// reflect.DeepEqual whatever number representation v uses.
func jsonValue(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// describe formats a live input for failure messages, the secret included
// (test data only).
func describe(li *store.LiveInput) string {
	s := fmt.Sprintf("%+v", *li)
	if li.KeysRotatedAt != nil {
		s += fmt.Sprintf(" KeysRotatedAt=%v", *li.KeysRotatedAt)
	}
	if li.LastConnectedAt != nil {
		s += fmt.Sprintf(" LastConnectedAt=%v", *li.LastConnectedAt)
	}
	return s
}
