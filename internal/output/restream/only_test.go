package restream

import (
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// StartOutputs runs only the outputs it names, and each node's start and
// end touch only its own outputs (a pipeline's output.restream nodes).
func TestManagerNamedOutputs(t *testing.T) {
	tg, tg2 := newTarget(t, ""), newTarget(t, "")
	src := newSource(t, 500)
	s := src.stream()
	li := s.ID()
	a := &store.LiveInputOutput{ID: "out_a", LiveInputID: li, URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey, Rendition: "source", Enabled: true}
	b := &store.LiveInputOutput{ID: "out_b", LiveInputID: li, URL: "rtmp://" + tg2.rtmpAddr + "/live", StreamKey: targetKey, Rendition: "source", Enabled: true}
	st := &memOutputs{}
	st.set(a, b)
	m := NewManager(ManagerConfig{Store: st, Notifier: &recNotifier{}, Logger: testLog(), Output: Config{MinBackoff: 50 * time.Millisecond}})
	defer m.Close()

	m.StartOutputs(s, "out_a")
	waitManaged(t, m, li, "out_a", StateBroadcasting)
	time.Sleep(200 * time.Millisecond)
	if _, ok := m.Status(li, "out_b"); ok {
		t.Fatal("an output no node names runs")
	}
	m.StartOutputs(s, "out_b")
	waitManaged(t, m, li, "out_b", StateBroadcasting)
	m.EndOutputs(s, "out_a")
	if _, ok := m.Status(li, "out_a"); ok {
		t.Fatal("out_a still runs after its node ended")
	}
	if st, ok := m.Status(li, "out_b"); !ok || st.State != StateBroadcasting {
		t.Fatalf("out_b after out_a's node ended: %v %+v", ok, st)
	}
	m.EndOutputs(s, "out_b")
	if m.Running() != 0 {
		t.Fatalf("%d outputs run after every node ended", m.Running())
	}
}
