package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/pgtest"
	"github.com/mpegflow/mpegflow/internal/store/postgres"
)

// nodeReceiver records every request's event (duplicates included); while
// hold is set, requests wait for release (or for their cancellation).
type nodeReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []Envelope
	hold    bool
	held    map[string]bool // event ids of requests that waited
	release chan struct{}
}

func newNodeReceiver(t *testing.T) *nodeReceiver {
	r := &nodeReceiver{held: map[string]bool{}, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var e Envelope
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("envelope %s: %v", body, err)
		}
		r.mu.Lock()
		hold := r.hold
		if hold {
			r.held[e.ID] = true
		}
		r.mu.Unlock()
		if hold {
			select {
			case <-r.release:
			case <-req.Context().Done():
				return // the sender is gone: not received
			}
		}
		r.mu.Lock()
		r.got = append(r.got, e)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *nodeReceiver) snapshot() ([]Envelope, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), len(r.held)
}

// waitFor polls cond until it holds, or fails after within.
func waitFor(t *testing.T, rc0 *nodeReceiver, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			got, held := rc0.snapshot()
			t.Fatalf("%s: not within %v (%d received, %d held)", what, within, len(got), held)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attempts sums mpegflow_webhook_attempts_total of a registry.
func attempts(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "mpegflow_webhook_attempts_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// node is one daemon's delivery worker on a shared database.
type node struct {
	db   *postgres.DB
	svc  *Service
	reg  *prometheus.Registry
	stop func()
}

func startNode(t *testing.T, url, id string, lease time.Duration) *node {
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	n := &node{db: db, reg: prometheus.NewRegistry()}
	n.svc, n.stop = start(t, db, events.NewBus(), func(c *Config) {
		c.NodeID, c.Lease, c.Timeout, c.Workers, c.Registerer = id, lease, time.Second, 4, n.reg
		c.Schedule = []time.Duration{100 * time.Millisecond}
	})
	return n
}

// TestNodesShareTheOutbox: two delivery workers (two nodes) on one
// PostgreSQL database and one receiver. Every event is delivered once, in
// order per live input, by both nodes together. Then a node stops while it
// holds leases (a crash: its leases are not released): the other node
// takes its deliveries over once the leases expire, still in order.
func TestNodesShareTheOutbox(t *testing.T) {
	url := pgtest.Start(t)
	rc := newNodeReceiver(t)
	a := startNode(t, url, "node-a", 6*time.Second)
	b := startNode(t, url, "node-b", 6*time.Second)
	addEndpoint(t, a.db, "whk_a", rc.srv.URL, nil)

	const inputs, perInput = 10, 20
	want := map[string][]string{} // live input -> event ids in emission order
	emit := func(round int) {
		for i := range perInput {
			for in := range inputs {
				id := fmt.Sprintf("li_%d", in)
				e := events.New(lifecycle[i%3], id, nil)
				want[id] = append(want[id], e.ID)
				nd := []*node{a, b}[(i+in+round)%2] // events of one input are emitted by both nodes
				if err := nd.svc.Emit(t.Context(), e); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// checkOrder de-duplicates by id, as receivers do (delivery is
	// at-least-once: a request a crashing node gave up may still have been
	// processed), then checks the order per live input.
	checkOrder := func(got []Envelope) {
		t.Helper()
		per := map[string][]string{}
		dup := map[string]bool{}
		for _, e := range got {
			if !dup[e.ID] {
				dup[e.ID] = true
				per[e.LiveInputID] = append(per[e.LiveInputID], e.ID)
			}
		}
		for in, ids := range want {
			if !slices.Equal(per[in], ids) {
				t.Fatalf("%s: received %d events out of order or missing (want %d)", in, len(per[in]), len(ids))
			}
		}
	}

	emit(0)
	waitFor(t, rc, "every event", 60*time.Second, func() bool { got, _ := rc.snapshot(); return len(got) >= inputs*perInput })
	time.Sleep(200 * time.Millisecond) // time for a duplicate to show
	got, _ := rc.snapshot()
	seen := map[string]int{}
	for _, e := range got {
		if seen[e.ID]++; seen[e.ID] > 1 {
			t.Errorf("event %s delivered twice", e.ID)
		}
	}
	checkOrder(got)
	na, nb := attempts(t, a.reg), attempts(t, b.reg)
	t.Logf("%d events, each delivered once: node-a sent %.0f, node-b %.0f", len(got), na, nb)
	if na == 0 || nb == 0 {
		t.Errorf("one node did all the work (a %.0f, b %.0f): claims are not shared", na, nb)
	}

	// node-a crashes holding leases: b stops first, so that a claims them
	b.stop()
	rc.mu.Lock()
	rc.hold = true
	rc.mu.Unlock()
	emit(1)
	waitFor(t, rc, "node-a holding deliveries", 30*time.Second, func() bool { _, held := rc.snapshot(); return held >= 4 })
	_ = a.db.Close() // no store: Run cannot release its leases, as after a crash
	a.stop()
	rc.mu.Lock()
	held := map[string]bool{}
	for id := range rc.held {
		held[id] = true
	}
	rc.hold = false
	close(rc.release)
	rc.mu.Unlock()
	check, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	leased := 0
	ds, _, err := check.Webhooks().ListDeliveries(t.Context(), "whk_a", store.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State == store.DeliveryPending && d.LeaseOwner == "node-a" {
			leased++
		}
	}
	if leased == 0 {
		t.Fatal("node-a left no lease behind: the crash was not simulated")
	}
	c := startNode(t, url, "node-c", 6*time.Second)
	waitFor(t, rc, "every event after the crash", 60*time.Second, func() bool {
		got, _ := rc.snapshot()
		ids := map[string]bool{}
		for _, e := range got {
			ids[e.ID] = true
		}
		return len(ids) >= 2*inputs*perInput
	})
	got, _ = rc.snapshot()
	checkOrder(got)
	after := map[string]bool{}
	for _, e := range got[inputs*perInput:] {
		after[e.ID] = true
	}
	for id := range held {
		if !after[id] {
			t.Errorf("event %s, in flight at node-a's crash, never arrived", id)
		}
	}
	t.Logf("node-a crashed holding %d leases; node-c delivered the events of round 2 (%.0f attempts; %d requests received in round 2 for %d events)",
		leased, attempts(t, c.reg), len(got)-inputs*perInput, inputs*perInput)
}
