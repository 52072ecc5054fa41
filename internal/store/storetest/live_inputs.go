package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// liveInputCases covers store.LiveInputs.
func liveInputCases() []testCase {
	return []testCase{
		{"create_get_round_trip", testCreateGet},
		{"create_conflict", testCreateConflict},
		{"not_found", testLiveInputNotFound},
		{"update", testUpdate},
		{"delete", testDelete},
		{"set_last_connected", testSetLastConnected},
		{"list_paging", testListPaging},
		{"list_limit_out_of_range", testListLimit},
		{"list_filters", testListFilters},
		{"meta_json", testMetaJSON},
		{"nil_normalised", testNilNormalised},
		{"timestamps", testTimestamps},
		{"concurrent_updates", testConcurrentUpdates},
	}
}

// fullLiveInput returns a live input with every field set.
func fullLiveInput(id string) *store.LiveInput {
	li := newLiveInput(id)
	li.Name = "Main stage — Ünïcödé 🎥"
	li.Meta = map[string]any{"event": "conf", "nested": map[string]any{"day": 2.0, "tags": []any{"a", "b"}}}
	li.SRTPassphrase = "0123456789abcdef"
	li.ReconnectWindowSeconds = 60
	li.Recording = store.Recording{Mode: store.RecordingAutomatic, DeleteAfterDays: 30}
	li.RequireSignedURLs = true
	li.AllowedOrigins = []string{"https://example.com", "https://*.example.org"}
	li.Static = true
	li.UpdatedAt = baseTime().Add(time.Hour)
	li.KeysRotatedAt = ptr(baseTime().Add(2 * time.Hour))
	li.LastConnectedAt = ptr(baseTime().Add(3 * time.Hour))
	return li
}

func testCreateGet(t *testing.T, s store.Store) {
	li := fullLiveInput("li_full")
	li.Version = 42 // Create ignores it
	mustCreate(t, s, li)
	if li.Version != 1 {
		t.Fatalf("Version after Create = %d, want 1", li.Version)
	}
	assertLiveInput(t, mustGet(t, s, li.ID), li)

	byKey, err := s.LiveInputs().GetByStreamKeyHash(t.Context(), keyHash(li.StreamKey))
	if err != nil {
		t.Fatal(err)
	}
	assertLiveInput(t, byKey, li)

	minimal := newLiveInput("li_min")
	minimal.Enabled = false
	mustCreate(t, s, minimal)
	assertLiveInput(t, mustGet(t, s, minimal.ID), minimal)
}

func testCreateConflict(t *testing.T, s store.Store) {
	orig := fullLiveInput("li_a")
	mustCreate(t, s, orig)
	tests := []struct {
		name string
		li   *store.LiveInput
	}{
		{"duplicate id", func() *store.LiveInput {
			li := newLiveInput("li_a")
			li.StreamKey, li.StreamKeyHash = "other", keyHash("other")
			return li
		}()},
		{"duplicate stream key hash", func() *store.LiveInput {
			li := newLiveInput("li_b")
			li.StreamKeyHash = keyHash(orig.StreamKey)
			return li
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "Create", s.LiveInputs().Create(t.Context(), tc.li), store.ErrConflict)
		})
	}
	assertLiveInput(t, mustGet(t, s, "li_a"), orig)
	rows, more, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: 10})
	if err != nil || more || len(rows) != 1 {
		t.Fatalf("List after conflicts = %d rows, more=%v, err=%v; want the 1 original", len(rows), more, err)
	}
}

func testLiveInputNotFound(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.LiveInputs().Get(t.Context(), "li_missing"); return err }},
		{"Get empty id", func() error { _, err := s.LiveInputs().Get(t.Context(), ""); return err }},
		{"GetByStreamKeyHash", func() error {
			_, err := s.LiveInputs().GetByStreamKeyHash(t.Context(), keyHash("nope"))
			return err
		}},
		{"GetByStreamKeyHash nil", func() error { _, err := s.LiveInputs().GetByStreamKeyHash(t.Context(), nil); return err }},
		{"Update", func() error {
			li := newLiveInput("li_missing")
			li.Version = 1
			return s.LiveInputs().Update(t.Context(), li)
		}},
		{"Delete", func() error { return s.LiveInputs().Delete(t.Context(), "li_missing") }},
		{"SetLastConnected", func() error { return s.LiveInputs().SetLastConnected(t.Context(), "li_missing", baseTime()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), store.ErrNotFound) })
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := newLiveInput("li_a")
	mustCreate(t, s, orig)
	other := newLiveInput("li_b")
	mustCreate(t, s, other)

	// Every field replaced, CreatedAt excepted.
	upd := fullLiveInput("li_a")
	upd.StreamKey = "sk_rotated"
	upd.StreamKeyHash = keyHash(upd.StreamKey)
	upd.CreatedAt = baseTime().Add(-time.Hour) // ignored: CreatedAt is immutable
	upd.Version = 1
	if err := s.LiveInputs().Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if upd.Version != 2 {
		t.Fatalf("Version after Update = %d, want 2", upd.Version)
	}
	want := *upd
	want.CreatedAt = orig.CreatedAt
	assertLiveInput(t, mustGet(t, s, "li_a"), &want)
	if _, err := s.LiveInputs().GetByStreamKeyHash(ctx, orig.StreamKeyHash); err == nil {
		t.Fatal("old stream key hash still finds the live input")
	}
	if got, err := s.LiveInputs().GetByStreamKeyHash(ctx, upd.StreamKeyHash); err != nil || got.ID != "li_a" {
		t.Fatalf("GetByStreamKeyHash(new key) = %v, %v", got, err)
	}

	tests := []struct {
		name   string
		modify func(li *store.LiveInput)
		want   error
	}{
		{"stale version", func(li *store.LiveInput) { li.Version = 1 }, store.ErrPrecondition},
		{"future version", func(li *store.LiveInput) { li.Version = 3 }, store.ErrPrecondition},
		{"missing", func(li *store.LiveInput) { li.ID = "li_missing" }, store.ErrNotFound},
		{"stream key hash taken", func(li *store.LiveInput) { li.StreamKeyHash = other.StreamKeyHash }, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			li := mustGet(t, s, "li_a")
			tc.modify(li)
			li.Name = "must not be stored"
			before := li.Version
			wantErr(t, "Update", s.LiveInputs().Update(t.Context(), li), tc.want)
			if li.Version != before {
				t.Fatalf("failed Update changed Version %d -> %d", before, li.Version)
			}
			assertLiveInput(t, mustGet(t, s, "li_a"), &want)
		})
	}

	// Name changes are found by the name filter (name_fold kept in step).
	li := mustGet(t, s, "li_a")
	li.Name = "Renamed Ẅith Ünicode"
	if err := s.LiveInputs().Update(ctx, li); err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.LiveInputs().List(ctx, store.ListOptions{Limit: 10, Name: "ẅith ü"})
	if err != nil || len(rows) != 1 || rows[0].ID != "li_a" || rows[0].Version != 3 {
		t.Fatalf("List(Name) after rename = %v, %v", rows, err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	li := newLiveInput("li_a")
	mustCreate(t, s, li)
	mustCreate(t, s, newLiveInput("li_b"))
	if err := s.LiveInputs().Delete(ctx, "li_a"); err != nil {
		t.Fatal(err)
	}
	_, err := s.LiveInputs().Get(ctx, "li_a")
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	_, err = s.LiveInputs().GetByStreamKeyHash(ctx, li.StreamKeyHash)
	wantErr(t, "GetByStreamKeyHash after Delete", err, store.ErrNotFound)
	wantErr(t, "second Delete", s.LiveInputs().Delete(ctx, "li_a"), store.ErrNotFound)
	mustGet(t, s, "li_b")
	// The id and the key are free again.
	mustCreate(t, s, newLiveInput("li_a"))
}

func testSetLastConnected(t *testing.T, s store.Store) {
	ctx := t.Context()
	li := newLiveInput("li_a")
	mustCreate(t, s, li)
	at := baseTime().Add(90*time.Minute + 123*time.Nanosecond)
	if err := s.LiveInputs().SetLastConnected(ctx, "li_a", at); err != nil {
		t.Fatal(err)
	}
	want := *li
	want.LastConnectedAt = &at
	assertLiveInput(t, mustGet(t, s, "li_a"), &want) // Version and UpdatedAt unchanged

	// An Update with the unchanged version still succeeds afterwards.
	got := mustGet(t, s, "li_a")
	if err := s.LiveInputs().Update(ctx, got); err != nil {
		t.Fatalf("Update after SetLastConnected: %v", err)
	}
}

func testListPaging(t *testing.T, s store.Store) {
	const n = 2500
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("li_%05d", i)
	}
	// Insert in random order, so that id order is not insertion order. A
	// few ids differ only in case or are a prefix of another, to pin the
	// byte-wise ordering.
	extra := []string{"LI_upper", "li_", "li_0", "li_00000a"}
	ids = append(ids, extra...)
	shuffled := slices.Clone(ids)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, id := range shuffled {
		mustCreate(t, s, newLiveInput(id))
	}
	slices.Sort(ids) // byte-wise, as the stores order

	for _, limit := range []int{1, 7, 1000} {
		t.Run(fmt.Sprint("limit_", limit), func(t *testing.T) {
			var got []string
			after, pages := "", 0
			for {
				rows, more, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: limit, After: after})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(rows) > limit || (more && len(rows) != limit) {
					t.Fatalf("page %d: %d rows, more=%v, limit %d", pages, len(rows), more, limit)
				}
				for _, li := range rows {
					got = append(got, li.ID)
				}
				if !more {
					break
				}
				after = rows[len(rows)-1].ID
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("paged %d ids, want %d in order; first mismatch at %d", len(got), len(ids), firstMismatch(got, ids))
			}
			if want := (len(ids) + limit - 1) / limit; pages != want {
				t.Fatalf("pages = %d, want %d", pages, want)
			}
		})
	}
	rows, more, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: 10, After: ids[len(ids)-1]})
	if err != nil || more || len(rows) != 0 {
		t.Fatalf("List after the last id = %d rows, more=%v, err=%v", len(rows), more, err)
	}
}

// firstMismatch returns the first index where a and b differ.
func firstMismatch(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testListLimit(t *testing.T, s store.Store) {
	for _, limit := range []int{0, -1, 1001} {
		_, _, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: limit})
		if err == nil {
			t.Errorf("List(Limit: %d) succeeded, want an error", limit)
		}
		_, _, err = s.Tokens().List(t.Context(), store.ListOptions{Limit: limit})
		if err == nil {
			t.Errorf("Tokens.List(Limit: %d) succeeded, want an error", limit)
		}
	}
}

func testListFilters(t *testing.T, s store.Store) {
	names := map[string]string{ // id -> name
		"li_01": "100% live",
		"li_02": "100 live",
		"li_03": "under_score",
		"li_04": "underXscore",
		"li_05": "Main Stage",
		"li_06": "main stage backup",
		"li_07": "ÉTÉ Festival",
		"li_08": "Été",
		"li_09": `back\slash`,
		"li_10": "plain",
		"li_11": "[brackets]",
		"li_12": "O'Brien's",
	}
	for id, name := range names {
		li := newLiveInput(id)
		li.Name = name
		li.Enabled = id[len(id)-1]%2 == 1 // odd ids enabled
		mustCreate(t, s, li)
	}
	tests := []struct {
		name    string
		filter  string
		enabled *bool
		want    []string
	}{
		{"no filter", "", nil, []string{"li_01", "li_02", "li_03", "li_04", "li_05", "li_06", "li_07", "li_08", "li_09", "li_10", "li_11", "li_12"}},
		{"percent is literal", "%", nil, []string{"li_01"}},
		{"percent inside", "0% l", nil, []string{"li_01"}},
		{"underscore is literal", "_", nil, []string{"li_03"}},
		{"underscore inside", "r_s", nil, []string{"li_03"}},
		{"backslash is literal", `\`, nil, []string{"li_09"}},
		{"brackets are literal", "[b", nil, []string{"li_11"}},
		{"quote", "o'b", nil, []string{"li_12"}},
		{"case-insensitive ascii", "MAIN stage", nil, []string{"li_05", "li_06"}},
		{"case-insensitive unicode", "été", nil, []string{"li_07", "li_08"}},
		{"substring", "live", nil, []string{"li_01", "li_02"}},
		{"no match", "zzz", nil, nil},
		{"enabled", "", ptr(true), []string{"li_01", "li_03", "li_05", "li_07", "li_09", "li_11"}},
		{"disabled", "", ptr(false), []string{"li_02", "li_04", "li_06", "li_08", "li_10", "li_12"}},
		{"name and enabled", "stage", ptr(false), []string{"li_06"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1000, 1} { // one page, and paging through the filter
				var got []string
				after := ""
				for {
					rows, more, err := s.LiveInputs().List(t.Context(), store.ListOptions{
						Limit: limit, After: after, Name: tc.filter, Enabled: tc.enabled,
					})
					if err != nil {
						t.Fatal(err)
					}
					for _, li := range rows {
						got = append(got, li.ID)
					}
					if !more {
						break
					}
					after = rows[len(rows)-1].ID
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("limit %d: got %v, want %v", limit, got, tc.want)
				}
			}
		})
	}
}

func testMetaJSON(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		meta map[string]any
	}{
		{"empty", map[string]any{}},
		{"flat", map[string]any{"a": "b", "n": 1.5, "t": true, "f": false, "null": nil}},
		{"nested", map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{1.0, "two", map[string]any{"d": nil}, []any{}}}}}},
		{"unicode", map[string]any{"日本語": "ストリーム", "emoji": "🎥📡", "rtl": "שלום", "combining": "e\u0301", "esc": "<tag> & \"quotes\" \\ \n\t"}},
		{"empty key and empty values", map[string]any{"": "", "obj": map[string]any{}, "arr": []any{}}},
		{"numbers", map[string]any{"zero": 0.0, "neg": -42.0, "small": 1e-7, "large": 1e300}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			li := newLiveInput(fmt.Sprintf("li_meta_%02d", i))
			li.Meta = tc.meta
			mustCreate(t, s, li)
			assertLiveInput(t, mustGet(t, s, li.ID), li)
		})
	}
	t.Run("big integer keeps every digit", func(t *testing.T) {
		li := newLiveInput("li_meta_big")
		li.Meta = map[string]any{"id": json.Number("9007199254740993")}
		mustCreate(t, s, li)
		got := mustGet(t, s, li.ID)
		b, err := json.Marshal(got.Meta["id"])
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "9007199254740993" {
			t.Fatalf("Meta[id] = %s, want 9007199254740993", b)
		}
	})
}

func testNilNormalised(t *testing.T, s store.Store) {
	li := newLiveInput("li_nil")
	li.Meta, li.AllowedOrigins, li.Recording.Mode = nil, nil, ""
	mustCreate(t, s, li)
	check := func(t *testing.T, got *store.LiveInput) {
		t.Helper()
		if got.Meta == nil || len(got.Meta) != 0 {
			t.Errorf("Meta = %#v, want empty non-nil", got.Meta)
		}
		if got.AllowedOrigins == nil || len(got.AllowedOrigins) != 0 {
			t.Errorf("AllowedOrigins = %#v, want empty non-nil", got.AllowedOrigins)
		}
		if got.Recording.Mode != store.RecordingOff {
			t.Errorf("Recording.Mode = %q, want %q", got.Recording.Mode, store.RecordingOff)
		}
		if got.KeysRotatedAt != nil || got.LastConnectedAt != nil {
			t.Errorf("nil times read back as %v, %v", got.KeysRotatedAt, got.LastConnectedAt)
		}
	}
	check(t, mustGet(t, s, li.ID))
	byKey, err := s.LiveInputs().GetByStreamKeyHash(t.Context(), li.StreamKeyHash)
	if err != nil {
		t.Fatal(err)
	}
	check(t, byKey)
	rows, _, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: 1})
	if err != nil || len(rows) != 1 {
		t.Fatalf("List = %v, %v", rows, err)
	}
	check(t, rows[0])

	// Update with nil collections normalises the same way.
	got := mustGet(t, s, li.ID)
	got.Meta, got.AllowedOrigins = nil, nil
	if err := s.LiveInputs().Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	check(t, mustGet(t, s, li.ID))
}

func testTimestamps(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		at   time.Time
	}{
		{"nanoseconds in a non-UTC zone", baseTime()},
		{"exact microsecond UTC", time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)},
		{"negative zone", time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("UTC-8", -8*3600))},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"unix epoch", time.Unix(0, 0)},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"local zone", time.Date(2025, 6, 1, 12, 0, 0, 1500, time.Local)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			li := newLiveInput(fmt.Sprintf("li_time_%02d", i))
			li.CreatedAt, li.UpdatedAt = tc.at, tc.at
			li.KeysRotatedAt, li.LastConnectedAt = ptr(tc.at), ptr(tc.at)
			mustCreate(t, s, li)
			got := mustGet(t, s, li.ID)
			assertLiveInput(t, got, li)
			want := norm(tc.at)
			if !got.CreatedAt.Equal(want) || got.CreatedAt != want {
				t.Fatalf("CreatedAt = %v, want %v", got.CreatedAt, want)
			}

			at := tc.at.Add(time.Nanosecond * 999)
			if err := s.LiveInputs().SetLastConnected(t.Context(), li.ID, at); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, s, li.ID).LastConnectedAt; got == nil || *got != norm(at) {
				t.Fatalf("LastConnectedAt = %v, want %v", got, norm(at))
			}
		})
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	const workers, each = 8, 10
	mustCreate(t, s, newLiveInput("li_hot"))
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
	)
	for w := range workers {
		wg.Go(func() {
			for range each {
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						t.Errorf("worker %d: no progress after %d attempts", w, attempt)
						return
					}
					li, err := s.LiveInputs().Get(t.Context(), "li_hot")
					if err != nil {
						t.Errorf("worker %d: Get: %v", w, err)
						return
					}
					li.ReconnectWindowSeconds++ // the counter
					li.Meta = map[string]any{"last_writer": float64(w)}
					err = s.LiveInputs().Update(t.Context(), li)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrPrecondition) {
						t.Errorf("worker %d: Update: %v", w, err)
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	got := mustGet(t, s, "li_hot")
	if got.Version != 1+workers*each || got.ReconnectWindowSeconds != workers*each {
		t.Fatalf("after %d updates: Version = %d, counter = %d; want %d, %d",
			workers*each, got.Version, got.ReconnectWindowSeconds, 1+workers*each, workers*each)
	}
	t.Logf("%d optimistic conflicts retried", conflicts)
}
