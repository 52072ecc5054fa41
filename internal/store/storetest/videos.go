package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// videosCases is the conformance suite of store.Videos.
func videosCases() []testCase {
	return []testCase{
		{"create_get_round_trip", testVideoRoundTrip},
		{"create_conflict_and_not_found", testVideoConflict},
		{"update", testVideoUpdate},
		{"segments_accumulate", testVideoSegments},
		{"list_filters_and_order", testVideoList},
		{"delete_cascades", testVideoDelete},
		{"due_for_deletion", testVideoDue},
		{"files_in_use", testVideoFilesInUse},
		{"lease_round_trip", testVideoLeaseRoundTrip},
		{"renew_leases", testVideoRenewLeases},
		{"unfinished_respects_leases", testVideoUnfinished},
		{"claim_recording", testVideoClaim},
		{"claim_recording_race", testVideoClaimRace},
		{"update_settings_keeps_the_rest", testVideoUpdateSettings},
		{"targeted_updates", testVideoTargetedUpdates},
		{"settings_race_recorder_updates", testVideoSettingsRace},
	}
}

func newVideo(id, liveInput string, created time.Time) *store.Video {
	return &store.Video{
		ID: id, LiveInputID: liveInput, Status: store.VideoLiveRecording,
		CreatedAt: created, StartedAt: created, UpdatedAt: created,
		Tracks: []store.VideoTrack{}, Meta: map[string]any{}, AllowedOrigins: []string{},
		DownloadStatus: store.DownloadNone,
	}
}

func testVideoRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := newVideo("vid_1", "li_1", baseTime())
	v.Tracks = []store.VideoTrack{{Kind: "video", Codec: "h264", Width: 1280, Height: 720, BitrateBPS: 2500000}, {Kind: "audio", Codec: "aac"}}
	v.Meta = map[string]any{"k": "v"}
	v.AllowedOrigins = []string{"https://a.example"}
	v.RequireSignedURLs = true
	v.ScheduledDeletion = ptr(baseTime().Add(48 * time.Hour))
	if err := s.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	want := *v
	want.CreatedAt, want.StartedAt, want.UpdatedAt = norm(v.CreatedAt), norm(v.StartedAt), norm(v.UpdatedAt)
	want.ScheduledDeletion = ptr(norm(*v.ScheduledDeletion))
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("Get = %+v\nwant  %+v", got, &want)
	}
}

func testVideoConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Create: %v, want ErrConflict", err)
	}
	for name, err := range map[string]error{
		"get":         func() error { _, err := s.Videos().Get(ctx, "vid_x"); return err }(),
		"update":      s.Videos().Update(ctx, newVideo("vid_x", "li_1", baseTime())),
		"delete":      s.Videos().Delete(ctx, "vid_x"),
		"add_segment": s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_x", Duration: time.Second, InitKey: "i", Key: "k"}),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing video: %v, want ErrNotFound", name, err)
		}
	}
}

func testVideoUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := newVideo("vid_1", "li_1", baseTime())
	if err := s.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Duration: 2 * time.Second, InitKey: "i", Key: "k", Size: 100}); err != nil {
		t.Fatal(err)
	}
	v.Status, v.Recovered = store.VideoReady, true
	v.EndedAt = ptr(baseTime().Add(time.Minute))
	v.ThumbnailKey, v.DownloadStatus, v.DownloadKey = "t.jpg", store.DownloadReady, "d.mp4"
	v.ErrorCode, v.ErrorMessage = "x", "y"
	if err := s.Videos().Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoReady || !got.Recovered || got.EndedAt == nil || !got.EndedAt.Equal(norm(*v.EndedAt)) ||
		got.ThumbnailKey != "t.jpg" || got.DownloadStatus != store.DownloadReady || got.DownloadKey != "d.mp4" || got.ErrorCode != "x" {
		t.Fatalf("after Update: %+v", got)
	}
	// Update keeps what AddSegment maintains.
	if got.Duration != 2*time.Second || got.SizeBytes != 100 || got.Segments != 1 {
		t.Fatalf("Update changed the totals: %v %d %d", got.Duration, got.SizeBytes, got.Segments)
	}
}

func testVideoSegments(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	var want []*store.VideoSegment
	for i := range 5 {
		seg := &store.VideoSegment{VideoID: "vid_1", Seq: int64(i), Duration: time.Duration(1000+i) * time.Millisecond,
			Discontinuity: i == 3, InitKey: fmt.Sprintf("videos/vid_1/init%d.mp4", i/3), Key: fmt.Sprintf("videos/vid_1/seg%d.m4s", i), Size: int64(10 * (i + 1))}
		if i != 2 {
			seg.ProgramDateTime = norm(baseTime().Add(time.Duration(i) * time.Second))
		}
		if i >= 1 { // older segments have no part layout
			seg.Parts = []store.SegmentPart{{Offset: 0, Size: 4, Duration: 200 * time.Millisecond, Independent: true},
				{Offset: 4, Size: int64(10*(i+1) - 4), Duration: time.Duration(800+i) * time.Millisecond}}
		}
		if i == 4 { // a clip's cut segment: a byte range of the blob
			seg.Ranged, seg.Offset = true, 4
		}
		if err := s.Videos().AddSegment(ctx, seg); err != nil {
			t.Fatal(err)
		}
		seg.OwnerID = "vid_1" // "" means the video itself
		want = append(want, seg)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Seq: 4, Duration: time.Second, InitKey: "i", Key: "k"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate seq: %v, want ErrConflict", err)
	}
	got, err := s.Videos().Segments(ctx, "vid_1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Segments = %v, want %v", got, want)
	}
	page, err := s.Videos().Segments(ctx, "vid_1", 2, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 2 || page[1].Seq != 3 {
		t.Fatalf("Segments(from 2, limit 2) = %v, %v", page, err)
	}
	v, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Duration != 5010*time.Millisecond || v.SizeBytes != 150 || v.Segments != 5 {
		t.Fatalf("totals %v %d %d, want 5.01s 150 5", v.Duration, v.SizeBytes, v.Segments)
	}
}

func testVideoList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 6 {
		v := newVideo(fmt.Sprintf("vid_%d", i), []string{"li_a", "li_b"}[i%2], baseTime().Add(time.Duration(i)*time.Hour))
		if i == 5 {
			v.Status = store.VideoReady
		}
		if err := s.Videos().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(vs []*store.Video) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	tests := []struct {
		name string
		opts store.VideoListOptions
		want []string
		more bool
	}{
		{"all", store.VideoListOptions{Limit: 10}, []string{"vid_0", "vid_1", "vid_2", "vid_3", "vid_4", "vid_5"}, false},
		{"page", store.VideoListOptions{Limit: 2, After: "vid_1"}, []string{"vid_2", "vid_3"}, true},
		{"newest", store.VideoListOptions{Limit: 2, Newest: true}, []string{"vid_5", "vid_4"}, true},
		{"newest_after", store.VideoListOptions{Limit: 10, Newest: true, After: "vid_2"}, []string{"vid_1", "vid_0"}, false},
		{"live_input", store.VideoListOptions{Limit: 10, LiveInputID: "li_b"}, []string{"vid_1", "vid_3", "vid_5"}, false},
		{"status", store.VideoListOptions{Limit: 10, Status: store.VideoReady}, []string{"vid_5"}, false},
		{"created_window", store.VideoListOptions{Limit: 10, CreatedAfter: baseTime().Add(time.Hour), CreatedBefore: baseTime().Add(4 * time.Hour)}, []string{"vid_2", "vid_3"}, false},
	}
	for _, tc := range tests {
		got, more, err := s.Videos().List(ctx, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(ids(got), tc.want) || more != tc.more {
			t.Errorf("%s: %v more=%v, want %v more=%v", tc.name, ids(got), more, tc.want, tc.more)
		}
	}
	if _, _, err := s.Videos().List(ctx, store.VideoListOptions{Limit: 0}); err == nil {
		t.Error("List with limit 0 succeeded")
	}
}

func testVideoDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Duration: time.Second, InitKey: "i", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().Delete(ctx, "vid_1"); err != nil {
		t.Fatal(err)
	}
	if segs, err := s.Videos().Segments(ctx, "vid_1", 0, 0); err != nil || len(segs) != 0 {
		t.Fatalf("segments after delete: %v, %v", segs, err)
	}
	// the id can be used again: nothing of the old video remains
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Duration: time.Second, InitKey: "i", Key: "k"}); err != nil {
		t.Fatalf("seq 0 after delete: %v", err)
	}
}

func testVideoDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, d := range []*time.Time{nil, ptr(baseTime().Add(-time.Hour)), ptr(baseTime()), ptr(baseTime().Add(time.Hour))} {
		v := newVideo(fmt.Sprintf("vid_%d", i), "li_1", baseTime())
		v.ScheduledDeletion = d
		if err := s.Videos().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Videos().DueForDeletion(ctx, baseTime(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "vid_1" || got[1].ID != "vid_2" {
		t.Fatalf("DueForDeletion = %v", got)
	}
}

func testVideoFilesInUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"vid_src", "vid_clip"} {
		if err := s.Videos().Create(ctx, newVideo(id, "li_1", baseTime())); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_src", Duration: time.Second, InitKey: "i", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_clip", OwnerID: "vid_src", Duration: time.Second, InitKey: "i", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	inUse := func(owner string) bool {
		ok, err := s.Videos().FilesInUse(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !inUse("vid_src") || inUse("vid_clip") {
		t.Fatal("FilesInUse before deletes")
	}
	if err := s.Videos().Delete(ctx, "vid_src"); err != nil {
		t.Fatal(err)
	}
	if !inUse("vid_src") {
		t.Fatal("the clip's reference to its source's files was lost")
	}
	if err := s.Videos().Delete(ctx, "vid_clip"); err != nil {
		t.Fatal(err)
	}
	if inUse("vid_src") {
		t.Fatal("files in use after every video was deleted")
	}
}
