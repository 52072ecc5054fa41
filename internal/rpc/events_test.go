package rpc

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/events"
)

// TestEventMessages: an event is converted once for every stream, and the
// cache keeps only the latest events.
func TestEventMessages(t *testing.T) {
	c := newEventMessages()
	ev := events.New(events.LiveInputCreated, "li_x", nil)
	a, err := c.message(ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.message(ev)
	if a != b || a.GetId() != ev.ID || a.GetType() != string(events.LiveInputCreated) || a.GetLiveInputId() != "li_x" {
		t.Fatalf("messages %v %v", a, b)
	}
	for range len(c.ring) {
		if _, err := c.message(events.New(events.LiveInputDeleted, "li_y", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.byID) != len(c.ring) || c.byID[ev.ID] != nil {
		t.Fatalf("%d cached, first one kept: %v", len(c.byID), c.byID[ev.ID] != nil)
	}
}
