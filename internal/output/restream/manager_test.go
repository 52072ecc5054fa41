package restream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// memOutputs is an OutputStore in memory.
type memOutputs struct {
	mu   sync.Mutex
	rows []*store.LiveInputOutput
}

func (s *memOutputs) List(_ context.Context, id string) ([]*store.LiveInputOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*store.LiveInputOutput
	for _, r := range s.rows {
		if r.LiveInputID == id {
			c := *r
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *memOutputs) set(rows ...*store.LiveInputOutput) {
	s.mu.Lock()
	s.rows = rows
	s.mu.Unlock()
}

// recNotifier records the events a Manager hands on.
type recNotifier struct{ recObserver }

func (n *recNotifier) OutputEvent(_ context.Context, ev Event, o *store.LiveInputOutput) {
	if o.ID != ev.OutputID || o.URL == "" {
		panic("event without its output")
	}
	n.recObserver.OutputEvent(ev)
}

func waitManaged(t *testing.T, m *Manager, li, id string, st State) Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := m.Status(li, id)
		if ok && s.State == st || !ok && st == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("output %s: running %v state %s, want %q (last error %+v)", id, ok, s.State, st, s.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestManagerLiveEdits(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 500)
	li := src.stream().ID()
	rtmpRow := &store.LiveInputOutput{ID: "out_a", LiveInputID: li, URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey, Rendition: "source", Enabled: true}
	st := &memOutputs{}
	st.set(rtmpRow)
	n := &recNotifier{}
	m := NewManager(ManagerConfig{Store: st, Notifier: n, Logger: testLog(), Output: Config{MinBackoff: 50 * time.Millisecond}})
	defer m.Close()

	m.Start(src.stream())
	a := waitManaged(t, m, li, "out_a", StateBroadcasting)

	// add an SRT output (another live input's key on the same target is
	// refused, so it pushes to the SRT side of a second target)
	tg2 := newTarget(t, "")
	srtRow := &store.LiveInputOutput{ID: "out_b", LiveInputID: li, URL: "srt://" + tg2.srtAddr + "?passphrase=" + targetPassphrase, StreamKey: targetKey, Rendition: "source", Enabled: true}
	st.set(rtmpRow, srtRow)
	m.Changed(li)
	waitManaged(t, m, li, "out_b", StateBroadcasting)

	// rename a: no reconnect; disable b: only b stops
	renamed := *rtmpRow
	renamed.Name = "renamed"
	disabled := *srtRow
	disabled.Enabled = false
	st.set(&renamed, &disabled)
	m.Changed(li)
	waitManaged(t, m, li, "out_b", "")
	if s, _ := m.Status(li, "out_a"); s.State != StateBroadcasting || !s.ConnectedAt.Equal(*a.ConnectedAt) {
		t.Fatalf("output a was disturbed by edits of b and its own name: %+v", s)
	}

	// a rendition nobody produces: errored with the reason
	st.set(&renamed, &store.LiveInputOutput{ID: "out_c", LiveInputID: li, URL: "rtmp://127.0.0.1:1/live", StreamKey: "k", Rendition: "720p", Enabled: true})
	m.Changed(li)
	if s := waitManaged(t, m, li, "out_c", StateErrored); s.LastError.Code != CodeRenditionMissing {
		t.Fatalf("last error %+v", s.LastError)
	}

	m.End(src.stream())
	if _, ok := m.Status(li, "out_a"); ok || m.Running() != 0 {
		t.Fatal("outputs still run after the stream ended")
	}
	m.Close()
	if n.count(EventConnected) < 2 || n.count(EventDisconnected) < 2 || n.count(EventErrored) != 1 {
		t.Fatalf("events: connected %d disconnected %d errored %d", n.count(EventConnected), n.count(EventDisconnected), n.count(EventErrored))
	}
}

// lateRenditions publishes a rung some time after it is first asked for,
// as the transcoder does a moment after the source starts.
type lateRenditions struct {
	mu    sync.Mutex
	first time.Time
	after time.Duration
	rung  *stream.Stream
}

func (r *lateRenditions) Rendition(_, name string) *stream.Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		r.first = time.Now()
	}
	if name != "360p" || time.Since(r.first) < r.after {
		return nil
	}
	return r.rung
}

// An output of a ladder rung waits for the transcoder to publish the rung
// instead of failing at the start of the broadcast.
func TestManagerWaitsForRendition(t *testing.T) {
	tg := newTarget(t, "")
	src, rung := newSource(t, 500), newSource(t, 500)
	li := src.stream().ID()
	st := &memOutputs{}
	st.set(&store.LiveInputOutput{ID: "out_r", LiveInputID: li, URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey, Rendition: "360p", Enabled: true})
	m := NewManager(ManagerConfig{Store: st, Renditions: &lateRenditions{after: 600 * time.Millisecond, rung: rung.stream()},
		Logger: testLog(), Output: Config{MinBackoff: 50 * time.Millisecond}})
	defer m.Close()
	m.Start(src.stream())
	waitManaged(t, m, li, "out_r", StateBroadcasting)
	m.End(src.stream())
}
