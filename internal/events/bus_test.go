package events

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	ev := func(tp Type, id string) Event { return Event{Type: tp, LiveInputID: id} }
	tests := []struct {
		name  string
		types []Type
		id    string
		in    Event
		want  bool
	}{
		{"all", nil, "", ev(LiveInputCreated, "a"), true},
		{"type match", []Type{LiveInputConnected}, "", ev(LiveInputConnected, "a"), true},
		{"type miss", []Type{LiveInputConnected}, "", ev(LiveInputCreated, "a"), false},
		{"id match", nil, "a", ev(LiveInputCreated, "a"), true},
		{"id miss", nil, "a", ev(LiveInputCreated, "b"), false},
		{"both", []Type{LiveInputIdle, LiveInputConnected}, "a", ev(LiveInputIdle, "a"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Filter(tt.types, tt.id)
			got := m == nil || m(tt.in)
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBusDelivers(t *testing.T) {
	b := NewBus()
	defer b.Close()
	s := b.Subscribe(SubscribeOptions{Match: Filter([]Type{LiveInputConnected}, "")})
	defer s.Close()
	b.Publish(New(LiveInputCreated, "x", nil))
	b.Publish(New(LiveInputConnected, "x", protocolData{Protocol: "rtmp"}))
	select {
	case e := <-s.C():
		if e.Type != LiveInputConnected || e.LiveInputID != "x" {
			t.Fatalf("got %+v", e)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if m["type"] != "live_input.connected" || m["data"].(map[string]any)["protocol"] != "rtmp" {
			t.Fatalf("wire form %s", b)
		}
	case <-time.After(time.Second):
		t.Fatal("no event")
	}
	if len(s.C()) != 0 {
		t.Fatal("filtered event delivered")
	}
}

// A subscriber that never reads is cut off and never blocks the publisher
// nor the other subscribers.
func TestSlowSubscriberCutOff(t *testing.T) {
	b := NewBus()
	defer b.Close()
	slow := b.Subscribe(SubscribeOptions{Queue: 4})
	fast := b.Subscribe(SubscribeOptions{Queue: 4})
	var wg sync.WaitGroup
	got := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-fast.C():
				got++
			case <-fast.Done():
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			b.Publish(New(LiveInputUpdated, "x", nil))
			if i%3 == 0 {
				time.Sleep(10 * time.Microsecond)
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked by a slow subscriber")
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber not cut off")
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("slow.Err() = %v", slow.Err())
	}
	if _, cut := b.Stats(); cut < 1 {
		t.Fatalf("cut counter %d", cut)
	}
	fast.Close()
	wg.Wait()
	slow.Close() // idempotent after cut-off
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Fatalf("Close changed the reason to %v", slow.Err())
	}
}

func TestCloseBus(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(SubscribeOptions{})
	b.Close()
	b.Close()
	<-s.Done()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("Err = %v", s.Err())
	}
	late := b.Subscribe(SubscribeOptions{})
	<-late.Done()
	b.Publish(New(LiveInputIdle, "x", nil)) // no panic, nothing delivered
	if len(late.C()) != 0 {
		t.Fatal("delivered after close")
	}
}

// protocolData is an event payload of the tests.
type protocolData struct {
	Protocol string `json:"protocol"`
}

func (protocolData) EventPayload() {}

func TestEventTimeFormat(t *testing.T) {
	ev := New(LiveInputIdle, "li_1", nil)
	ev.Time = time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("X", 3600))
	b, err := json.Marshal(ev)
	if err != nil || !strings.Contains(string(b), `"time":"2025-01-02T02:04:05.006Z"`) {
		t.Fatalf("%s %v", b, err)
	}
	env, _ := ev.Envelope()
	if !strings.Contains(string(env), `"created_at":"2025-01-02T02:04:05.006Z"`) {
		t.Fatalf("envelope %s", env)
	}
}
