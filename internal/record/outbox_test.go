package record

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// outboxEnvelope is the body of a webhook delivery.
type outboxEnvelope struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	LiveInputID string         `json:"live_input_id"`
	Data        map[string]any `json:"data"`
}

// drainOutbox delivers, as a receiver answering 2xx would, every pending
// delivery of the store in order and returns their bodies.
func drainOutbox(t *testing.T, st store.Store) []outboxEnvelope {
	t.Helper()
	var out []outboxEnvelope
	now := time.Now().Add(time.Hour)
	for {
		ds, err := st.Webhooks().Claim(t.Context(), "test", now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return out
		}
		for _, d := range ds {
			var env outboxEnvelope
			if err := json.Unmarshal(d.Payload, &env); err != nil {
				t.Fatalf("payload %s: %v", d.Payload, err)
			}
			if env.ID != d.EventID || env.Type != d.EventType || env.LiveInputID != d.LiveInputID {
				t.Fatalf("delivery %+v of %s", d, d.Payload)
			}
			out = append(out, env)
			d.State, d.Attempts, d.NextAttemptAt, d.UpdatedAt = store.DeliverySucceeded, 1, nil, now
			if err := st.Webhooks().CompleteDelivery(t.Context(), "test", d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRecorderEventsInOutbox: the recorder's events are in the webhook
// outbox, written with the video changes that caused them, with the data
// Config.Render makes of the row as stored by the change (a PATCH of meta
// made during the recording shows in video.ready), about the live input
// (so they are ordered with its events); the bus gets the same events.
func TestRecorderEventsInOutbox(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	now := time.Now().UTC()
	if err := f.st.Webhooks().CreateEndpoint(t.Context(), &store.WebhookEndpoint{ID: "whk_1", URL: "https://example.com/h", Enabled: true,
		Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	render := func(v *store.Video) events.Payload {
		return testVideo{ID: v.ID, Status: v.Status, Recovered: v.Recovered, Segments: v.Segments, Meta: v.Meta}
	}
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus, Render: render})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Run(t.Context())
	r.Start("li_1", []store.VideoTrack{{Kind: "video", Codec: "h264"}})
	for i := range uint64(3) {
		r.Segment("li_1", seg(i, 0))
	}
	started := f.bus.wait(t, events.RecordingStarted)
	vid := started.Data.(testVideo).ID
	v, err := f.st.Videos().Get(t.Context(), vid)
	if err != nil {
		t.Fatal(err)
	}
	v.Meta, v.UpdatedAt = map[string]any{"title": "patched"}, time.Now().UTC()
	if err := f.st.Videos().UpdateSettings(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	r.End("li_1")
	ready := f.bus.wait(t, events.VideoReady)
	if err := r.Delete(t.Context(), vid); err != nil {
		t.Fatal(err)
	}
	deleted := f.bus.wait(t, events.VideoDeleted)

	got := drainOutbox(t, f.st)
	if len(got) != 3 {
		t.Fatalf("outbox %+v, want recording.started, video.ready, video.deleted", got)
	}
	for i, want := range []events.Event{started, ready, deleted} {
		e := got[i]
		if e.ID != want.ID || e.Type != string(want.Type) || e.LiveInputID != "li_1" || e.Data["id"] != vid {
			t.Errorf("outbox event %d: %+v, the bus got %+v", i, e, want)
		}
		b, _ := json.Marshal(want.Data)
		if gb, _ := json.Marshal(e.Data); string(gb) != string(b) {
			t.Errorf("%s: outbox data %s, bus data %s", e.Type, gb, b)
		}
	}
	if d := got[0].Data; d["status"] != store.VideoLiveRecording || d["segments"] != 0.0 {
		t.Errorf("recording.started data %v", d)
	}
	if d := got[1].Data; d["status"] != store.VideoReady || d["segments"] != 3.0 || d["recovered"] != false ||
		d["meta"].(map[string]any)["title"] != "patched" {
		t.Errorf("video.ready data %v: want the row as the end of the recording stored it", d)
	}
	if d := got[2].Data; d["status"] != store.VideoReady || d["meta"].(map[string]any)["title"] != "patched" {
		t.Errorf("video.deleted data %v: want the video as it was", d)
	}
}

// testVideo is the data the test renders the recorder's events as; its
// fields in key order, as the outbox's JSON (read back as a map) has them.
type testVideo struct {
	ID        string         `json:"id"`
	Meta      map[string]any `json:"meta"`
	Recovered bool           `json:"recovered"`
	Segments  int64          `json:"segments"`
	Status    string         `json:"status"`
}

func (testVideo) EventPayload() {}
