package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// leased is a live_recording video of node with a lease until until.
func leased(id, node string, until time.Time) *store.Video {
	v := newVideo(id, "li_1", baseTime())
	v.NodeID, v.LeaseExpires = node, until
	return v
}

func testVideoLeaseRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := leased("vid_1", "node-a", baseTime().Add(30*time.Second))
	v.TargetDuration = 10 * time.Second
	if err := s.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	got, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.NodeID != "node-a" || !got.LeaseExpires.Equal(norm(v.LeaseExpires)) || got.TargetDuration != 10*time.Second {
		t.Fatalf("lease fields read back as %q %v %v", got.NodeID, got.LeaseExpires, got.TargetDuration)
	}
	// Update leaves the lease to RenewLeases and ClaimRecording
	got.NodeID, got.LeaseExpires, got.TargetDuration = "node-x", time.Time{}, time.Second
	got.Meta = map[string]any{"k": "v"}
	if err := s.Videos().Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	got, err = s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.NodeID != "node-a" || !got.LeaseExpires.Equal(norm(v.LeaseExpires)) || got.TargetDuration != 10*time.Second || got.Meta["k"] != "v" {
		t.Fatalf("after Update: %q %v %v %v", got.NodeID, got.LeaseExpires, got.TargetDuration, got.Meta)
	}
	// a video without a lease reads back with a zero one
	if err := s.Videos().Create(ctx, newVideo("vid_2", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Videos().Get(ctx, "vid_2"); err != nil || got.NodeID != "" || !got.LeaseExpires.IsZero() || got.TargetDuration != 0 {
		t.Fatalf("unleased video: %+v, %v", got, err)
	}
}

func testVideoRenewLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	t0 := baseTime()
	for _, v := range []*store.Video{
		leased("vid_a1", "node-a", t0), leased("vid_a2", "node-a", t0),
		leased("vid_b1", "node-b", t0), leased("vid_a3", "node-a", t0),
	} {
		if err := s.Videos().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	done, err := s.Videos().Get(ctx, "vid_a3")
	if err != nil {
		t.Fatal(err)
	}
	done.Status = store.VideoReady
	if err := s.Videos().Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	until := t0.Add(time.Minute)
	// vid_b1 is another node's, vid_a3 is finished, vid_x does not exist
	got, err := s.Videos().RenewLeases(ctx, "node-a", []string{"vid_a1", "vid_a2", "vid_b1", "vid_a3", "vid_x"}, until)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"vid_a1", "vid_a2"}) {
		t.Fatalf("RenewLeases renewed %v, want vid_a1 vid_a2", got)
	}
	for id, want := range map[string]time.Time{"vid_a1": until, "vid_a2": until, "vid_b1": t0, "vid_a3": t0} {
		v, err := s.Videos().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !v.LeaseExpires.Equal(norm(want)) {
			t.Errorf("%s: lease %v, want %v", id, v.LeaseExpires, norm(want))
		}
	}
	if got, err := s.Videos().RenewLeases(ctx, "node-a", nil, until); err != nil || len(got) != 0 {
		t.Fatalf("RenewLeases of nothing: %v, %v", got, err)
	}
	// many ids at once
	var many []string
	for i := range 1200 {
		many = append(many, fmt.Sprintf("vid_m%04d", i))
	}
	many = append(many, "vid_a1")
	if got, err := s.Videos().RenewLeases(ctx, "node-a", many, until.Add(time.Second)); err != nil || len(got) != 1 || got[0] != "vid_a1" {
		t.Fatalf("RenewLeases of 1201 ids: %v, %v", got, err)
	}
}

func testVideoUnfinished(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := baseTime()
	vs := []*store.Video{
		leased("vid_1", "node-a", now.Add(time.Minute)),  // a's, live
		leased("vid_2", "node-a", now.Add(-time.Second)), // a's, expired
		leased("vid_3", "node-b", now.Add(time.Minute)),  // b's, live
		leased("vid_4", "node-b", now.Add(-time.Second)), // b's, expired
		newVideo("vid_5", "li_1", now),                   // no lease (an older version's)
		leased("vid_6", "node-b", now.Add(-time.Second)), // finished: never recovered
	}
	vs[5].Status = store.VideoReady
	vs[3].Status = store.VideoProcessing
	for _, v := range vs {
		if err := s.Videos().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(own bool, after string, limit int) []string {
		t.Helper()
		got, err := s.Videos().Unfinished(ctx, "node-a", own, now, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, v := range got {
			out = append(out, v.ID)
		}
		return out
	}
	if got, want := ids(false, "", 10), []string{"vid_2", "vid_4", "vid_5"}; !slices.Equal(got, want) {
		t.Errorf("Unfinished(own=false) = %v, want %v", got, want)
	}
	if got, want := ids(true, "", 10), []string{"vid_1", "vid_2", "vid_4", "vid_5"}; !slices.Equal(got, want) {
		t.Errorf("Unfinished(own=true) = %v, want %v", got, want)
	}
	if got, want := ids(true, "vid_2", 2), []string{"vid_4", "vid_5"}; !slices.Equal(got, want) {
		t.Errorf("Unfinished(after vid_2, limit 2) = %v, want %v", got, want)
	}
}

func testVideoClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := baseTime()
	for _, v := range []*store.Video{
		leased("vid_live", "node-a", now.Add(time.Minute)),
		leased("vid_expired", "node-a", now.Add(-time.Second)),
		newVideo("vid_nolease", "li_1", now),
	} {
		if err := s.Videos().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	until := now.Add(30 * time.Second)
	claim := func(id, node string, own bool) bool {
		t.Helper()
		ok, err := s.Videos().ClaimRecording(ctx, id, node, own, now, until)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if claim("vid_live", "node-b", false) || claim("vid_live", "node-b", true) {
		t.Fatal("node-b claimed node-a's recording while its lease runs")
	}
	if claim("vid_live", "node-a", false) {
		t.Fatal("a claim without own took a live lease")
	}
	if !claim("vid_live", "node-a", true) {
		t.Fatal("node-a could not take back its own recording (a restart)")
	}
	if !claim("vid_expired", "node-b", false) {
		t.Fatal("node-b could not claim an expired recording")
	}
	v, err := s.Videos().Get(ctx, "vid_expired")
	if err != nil {
		t.Fatal(err)
	}
	if v.NodeID != "node-b" || !v.LeaseExpires.Equal(norm(until)) {
		t.Fatalf("claimed video: node %q lease %v", v.NodeID, v.LeaseExpires)
	}
	if claim("vid_expired", "node-c", false) {
		t.Fatal("a claimed recording was claimed again within the new lease")
	}
	if !claim("vid_nolease", "node-c", false) {
		t.Fatal("a recording without a lease could not be claimed")
	}
	v.Status = store.VideoReady
	if err := s.Videos().Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	if claim("vid_expired", "node-b", true) || claim("vid_missing", "node-b", true) {
		t.Fatal("a finished or missing video was claimed")
	}
}

// testVideoClaimRace: nodes starting together claim the same expired
// recordings; each is claimed exactly once.
func testVideoClaimRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := baseTime()
	const videos, nodes = 10, 4
	for i := range videos {
		if err := s.Videos().Create(ctx, leased(fmt.Sprintf("vid_%d", i), "node-dead", now.Add(-time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	wins := map[string][]string{}
	var wg sync.WaitGroup
	for n := range nodes {
		node := fmt.Sprintf("node-%d", n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range videos {
				id := fmt.Sprintf("vid_%d", i)
				ok, err := s.Videos().ClaimRecording(ctx, id, node, false, now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					wins[id] = append(wins[id], node)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i := range videos {
		id := fmt.Sprintf("vid_%d", i)
		if len(wins[id]) != 1 {
			t.Errorf("%s claimed by %v, want exactly one node", id, wins[id])
			continue
		}
		v, err := s.Videos().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.NodeID != wins[id][0] {
			t.Errorf("%s belongs to %q, claimed by %q", id, v.NodeID, wins[id][0])
		}
	}
}

// testVideoUpdateSettings: an edit made from a read taken while the video
// was recording does not undo the recording's end written meanwhile.
func testVideoUpdateSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Videos().Create(ctx, newVideo("vid_1", "li_1", baseTime())); err != nil {
		t.Fatal(err)
	}
	stale, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	done, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	done.Status, done.EndedAt, done.Recovered = store.VideoReady, ptr(baseTime().Add(time.Minute)), true
	done.DownloadStatus, done.DownloadKey, done.ThumbnailKey = store.DownloadReady, "d.mp4", "t.jpg"
	if err := s.Videos().Update(ctx, done); err != nil {
		t.Fatal(err)
	}
	stale.Meta = map[string]any{"title": "x"}
	stale.ScheduledDeletion = ptr(baseTime().Add(24 * time.Hour))
	stale.RequireSignedURLs, stale.AllowedOrigins = true, []string{"https://a.example"}
	stale.UpdatedAt = baseTime().Add(2 * time.Minute)
	if err := s.Videos().UpdateSettings(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got, err := s.Videos().Get(ctx, "vid_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoReady || got.EndedAt == nil || !got.Recovered || got.DownloadStatus != store.DownloadReady ||
		got.DownloadKey != "d.mp4" || got.ThumbnailKey != "t.jpg" {
		t.Fatalf("UpdateSettings undid the recorder's writes: %+v", got)
	}
	if got.Meta["title"] != "x" || got.ScheduledDeletion == nil || !got.ScheduledDeletion.Equal(norm(*stale.ScheduledDeletion)) ||
		!got.RequireSignedURLs || len(got.AllowedOrigins) != 1 || !got.UpdatedAt.Equal(norm(stale.UpdatedAt)) {
		t.Fatalf("UpdateSettings did not write the settings: %+v", got)
	}
	if err := s.Videos().UpdateSettings(ctx, newVideo("vid_x", "li_1", baseTime())); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateSettings of a missing video: %v", err)
	}
}
