package webhook

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// EmitTo sends an event to the one endpoint it names, signed like every
// delivery, once however often it is called; an endpoint whose filters
// want the event gets it once (from Emit), and the others nothing.
func TestEmitToOneEndpoint(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	bus := events.NewBus()
	named := newReceiver(t, nil)
	other := newReceiver(t, nil)
	all := newReceiver(t, nil)
	addEndpoint(t, st, "whk_named", named.srv.URL, func(e *store.WebhookEndpoint) { e.EventTypes = []string{"live_input.idle"} })
	addEndpoint(t, st, "whk_other", other.srv.URL, func(e *store.WebhookEndpoint) { e.EventTypes = []string{"live_input.idle"} })
	addEndpoint(t, st, "whk_all", all.srv.URL, nil)
	svc, _ := start(t, st, bus, nil)
	ev := events.New(events.LiveInputDisconnected, "li_1", protocolData{Protocol: "rtmp"})
	svc.Publish(ev)
	for _, ep := range []string{"whk_named", "whk_named", "whk_all"} {
		if err := svc.EmitTo(t.Context(), ep, ev, "p/hook"); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.EmitTo(t.Context(), "whk_missing", ev, "p/hook"); err == nil {
		t.Fatal("no error for a missing endpoint")
	}
	got := named.waitCount(t, 1, 5*time.Second)
	all.waitCount(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got = named.events(); len(got) != 1 || got[0].Type != "live_input.disconnected" || string(got[0].Data) != `{"protocol":"rtmp"}` || got[0].ID == ev.ID {
		t.Fatalf("named endpoint got %+v", got)
	}
	if n := len(all.events()); n != 1 {
		t.Fatalf("subscribed endpoint got %d deliveries, want 1", n)
	}
	if n := len(other.events()); n != 0 {
		t.Fatalf("an endpoint not named got %d deliveries", n)
	}
	ds, _, err := st.Webhooks().ListDeliveries(t.Context(), "whk_named", store.ListOptions{Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].EventType != "live_input.disconnected" {
		t.Fatalf("delivery log: %+v %v", ds, err)
	}
}
