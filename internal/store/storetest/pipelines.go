package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// pipelineCases covers store.Pipelines.
func pipelineCases() []testCase {
	return []testCase{
		{"create_get_list", testPipelineCreateGetList},
		{"apply_revisions", testPipelineApplyRevisions},
		{"concurrent_apply", testPipelineConcurrentApply},
		{"delete", testPipelineDelete},
		{"bindings", testPipelineBindings},
		{"concurrent_binding", testPipelineConcurrentBinding},
	}
}

func newPipeline(name string) *store.Pipeline {
	return &store.Pipeline{Name: name, Generation: 1, Manifest: `{"metadata":{"name":"` + name + `"}}`,
		CreatedAt: baseTime(), UpdatedAt: baseTime()}
}

func mustPipeline(t *testing.T, s store.Store, p *store.Pipeline) {
	t.Helper()
	if err := s.Pipelines().Create(t.Context(), p); err != nil {
		t.Fatalf("Create %s: %v", p.Name, err)
	}
}

func testPipelineCreateGetList(t *testing.T, s store.Store) {
	for _, n := range []string{"b", "a", "c"} {
		mustPipeline(t, s, newPipeline(n))
	}
	if err := s.Pipelines().Create(t.Context(), newPipeline("a")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	got, err := s.Pipelines().Get(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	want := newPipeline("b")
	if got.Name != "b" || got.Generation != 1 || got.Manifest != want.Manifest ||
		!got.CreatedAt.Equal(norm(want.CreatedAt)) || !got.UpdatedAt.Equal(norm(want.UpdatedAt)) {
		t.Fatalf("got %+v", got)
	}
	if _, err := s.Pipelines().Get(t.Context(), "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	page, more, err := s.Pipelines().List(t.Context(), store.ListOptions{Limit: 2})
	if err != nil || !more || len(page) != 2 || page[0].Name != "a" || page[1].Name != "b" {
		t.Fatalf("page 1: %v %v %v", page, more, err)
	}
	page, more, err = s.Pipelines().List(t.Context(), store.ListOptions{Limit: 2, After: "b"})
	if err != nil || more || len(page) != 1 || page[0].Name != "c" {
		t.Fatalf("page 2: %v %v %v", page, more, err)
	}
}

func testPipelineApplyRevisions(t *testing.T, s store.Store) {
	p := newPipeline("p")
	mustPipeline(t, s, p)
	for i := 2; i <= 4; i++ {
		p.Manifest = fmt.Sprintf(`{"v":%d}`, i)
		p.UpdatedAt = baseTime().Add(time.Duration(i) * time.Second)
		if err := s.Pipelines().Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if p.Generation != int64(i) {
			t.Fatalf("generation %d, want %d", p.Generation, i)
		}
	}
	stale := *p
	stale.Generation = 2
	if err := s.Pipelines().Apply(t.Context(), &stale); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale apply: %v", err)
	}
	missing := newPipeline("nope")
	if err := s.Pipelines().Apply(t.Context(), missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("apply of a missing pipeline: %v", err)
	}
	got, _ := s.Pipelines().Get(t.Context(), "p")
	if got.Generation != 4 || got.Manifest != `{"v":4}` || !got.UpdatedAt.Equal(norm(baseTime().Add(4*time.Second))) {
		t.Fatalf("got %+v", got)
	}
	revs, more, err := s.Pipelines().Revisions(t.Context(), "p", 3, 0)
	if err != nil || !more || len(revs) != 3 || revs[0].Generation != 4 || revs[2].Generation != 2 {
		t.Fatalf("revisions: %v %v %v", revs, more, err)
	}
	revs, more, err = s.Pipelines().Revisions(t.Context(), "p", 3, 2)
	if err != nil || more || len(revs) != 1 || revs[0].Generation != 1 || revs[0].Manifest != newPipeline("p").Manifest {
		t.Fatalf("revisions page 2: %v %v %v", revs, more, err)
	}
	r, err := s.Pipelines().Revision(t.Context(), "p", 3)
	if err != nil || r.Manifest != `{"v":3}` || !r.CreatedAt.Equal(norm(baseTime().Add(3*time.Second))) {
		t.Fatalf("revision 3: %+v %v", r, err)
	}
	if _, err := s.Pipelines().Revision(t.Context(), "p", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revision 9: %v", err)
	}
	if _, _, err := s.Pipelines().Revisions(t.Context(), "nope", 3, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revisions of a missing pipeline: %v", err)
	}
}

// testPipelineConcurrentApply: of several applies based on one
// generation, exactly one wins.
func testPipelineConcurrentApply(t *testing.T, s store.Store) {
	mustPipeline(t, s, newPipeline("p"))
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPipeline("p")
			p.Manifest = fmt.Sprintf(`{"w":%d}`, i)
			errs[i] = s.Pipelines().Apply(t.Context(), p)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrPrecondition):
			t.Fatalf("apply: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d applies won, want 1", won)
	}
}

func testPipelineDelete(t *testing.T, s store.Store) {
	p := newPipeline("p")
	mustPipeline(t, s, p)
	if err := s.Pipelines().Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.Pipelines().Delete(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pipelines().Delete(t.Context(), "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Pipelines().Revision(t.Context(), "p", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revision after delete: %v", err)
	}
	// The name is free again, from generation 1.
	mustPipeline(t, s, newPipeline("p"))
}

// testPipelineBindings: a live input is bound by at most one pipeline;
// Apply replaces a pipeline's bindings, Delete frees them.
func testPipelineBindings(t *testing.T, s store.Store) {
	a := newPipeline("a")
	a.LiveInputs = []string{"li_1", "li_2"}
	mustPipeline(t, s, a)
	b := newPipeline("b")
	b.LiveInputs = []string{"li_3", "li_2"}
	err := s.Pipelines().Create(t.Context(), b)
	var be *store.BindingError
	if !errors.As(err, &be) || be.LiveInput != "li_2" || be.Pipeline != "a" || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create binding a bound input: %v", err)
	}
	if _, err := s.Pipelines().Get(t.Context(), "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused pipeline was stored: %v", err)
	}
	if _, err := s.Pipelines().Bound(t.Context(), "li_3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("li_3 bound by a refused create: %v", err)
	}
	got, err := s.Pipelines().Bound(t.Context(), "li_2")
	if err != nil || got.Name != "a" || got.Generation != 1 || fmt.Sprint(got.LiveInputs) != "[li_1 li_2]" {
		t.Fatalf("bound li_2: %+v %v", got, err)
	}
	b.LiveInputs = []string{"li_3"}
	mustPipeline(t, s, b)
	// a refused apply stores nothing: neither the generation nor bindings
	a.LiveInputs = []string{"li_1", "li_3"}
	a.Manifest = `{"v":2}`
	if err := s.Pipelines().Apply(t.Context(), a); !errors.As(err, &be) || be.Pipeline != "b" {
		t.Fatalf("apply binding b's input: %v", err)
	}
	if got, _ := s.Pipelines().Get(t.Context(), "a"); got.Generation != 1 {
		t.Fatalf("refused apply moved the generation to %d", got.Generation)
	}
	if got, err := s.Pipelines().Bound(t.Context(), "li_2"); err != nil || got.Name != "a" {
		t.Fatalf("refused apply changed bindings: %v %v", got, err)
	}
	// an apply unbinding li_2 frees it
	a.LiveInputs = []string{"li_1"}
	if err := s.Pipelines().Apply(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pipelines().Bound(t.Context(), "li_2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("li_2 after unbinding: %v", err)
	}
	if err := s.Pipelines().Delete(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pipelines().Bound(t.Context(), "li_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("li_1 after delete: %v", err)
	}
	c := newPipeline("c")
	c.LiveInputs = []string{"li_1", "li_2"}
	mustPipeline(t, s, c)
}

// testPipelineConcurrentBinding: of several pipelines created at once
// binding one live input, exactly one wins; the others get a
// *BindingError.
func testPipelineConcurrentBinding(t *testing.T, s store.Store) {
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPipeline(fmt.Sprintf("p%d", i))
			p.LiveInputs = []string{"li_x"}
			errs[i] = s.Pipelines().Create(t.Context(), p)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d pipelines bound li_x, want 1", won)
	}
	rows, _, err := s.Pipelines().List(t.Context(), store.ListOptions{Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Fatalf("stored %d pipelines, want 1 (%v)", len(rows), err)
	}
}
