package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// testVideoEmitAtomic: the events of a video change (the recorder's
// recording.started, video.ready, video.download.ready, video.deleted)
// exist if and only if the change committed, and their EventFunc sees the
// row as the change's transaction does: the whole row, with what other
// writers stored before (segments, a PATCH of meta), not the caller's copy.
func testVideoEmitAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := s.Videos()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	seen := map[string]store.Video{} // event id -> the row the VideoEventFunc saw
	evf := func(id, typ string) store.VideoEventFunc {
		return func(v *store.Video) ([]*store.WebhookEvent, error) {
			seen[id] = *v
			return []*store.WebhookEvent{outboxEvent(id, typ, v.LiveInputID)}, nil
		}
	}
	failing := func(*store.Video) ([]*store.WebhookEvent, error) { return nil, errors.New("render failed") }
	dup := func(*store.Video) ([]*store.WebhookEvent, error) {
		return []*store.WebhookEvent{outboxEvent("evt_started", "video.ready", "li_1")}, nil // an existing id: the INSERT fails
	}
	get := func(id string) *store.Video {
		t.Helper()
		v, err := vs.Get(ctx, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return v
	}

	// create
	if err := vs.CreateEmitting(ctx, leased("vid_1", "node-a", baseTime().Add(time.Minute)), evf("evt_started", "recording.started")); err != nil {
		t.Fatal(err)
	}
	if got := seen["evt_started"]; got.ID != "vid_1" || got.Status != store.VideoLiveRecording || got.NodeID != "node-a" || got.Meta == nil {
		t.Fatalf("the create's EventFunc saw %+v", got)
	}
	if err := vs.CreateEmitting(ctx, leased("vid_2", "node-a", baseTime()), failing); err == nil {
		t.Fatal("create with a failing EventFunc succeeded")
	}
	_, err := vs.Get(ctx, "vid_2")
	wantErr(t, "video of a failed create", err, store.ErrNotFound)
	wantErr(t, "create with an event id taken", vs.CreateEmitting(ctx, leased("vid_2", "node-a", baseTime()), dup), store.ErrConflict)
	_, err = vs.Get(ctx, "vid_2")
	wantErr(t, "video of a create whose event failed", err, store.ErrNotFound)
	wantErr(t, "create of an existing id", vs.CreateEmitting(ctx, leased("vid_1", "node-a", baseTime()), evf("evt_x", "recording.started")), store.ErrConflict)

	// what others wrote meanwhile is in the row the EventFunc sees
	if err := vs.AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Seq: 0, Duration: 2 * time.Second, InitKey: "i", Key: "k", Size: 100}); err != nil {
		t.Fatal(err)
	}
	patched := get("vid_1")
	patched.Meta, patched.UpdatedAt = map[string]any{"title": "patched"}, baseTime().Add(time.Second)
	if err := vs.UpdateSettings(ctx, patched); err != nil {
		t.Fatal(err)
	}

	// finish
	end := store.VideoEnd{Status: store.VideoReady, Recovered: true, EndedAt: baseTime().Add(time.Minute),
		Tracks: []store.VideoTrack{{Kind: "video", Codec: "h264", BitrateBPS: 400}}, UpdatedAt: baseTime().Add(2 * time.Minute)}
	called := false
	err = vs.FinishEmitting(ctx, "vid_1", "node-b", end, func(*store.Video) ([]*store.WebhookEvent, error) { called = true; return nil, nil })
	wantErr(t, "finish by another node", err, store.ErrConflict)
	if called {
		t.Error("the EventFunc of a finish that did not apply was called")
	}
	if err := vs.FinishEmitting(ctx, "vid_1", "node-a", end, failing); err == nil {
		t.Fatal("finish with a failing EventFunc succeeded")
	}
	wantErr(t, "finish whose event fails", vs.FinishEmitting(ctx, "vid_1", "node-a", end, dup), store.ErrConflict)
	if got := get("vid_1"); got.Status != store.VideoLiveRecording || got.EndedAt != nil || got.Recovered {
		t.Fatalf("a failed finish was kept: %+v", got)
	}
	if err := vs.FinishEmitting(ctx, "vid_1", "node-a", end, evf("evt_ready", "video.ready")); err != nil {
		t.Fatal(err)
	}
	if got := seen["evt_ready"]; got.Status != store.VideoReady || !got.Recovered || got.EndedAt == nil || !got.EndedAt.Equal(norm(end.EndedAt)) ||
		got.Segments != 1 || got.Duration != 2*time.Second || got.SizeBytes != 100 || got.Meta["title"] != "patched" ||
		len(got.Tracks) != 1 || got.Tracks[0].BitrateBPS != 400 {
		t.Fatalf("the finish's EventFunc saw %+v", got)
	}
	wantErr(t, "finish again", vs.FinishEmitting(ctx, "vid_1", "node-a", end, evf("evt_again", "video.ready")), store.ErrConflict)
	wantErr(t, "finish of a missing video", vs.FinishEmitting(ctx, "vid_x", "node-a", end, evf("evt_x", "video.ready")), store.ErrNotFound)

	// MP4 download
	at := baseTime().Add(3 * time.Minute)
	if err := vs.SetDownloadEmitting(ctx, "vid_1", store.DownloadReady, "d.mp4", at, failing); err == nil {
		t.Fatal("set download with a failing EventFunc succeeded")
	}
	if got := get("vid_1"); got.DownloadStatus != store.DownloadNone || got.DownloadKey != "" {
		t.Fatalf("a failed download update was kept: %+v", got)
	}
	if err := vs.SetDownloadEmitting(ctx, "vid_1", store.DownloadReady, "d.mp4", at, evf("evt_download", "video.download.ready")); err != nil {
		t.Fatal(err)
	}
	if got := seen["evt_download"]; got.DownloadStatus != store.DownloadReady || got.DownloadKey != "d.mp4" || !got.UpdatedAt.Equal(norm(at)) || got.Status != store.VideoReady {
		t.Fatalf("the download's EventFunc saw %+v", got)
	}
	wantErr(t, "download of a missing video", vs.SetDownloadEmitting(ctx, "vid_x", store.DownloadReady, "d.mp4", at, evf("evt_x", "video.download.ready")), store.ErrNotFound)

	// delete
	wantErr(t, "delete whose event fails", vs.DeleteEmitting(ctx, "vid_1", dup), store.ErrConflict)
	if segs, err := vs.Segments(ctx, "vid_1", 0, 0); err != nil || len(segs) != 1 {
		t.Fatalf("after a failed delete: %d segments, %v", len(segs), err)
	}
	get("vid_1")
	if err := vs.DeleteEmitting(ctx, "vid_1", evf("evt_deleted", "video.deleted")); err != nil {
		t.Fatal(err)
	}
	if got := seen["evt_deleted"]; got.ID != "vid_1" || got.Status != store.VideoReady || got.DownloadKey != "d.mp4" || got.Meta["title"] != "patched" {
		t.Fatalf("the delete's EventFunc saw %+v, want the row as it was", got)
	}
	_, err = vs.Get(ctx, "vid_1")
	wantErr(t, "get after delete", err, store.ErrNotFound)
	wantErr(t, "delete again", vs.DeleteEmitting(ctx, "vid_1", evf("evt_x", "video.deleted")), store.ErrNotFound)

	want := []string{"evt_started", "evt_ready", "evt_download", "evt_deleted"}
	if got := deliveredEvents(t, s, "whk_a"); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v (only those of committed changes, in order)", got, want)
	}
	rows, _, err := s.Webhooks().ListDeliveries(ctx, "whk_a", store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rows {
		if d.LiveInputID != "li_1" {
			t.Errorf("delivery of %s %s has live input %q: the order per live input needs it", d.EventType, d.EventID, d.LiveInputID)
		}
	}
	// a nil EventFunc is the plain method
	if err := vs.CreateEmitting(ctx, leased("vid_3", "node-a", baseTime()), nil); err != nil {
		t.Fatal(err)
	}
	if err := vs.FinishEmitting(ctx, "vid_3", "node-a", end, nil); err != nil {
		t.Fatal(err)
	}
	if err := vs.SetDownloadEmitting(ctx, "vid_3", store.DownloadPending, "", at, nil); err != nil {
		t.Fatal(err)
	}
	if err := vs.DeleteEmitting(ctx, "vid_3", nil); err != nil {
		t.Fatal(err)
	}
	if got := deliveredEvents(t, s, "whk_a"); len(got) != len(want) {
		t.Fatalf("nil EventFuncs emitted %v", got[len(want):])
	}
}

// testVideoEmitRace: a recording's end and a PATCH of the same video race;
// whichever commits first, the row the finish's EventFunc sees is the one
// stored after the finish (so video.ready carries what GET returned then).
func testVideoEmitRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := s.Videos()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	const n = 8
	for i := range n {
		if err := vs.Create(ctx, leased(fmt.Sprintf("vid_%d", i), "node-a", baseTime().Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	end := store.VideoEnd{Status: store.VideoReady, EndedAt: baseTime().Add(time.Minute), UpdatedAt: baseTime().Add(time.Minute)}
	type result struct {
		id   string
		saw  store.Video
		err  error
		perr error
	}
	out := make(chan result, n)
	for i := range n {
		go func() {
			id := fmt.Sprintf("vid_%d", i)
			done := make(chan error, 1)
			go func() {
				v := newVideo(id, "li_1", baseTime())
				v.Meta, v.UpdatedAt = map[string]any{"patch": float64(i)}, baseTime().Add(2*time.Minute)
				done <- vs.UpdateSettings(ctx, v)
			}()
			var r result
			r.id = id
			r.err = vs.FinishEmitting(ctx, id, "node-a", end, func(v *store.Video) ([]*store.WebhookEvent, error) {
				r.saw = *v
				return []*store.WebhookEvent{outboxEvent("evt_"+id, "video.ready", v.LiveInputID)}, nil
			})
			r.perr = <-done
			out <- r
		}()
	}
	for range n {
		r := <-out
		if r.err != nil || r.perr != nil {
			t.Fatalf("%s: finish %v, patch %v", r.id, r.err, r.perr)
		}
		if r.saw.Status != store.VideoReady {
			t.Errorf("%s: the EventFunc saw status %q", r.id, r.saw.Status)
		}
		got, err := vs.Get(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.VideoReady || got.Meta["patch"] == nil {
			t.Errorf("%s: after the race %+v: an update was lost", r.id, got)
		}
		// the PATCH either committed before the finish (the event shows it)
		// or after (the event does not): never half of it
		if p, ok := r.saw.Meta["patch"]; ok && p != got.Meta["patch"] {
			t.Errorf("%s: the EventFunc saw meta %v, stored %v", r.id, r.saw.Meta, got.Meta)
		}
	}
	if got := deliveredEvents(t, s, "whk_a"); len(got) != n {
		t.Fatalf("%d events for %d finishes", len(got), n)
	}
}
