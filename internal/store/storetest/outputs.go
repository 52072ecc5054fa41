package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// outputCases covers store.LiveInputOutputs.
func outputCases() []testCase {
	return []testCase{
		{"create_get_list", testOutputCreateGetList},
		{"limit", testOutputLimit},
		{"concurrent_limit", testOutputConcurrentLimit},
		{"update_delete", testOutputUpdateDelete},
		{"not_found", testOutputNotFound},
		{"cascade", testOutputCascade},
	}
}

func newOutput(liveInputID, id string) *store.LiveInputOutput {
	return &store.LiveInputOutput{
		ID: id, LiveInputID: liveInputID, Name: "out " + id, URL: "rtmp://a.example/live",
		StreamKey: "key-" + id, Rendition: "source", Enabled: true,
		CreatedAt: baseTime(), UpdatedAt: baseTime(),
	}
}

func assertOutput(t *testing.T, got, want *store.LiveInputOutput) {
	t.Helper()
	w := *want
	w.CreatedAt, w.UpdatedAt = norm(w.CreatedAt), norm(w.UpdatedAt)
	g := *got
	g.CreatedAt, g.UpdatedAt = norm(g.CreatedAt), norm(g.UpdatedAt)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("output\n got %+v\nwant %+v", g, w)
	}
}

func testOutputCreateGetList(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	mustCreate(t, s, newLiveInput("li_b"))
	o2 := newOutput("li_a", "out_2")
	o2.Enabled, o2.TLSSkipVerify, o2.URL = false, true, "rtmps://b.example/app"
	for _, o := range []*store.LiveInputOutput{o2, newOutput("li_a", "out_1"), newOutput("li_b", "out_3")} {
		if err := s.Outputs().Create(t.Context(), o, 50); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Outputs().Get(t.Context(), "li_a", "out_2")
	if err != nil {
		t.Fatal(err)
	}
	assertOutput(t, got, o2)
	list, err := s.Outputs().List(t.Context(), "li_a")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "out_1" || list[1].ID != "out_2" {
		t.Fatalf("list %+v", list)
	}
	if err := s.Outputs().Create(t.Context(), newOutput("li_b", "out_1"), 50); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	empty, err := s.Outputs().List(t.Context(), "li_none")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("list of an unknown input: %v %v", empty, err)
	}
}

func testOutputLimit(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	for i := range 3 {
		if err := s.Outputs().Create(t.Context(), newOutput("li_a", fmt.Sprintf("out_%d", i)), 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Outputs().Create(t.Context(), newOutput("li_a", "out_x"), 3); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("fourth of three: %v, want ErrLimit", err)
	}
}

// testOutputConcurrentLimit creates outputs from several goroutines: the
// limit holds.
func testOutputConcurrentLimit(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	const max, tries = 5, 12
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Outputs().Create(t.Context(), newOutput("li_a", fmt.Sprintf("out_%02d", i)), max)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLimit):
			t.Fatalf("create: %v", err)
		}
	}
	list, _ := s.Outputs().List(t.Context(), "li_a")
	if ok != max || len(list) != max {
		t.Fatalf("%d created, %d listed; want %d", ok, len(list), max)
	}
}

func testOutputUpdateDelete(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	o := newOutput("li_a", "out_1")
	if err := s.Outputs().Create(t.Context(), o, 50); err != nil {
		t.Fatal(err)
	}
	o.Name, o.URL, o.StreamKey, o.Rendition, o.Enabled, o.TLSSkipVerify = "renamed", "srt://c.example:9000?streamid=x", "k2", "720p", false, true
	o.UpdatedAt = baseTime().Add(time.Minute)
	if err := s.Outputs().Update(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outputs().Get(t.Context(), "li_a", "out_1")
	if err != nil {
		t.Fatal(err)
	}
	assertOutput(t, got, o)
	if err := s.Outputs().Delete(t.Context(), "li_a", "out_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outputs().Get(t.Context(), "li_a", "out_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func testOutputNotFound(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	mustCreate(t, s, newLiveInput("li_b"))
	if err := s.Outputs().Create(t.Context(), newOutput("li_none", "out_1"), 50); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("create under an unknown input: %v", err)
	}
	if err := s.Outputs().Create(t.Context(), newOutput("li_a", "out_1"), 50); err != nil {
		t.Fatal(err)
	}
	// another input's output is not found through this one
	if _, err := s.Outputs().Get(t.Context(), "li_b", "out_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get through another input: %v", err)
	}
	o := newOutput("li_b", "out_1")
	if err := s.Outputs().Update(t.Context(), o); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update through another input: %v", err)
	}
	if err := s.Outputs().Delete(t.Context(), "li_b", "out_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete through another input: %v", err)
	}
}

func testOutputCascade(t *testing.T, s store.Store) {
	mustCreate(t, s, newLiveInput("li_a"))
	if err := s.Outputs().Create(t.Context(), newOutput("li_a", "out_1"), 50); err != nil {
		t.Fatal(err)
	}
	if err := s.LiveInputs().Delete(t.Context(), "li_a"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newLiveInput("li_a"))
	list, err := s.Outputs().List(t.Context(), "li_a")
	if err != nil || len(list) != 0 {
		t.Fatalf("outputs survived their live input: %v %v", list, err)
	}
}
