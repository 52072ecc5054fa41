package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// testVideoTargetedUpdates: Finish, SetDownload and SetThumbnail write only
// their own columns; Finish only ends an unfinished recording of its node.
func testVideoTargetedUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := leased("vid_1", "node-a", baseTime().Add(time.Minute))
	v.Meta = map[string]any{"title": "keep"}
	v.ScheduledDeletion = ptr(baseTime().Add(24 * time.Hour))
	v.RequireSignedURLs, v.AllowedOrigins = true, []string{"https://a.example"}
	if err := s.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	end := store.VideoEnd{Status: store.VideoReady, Recovered: true, EndedAt: baseTime().Add(time.Minute),
		Tracks: []store.VideoTrack{{Kind: "video", Codec: "h264", BitrateBPS: 1000}}, UpdatedAt: baseTime().Add(2 * time.Minute)}
	if err := s.Videos().Finish(ctx, "vid_1", "node-b", end); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Finish by another node: %v, want ErrConflict", err)
	}
	if err := s.Videos().Finish(ctx, "vid_1", "node-a", end); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().Finish(ctx, "vid_1", "node-a", end); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Finish: %v, want ErrConflict", err)
	}
	if err := s.Videos().SetDownload(ctx, "vid_1", store.DownloadReady, "d.mp4", baseTime().Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().SetThumbnail(ctx, "vid_1", "t.jpg", baseTime().Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoReady || !got.Recovered || got.EndedAt == nil || !got.EndedAt.Equal(norm(end.EndedAt)) ||
		len(got.Tracks) != 1 || got.Tracks[0].BitrateBPS != 1000 || got.DownloadStatus != store.DownloadReady ||
		got.DownloadKey != "d.mp4" || got.ThumbnailKey != "t.jpg" || !got.UpdatedAt.Equal(norm(baseTime().Add(4*time.Minute))) {
		t.Fatalf("after the targeted updates: %+v", got)
	}
	if got.Meta["title"] != "keep" || got.ScheduledDeletion == nil || !got.RequireSignedURLs || len(got.AllowedOrigins) != 1 ||
		got.NodeID != "node-a" || !got.StartedAt.Equal(norm(v.StartedAt)) {
		t.Fatalf("the targeted updates changed other fields: %+v", got)
	}
	for name, err := range map[string]error{
		"finish":        s.Videos().Finish(ctx, "vid_x", "node-a", end),
		"set_download":  s.Videos().SetDownload(ctx, "vid_x", store.DownloadPending, "", baseTime()),
		"set_thumbnail": s.Videos().SetThumbnail(ctx, "vid_x", "t.jpg", baseTime()),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing video: %v, want ErrNotFound", name, err)
		}
	}
}

// testVideoSettingsRace: a user's PATCH (UpdateSettings from a read taken
// before) and the recorder's updates of the same video, in either order
// and concurrently, leave both changes.
func testVideoSettingsRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	for i := range n {
		if err := s.Videos().Create(ctx, leased(fmt.Sprintf("vid_%d", i), "node-a", baseTime().Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	patch := func(id string, stale *store.Video) error {
		stale.Meta = map[string]any{"title": "edited " + id}
		stale.ScheduledDeletion = ptr(baseTime().Add(48 * time.Hour))
		stale.UpdatedAt = baseTime().Add(time.Hour)
		return s.Videos().UpdateSettings(ctx, stale)
	}
	recorder := func(id string) error {
		end := store.VideoEnd{Status: store.VideoReady, EndedAt: baseTime().Add(time.Minute), Tracks: []store.VideoTrack{}, UpdatedAt: baseTime().Add(time.Hour)}
		if err := s.Videos().Finish(ctx, id, "node-a", end); err != nil {
			return err
		}
		if err := s.Videos().SetThumbnail(ctx, id, "t.jpg", baseTime().Add(time.Hour)); err != nil {
			return err
		}
		return s.Videos().SetDownload(ctx, id, store.DownloadReady, "d.mp4", baseTime().Add(time.Hour))
	}
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("vid_%d", i)
		stale, err := s.Videos().Get(ctx, id) // the PATCH read the video while it recorded
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // the recorder ends it between the PATCH's read and write
			if err := recorder(id); err != nil {
				t.Fatal(err)
			}
			if err := patch(id, stale); err != nil {
				t.Fatal(err)
			}
		case 1: // the PATCH lands between the recorder's read and its end
			if err := patch(id, stale); err != nil {
				t.Fatal(err)
			}
			if err := recorder(id); err != nil {
				t.Fatal(err)
			}
		default: // both at once
			wg.Add(2)
			go func() {
				defer wg.Done()
				if err := patch(id, stale); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if err := recorder(id); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for i := range n {
		id := fmt.Sprintf("vid_%d", i)
		got, err := s.Videos().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.VideoReady || got.EndedAt == nil || got.ThumbnailKey != "t.jpg" ||
			got.DownloadStatus != store.DownloadReady || got.DownloadKey != "d.mp4" {
			t.Errorf("%s lost the recorder's updates: %+v", id, got)
		}
		if got.Meta["title"] != "edited "+id || got.ScheduledDeletion == nil {
			t.Errorf("%s lost the PATCH: %+v", id, got)
		}
	}
}
