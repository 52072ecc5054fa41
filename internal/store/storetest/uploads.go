package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// uploadsCases is the conformance suite of store.Uploads.
func uploadsCases() []testCase {
	return []testCase{
		{"create_get_round_trip", testUploadRoundTrip},
		{"transition_checks_status_and_node", testUploadTransition},
		{"transition_emits_in_its_transaction", testUploadTransitionEmits},
		{"claim_leases_and_expires", testUploadClaim},
		{"claim_race_one_winner", testUploadClaimRace},
		{"progress_and_reset_segments", testUploadProgressReset},
		{"expired_and_cascade", testUploadExpired},
		{"unfinished_per_token", testUploadUnfinished},
	}
}

// newUpload is a video waiting for a direct upload and its upload row.
func newUpload(id string, at time.Time) (*store.Video, *store.Upload) {
	v := newVideo(id, "", at)
	v.Status = store.VideoPendingUpload
	return v, &store.Upload{VideoID: id, Kind: store.UploadDirect, CreatedAt: at, UpdatedAt: at}
}

func mustUpload(t *testing.T, s store.Store, id, status string) {
	t.Helper()
	v, u := newUpload(id, baseTime())
	v.Status = status
	if err := s.Uploads().Create(t.Context(), v, u, nil); err != nil {
		t.Fatal(err)
	}
}

func testUploadRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, u := newUpload("vid_1", baseTime())
	u.SecretHash = []byte{1, 2, 3}
	u.MaxSizeBytes, u.MaxDurationSeconds = 1<<30, 600
	u.ExpiresAt = ptr(baseTime().Add(30 * time.Minute))
	u.Creator, u.SourceURL, u.Name, u.TokenID = "user-1", "https://example.com/a.mp4", "a.mp4", "tok_1"
	if err := s.Uploads().Create(ctx, v, u, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Uploads().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	want := *u
	want.ExpiresAt = normPtr(u.ExpiresAt)
	want.CreatedAt, want.UpdatedAt = norm(u.CreatedAt), norm(u.UpdatedAt)
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", *got, want)
	}
	if gv, err := s.Videos().Get(ctx, "vid_1"); err != nil || gv.Status != store.VideoPendingUpload || gv.LiveInputID != "" {
		t.Fatalf("the upload's video: %+v, %v", gv, err)
	}
	// the video and the upload are created together or not at all
	v2, u2 := newUpload("vid_1", baseTime())
	if err := s.Uploads().Create(ctx, v2, u2, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate: %v, want ErrConflict", err)
	}
	v3, u3 := newUpload("vid_3", baseTime())
	failing := func(*store.Video) ([]*store.WebhookEvent, error) { return nil, errors.New("render failed") }
	if err := s.Uploads().Create(ctx, v3, u3, failing); err == nil {
		t.Fatal("create with a failing EventFunc succeeded")
	}
	if _, err := s.Videos().Get(ctx, "vid_3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("video of a failed create: %v", err)
	}
	if _, err := s.Uploads().Get(ctx, "vid_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	// an upload without a secret reads back nil
	v4, u4 := newUpload("vid_4", baseTime())
	u4.Kind = store.UploadCopy
	if err := s.Uploads().Create(ctx, v4, u4, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Uploads().Get(ctx, "vid_4"); err != nil || got.SecretHash != nil || got.ExpiresAt != nil {
		t.Fatalf("plain upload: %+v, %v", got, err)
	}
}

func testUploadTransition(t *testing.T, s store.Store) {
	ctx := t.Context()
	up := s.Uploads()
	mustUpload(t, s, "vid_1", store.VideoPendingUpload)
	at := baseTime().Add(time.Minute)
	// from a status the video is not in
	err := up.Transition(ctx, "vid_1", store.UploadChange{From: []string{store.VideoQueued}, Status: store.VideoInProgress, At: at}, nil)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("wrong from: %v, want ErrConflict", err)
	}
	if err := up.Transition(ctx, "vid_nope", store.UploadChange{From: []string{store.VideoQueued}, Status: store.VideoReady, At: at}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent: %v, want ErrNotFound", err)
	}
	// a recording (no upload row) is never moved
	if err := s.Videos().Create(ctx, newVideo("vid_rec", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	if err := up.Transition(ctx, "vid_rec", store.UploadChange{From: []string{store.VideoLiveRecording}, Status: store.VideoReady, At: at}, nil); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		t.Fatalf("recording: %v", err)
	}
	if err := up.Transition(ctx, "vid_1", store.UploadChange{From: []string{store.VideoPendingUpload}, Status: store.VideoQueued,
		FileKey: "uploads/vid_1/source", SizeBytes: 1234, At: at}, nil); err != nil {
		t.Fatal(err)
	}
	u, err := up.Get(ctx, "vid_1")
	if err != nil || u.FileKey != "uploads/vid_1/source" || u.SizeBytes != 1234 || u.ReceivedBytes != 1234 || !u.UpdatedAt.Equal(norm(at)) {
		t.Fatalf("after queued: %+v, %v", u, err)
	}
	// a job's transitions belong to its node
	if _, err := up.Claim(ctx, "node-a", at, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	err = up.Transition(ctx, "vid_1", store.UploadChange{From: []string{store.VideoQueued}, Node: "node-b", Status: store.VideoInProgress, At: at}, nil)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("other node: %v, want ErrConflict", err)
	}
	ended := at.Add(time.Second)
	tracks := []store.VideoTrack{{Kind: "video", Codec: "h264", Width: 640, Height: 360}}
	if err := up.Transition(ctx, "vid_1", store.UploadChange{From: []string{store.VideoQueued}, Node: "node-a", Status: store.VideoErrored,
		ErrorCode: "duration_exceeded", ErrorMessage: "too long", Tracks: tracks, EndedAt: &ended, PctComplete: 100, ReleaseLease: true, At: ended}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := s.Videos().Get(ctx, "vid_1")
	if err != nil || v.Status != store.VideoErrored || v.ErrorCode != "duration_exceeded" || v.ErrorMessage != "too long" ||
		!reflect.DeepEqual(v.Tracks, tracks) || v.EndedAt == nil || !v.EndedAt.Equal(norm(ended)) {
		t.Fatalf("errored video: %+v, %v", v, err)
	}
	if u, err := up.Get(ctx, "vid_1"); err != nil || u.NodeID != "" || !u.LeaseExpires.IsZero() || u.PctComplete != 100 {
		t.Fatalf("released upload: %+v, %v", u, err)
	}
}

func testUploadTransitionEmits(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustEndpoint(t, s, newEndpoint("whk_a"))
	var saw *store.Video
	evf := func(id, typ string) store.VideoEventFunc {
		return func(v *store.Video) ([]*store.WebhookEvent, error) {
			saw = v
			return []*store.WebhookEvent{outboxEvent(id, typ, v.ID)}, nil
		}
	}
	v, u := newUpload("vid_1", baseTime())
	if err := s.Uploads().Create(ctx, v, u, evf("evt_1", "video.upload.created")); err != nil {
		t.Fatal(err)
	}
	if saw == nil || saw.Status != store.VideoPendingUpload {
		t.Fatalf("create's EventFunc saw %+v", saw)
	}
	c := store.UploadChange{From: []string{store.VideoPendingUpload}, Status: store.VideoQueued, At: baseTime()}
	if err := s.Uploads().Transition(ctx, "vid_1", c, evf("evt_2", "video.upload.completed")); err != nil {
		t.Fatal(err)
	}
	if saw.Status != store.VideoQueued {
		t.Fatalf("transition's EventFunc saw status %q", saw.Status)
	}
	failing := func(*store.Video) ([]*store.WebhookEvent, error) { return nil, errors.New("render failed") }
	c = store.UploadChange{From: []string{store.VideoQueued}, Status: store.VideoInProgress, At: baseTime()}
	if err := s.Uploads().Transition(ctx, "vid_1", c, failing); err == nil {
		t.Fatal("transition with a failing EventFunc succeeded")
	}
	if got, _ := s.Videos().Get(ctx, "vid_1"); got.Status != store.VideoQueued {
		t.Fatalf("status after a failed transition: %q", got.Status)
	}
	if got := deliveredEvents(t, s, "whk_a"); !reflect.DeepEqual(got, []string{"evt_1", "evt_2"}) {
		t.Fatalf("outbox: %v", got)
	}
}

func testUploadClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	up := s.Uploads()
	t0 := baseTime()
	mustUpload(t, s, "vid_1", store.VideoPendingUpload) // not complete: no job
	mustUpload(t, s, "vid_2", store.VideoQueued)
	mustUpload(t, s, "vid_3", store.VideoQueued)
	got, err := up.Claim(ctx, "node-a", t0, t0.Add(time.Minute))
	if err != nil || got == nil || got.VideoID != "vid_2" || got.NodeID != "node-a" || got.Attempts != 1 || !got.LeaseExpires.Equal(norm(t0.Add(time.Minute))) {
		t.Fatalf("first claim: %+v, %v", got, err)
	}
	if got, err := up.Claim(ctx, "node-b", t0, t0.Add(time.Minute)); err != nil || got == nil || got.VideoID != "vid_3" {
		t.Fatalf("second claim: %+v, %v", got, err)
	}
	if got, err := up.Claim(ctx, "node-b", t0, t0.Add(time.Minute)); err != nil || got != nil {
		t.Fatalf("third claim: %+v, %v; want none", got, err)
	}
	// node-a restarts: its leases go, its job is claimable at once
	if n, err := up.ReleaseNode(ctx, "node-a", t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("ReleaseNode of leases running past before: %d, %v", n, err)
	}
	if n, err := up.ReleaseNode(ctx, "node-a", t0.Add(time.Minute+time.Microsecond)); err != nil || n != 1 {
		t.Fatalf("ReleaseNode: %d, %v", n, err)
	}
	if got, err := up.Claim(ctx, "node-a", t0, t0.Add(time.Minute)); err != nil || got == nil || got.VideoID != "vid_2" || got.Attempts != 2 {
		t.Fatalf("claim after release: %+v, %v", got, err)
	}
	if ok, err := up.Renew(ctx, "vid_2", "node-a", t0.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("renew own: %v %v", ok, err)
	}
	if ok, err := up.Renew(ctx, "vid_2", "node-b", t0.Add(2*time.Minute)); err != nil || ok {
		t.Fatalf("renew other's: %v %v", ok, err)
	}
	// node-b dies: after its lease, vid_3 goes to another node, attempt 2
	if got, err := up.Claim(ctx, "node-c", t0.Add(90*time.Second), t0.Add(3*time.Minute)); err != nil || got == nil || got.VideoID != "vid_3" || got.Attempts != 2 {
		t.Fatalf("claim after expiry: %+v, %v", got, err)
	}
	// a copy being downloaded is a job too, claimed once its lease ran out
	v, u := newUpload("vid_4", t0)
	v.Status, u.Kind, u.NodeID, u.LeaseExpires = store.VideoDownloading, store.UploadCopy, "node-x", t0.Add(5*time.Minute)
	if err := up.Create(ctx, v, u, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := up.Get(ctx, "vid_4"); err != nil || got.NodeID != "node-x" || !got.LeaseExpires.Equal(norm(t0.Add(5*time.Minute))) {
		t.Fatalf("leased at creation: %+v, %v", got, err)
	}
	if got, err := up.Claim(ctx, "node-a", t0.Add(100*time.Second), t0.Add(6*time.Minute)); err != nil || got != nil {
		t.Fatalf("claim while every lease runs: %+v, %v; want none", got, err)
	}
	// a finished job is never claimed, nor renewed
	if err := up.Transition(ctx, "vid_2", store.UploadChange{From: []string{store.VideoQueued}, Node: "node-a", Status: store.VideoReady, ReleaseLease: true, At: t0}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := up.Renew(ctx, "vid_2", "node-a", t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("renew finished: %v %v", ok, err)
	}
	for _, want := range []string{"vid_3", "vid_4", ""} { // vid_4: an abandoned copy
		got, err := up.Claim(ctx, "node-a", t0.Add(time.Hour), t0.Add(2*time.Hour))
		if err != nil || (got == nil) != (want == "") || (got != nil && got.VideoID != want) {
			t.Fatalf("late claim: %+v, %v; want %q", got, err, want)
		}
	}
}

func testUploadClaimRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const jobs, nodes = 6, 4
	for i := range jobs {
		mustUpload(t, s, fmt.Sprintf("vid_%d", i), store.VideoQueued)
	}
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("node-%d", n)
			for {
				u, err := s.Uploads().Claim(ctx, node, baseTime(), baseTime().Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				if u == nil {
					return
				}
				mu.Lock()
				if prev, ok := owner[u.VideoID]; ok {
					t.Errorf("%s claimed by %s and %s", u.VideoID, prev, node)
				}
				owner[u.VideoID] = node
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(owner) != jobs {
		t.Fatalf("claimed %d jobs of %d", len(owner), jobs)
	}
}

func testUploadProgressReset(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpload(t, s, "vid_1", store.VideoInProgress)
	if err := s.Uploads().Progress(ctx, "vid_1", 500, 42.5, baseTime()); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Uploads().Get(ctx, "vid_1"); err != nil || u.ReceivedBytes != 500 || u.PctComplete != 42.5 {
		t.Fatalf("progress: %+v, %v", u, err)
	}
	if err := s.Uploads().Progress(ctx, "vid_nope", 1, 1, baseTime()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	for i := range int64(3) {
		if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Seq: i, Duration: time.Second, InitKey: "i", Key: "k", Size: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Uploads().ResetSegments(ctx, "vid_1"); err != nil {
		t.Fatal(err)
	}
	v, err := s.Videos().Get(ctx, "vid_1")
	if err != nil || v.Segments != 0 || v.Duration != 0 || v.SizeBytes != 0 {
		t.Fatalf("after reset: %+v, %v", v, err)
	}
	if segs, err := s.Videos().Segments(ctx, "vid_1", 0, 0); err != nil || len(segs) != 0 {
		t.Fatalf("segments after reset: %d, %v", len(segs), err)
	}
	// the index can be written again from 0
	if err := s.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: "vid_1", Seq: 0, Duration: time.Second, InitKey: "i", Key: "k", Size: 10}); err != nil {
		t.Fatal(err)
	}
}

func testUploadExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	t0 := baseTime()
	for i, st := range []string{store.VideoPendingUpload, store.VideoUploading, store.VideoQueued, store.VideoPendingUpload} {
		v, u := newUpload(fmt.Sprintf("vid_%d", i), t0)
		v.Status = st
		if i < 3 {
			u.ExpiresAt = ptr(t0.Add(time.Minute))
		}
		if err := s.Uploads().Create(ctx, v, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Uploads().Expired(ctx, t0, 10); err != nil || len(got) != 0 {
		t.Fatalf("before expiry: %d, %v", len(got), err)
	}
	got, err := s.Uploads().Expired(ctx, t0.Add(time.Minute), 10)
	if err != nil || len(got) != 2 || got[0].VideoID != "vid_0" || got[1].VideoID != "vid_1" {
		t.Fatalf("expired: %+v, %v", got, err)
	}
	// deleting the video deletes its upload
	if err := s.Videos().Delete(ctx, "vid_0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Uploads().Get(ctx, "vid_0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("upload of a deleted video: %v", err)
	}
}

func testUploadUnfinished(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, st := range []string{store.VideoPendingUpload, store.VideoUploading, store.VideoDownloading, store.VideoQueued, store.VideoReady, store.VideoPendingUpload} {
		v, u := newUpload(fmt.Sprintf("vid_%d", i), baseTime())
		v.Status, u.TokenID = st, "tok_a"
		if i == 5 {
			u.TokenID = "tok_b"
		}
		if err := s.Uploads().Create(ctx, v, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	for tok, want := range map[string]int{"tok_a": 3, "tok_b": 1, "tok_c": 0} {
		if n, err := s.Uploads().Unfinished(ctx, tok); err != nil || n != want {
			t.Errorf("Unfinished(%s) = %d, %v; want %d", tok, n, err, want)
		}
	}
}
