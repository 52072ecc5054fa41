package record

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/pgtest"
	"github.com/mpegflow/mpegflow/internal/store/postgres"
)

// waitVideo polls the store until cond holds for the only video.
func waitVideo(t *testing.T, st store.Store, cond func(v *store.Video) bool) *store.Video {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		vs, _, err := st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 1 && cond(vs[0]) {
			return vs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("videos %+v never met the condition", vs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two nodes on one PostgreSQL: node B's recovery (at its start and while
// it runs) leaves alone the recording node A is making; once A crashes
// (cut off from the database: no more heartbeats) and its lease runs out,
// B recovers the recording to ready with recovered=true.
func TestRecorderNodesShareOnePostgres(t *testing.T) {
	srv := pgtest.StartServer(t)
	url := srv.NewDatabase(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	li := &store.LiveInput{ID: "li_1", Name: "x", Meta: map[string]any{}, Enabled: true, StreamKeyHash: []byte{1},
		Recording: store.Recording{Mode: store.RecordingAutomatic}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := dbA.LiveInputs().Create(t.Context(), li); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs")) // shared, as S3 would be
	if err != nil {
		t.Fatal(err)
	}
	const lease, beat = 3 * time.Second, 100 * time.Millisecond
	node := func(st store.Store, id string, bus *captureBus) *Recorder {
		r, err := New(Config{Videos: st.Videos(), LiveInputs: st.LiveInputs(), Blobs: blobs, Bus: bus,
			NodeID: id, Lease: lease, Heartbeat: beat, TargetDuration: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		return r
	}
	busA, busB := newCaptureBus(), newCaptureBus()
	a := node(dbA, "node-a", busA)
	a.Run(t.Context())
	a.Start("li_1", nil)
	for i := range uint64(3) {
		a.Segment("li_1", seg(i, 0))
	}
	v := waitVideo(t, dbA, func(v *store.Video) bool { return v.Segments == 3 })
	if v.NodeID != "node-a" || v.LeaseExpires.IsZero() || v.TargetDuration != 4*time.Second {
		t.Fatalf("recording of node A: node %q lease %v target %v", v.NodeID, v.LeaseExpires, v.TargetDuration)
	}

	b := node(dbB, "node-b", busB)
	b.Run(t.Context()) // its start-up recovery
	// B's periodic recovery runs many times over more than a lease while A
	// records and heartbeats
	firstLease := v.LeaseExpires
	for time.Now().Before(firstLease.Add(lease / 2)) {
		time.Sleep(50 * time.Millisecond)
	}
	a.Segment("li_1", seg(3, 0))
	v = waitVideo(t, dbB, func(v *store.Video) bool { return v.Segments == 4 })
	if v.Status != store.VideoLiveRecording || v.NodeID != "node-a" || v.Recovered || !v.LeaseExpires.After(firstLease) {
		t.Fatalf("node B's recovery touched node A's live recording: %+v", v)
	}
	busB.mu.Lock()
	n := len(busB.ev)
	busB.mu.Unlock()
	if n != 0 {
		t.Fatalf("node B published %d events about node A's recording", n)
	}

	// A crashes: it loses the database and heartbeats no more
	_ = dbA.Close()
	e := busB.wait(t, events.VideoReady)
	d := e.Data.(EventData)
	if !d.Recovered || d.VideoID != v.ID || d.DurationSeconds != 4 {
		t.Fatalf("video.ready from node B: %+v", d)
	}
	got, err := dbB.Videos().Get(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoReady || !got.Recovered || got.NodeID != "node-b" || got.Duration != 4*time.Second || got.EndedAt == nil {
		t.Fatalf("recovered video: %+v", got)
	}
	pl, final, err := b.Playlist(t.Context(), v.ID)
	if err != nil || !final || !bytes.Contains(pl, []byte("seg3.m4s\n#EXT-X-ENDLIST\n")) {
		t.Fatalf("recovered playlist (final %v, %v):\n%s", final, err, pl)
	}
	if st := b.Stats(); st.Recovered != 1 || st.Active != 0 {
		t.Errorf("node B stats %+v, want 1 recovered", st)
	}
	if st := a.Stats(); st.Active != 1 || st.SegmentsWritten != 4 {
		t.Errorf("node A stats %+v, want 1 active, 4 segments", st)
	}
	a.Stop() // A's own shutdown cannot finish it again (and has no database)
	if got, err := dbB.Videos().Get(t.Context(), v.ID); err != nil || got.NodeID != "node-b" || !got.Recovered {
		t.Fatalf("after node A stopped: %+v, %v", got, err)
	}
}

// A node cut off past its lease whose recording another node recovered
// leaves that recording alone: it neither renews nor finishes it.
func TestRecorderLostLeaseIsLeftAlone(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus,
		NodeID: "node-a", Lease: 3 * time.Second, Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Run(t.Context())
	r.Start("li_1", nil)
	r.Segment("li_1", seg(0, 0))
	v := waitVideo(t, f.st, func(v *store.Video) bool { return v.Segments == 1 })
	// node B claims it as if the lease had run out
	now := time.Now().Add(time.Hour)
	if ok, err := f.st.Videos().ClaimRecording(t.Context(), v.ID, "node-b", false, now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	r.Segment("li_1", seg(1, 0))
	r.End("li_1")
	r.Stop()
	got, err := f.st.Videos().Get(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoLiveRecording || got.NodeID != "node-b" {
		t.Fatalf("node A finished a recording it lost: %+v", got)
	}
	if st := r.Stats(); st.LeasesLost != 1 || st.Active != 0 {
		t.Errorf("stats %+v, want 1 lease lost, none active", st)
	}
	f.bus.mu.Lock()
	defer f.bus.mu.Unlock()
	for _, e := range f.bus.ev {
		if e.Type == events.VideoReady || e.Type == events.VideoErrored {
			t.Fatalf("node A published %s for a recording it lost", e.Type)
		}
	}
}

var targetRe = regexp.MustCompile(`#EXT-X-TARGETDURATION:([0-9]+)\n`)

// The EVENT playlist of a recording in progress keeps the
// EXT-X-TARGETDURATION it started with while longer segments arrive
// (RFC 8216bis §6.2.1), and the VOD playlist of the finished video has it
// too.
func TestRecorderEventPlaylistTargetDurationIsFixed(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus,
		TargetDuration: 3500 * time.Millisecond}) // the packager's max segment duration: rounded up to 4
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Run(t.Context())
	r.Start("li_1", nil)
	var seen []string
	for i, d := range []time.Duration{time.Second, 2500 * time.Millisecond, 3400 * time.Millisecond, 800 * time.Millisecond} {
		s := seg(uint64(i), 0)
		s.Duration = d
		r.Segment("li_1", s)
		v := waitVideo(t, f.st, func(v *store.Video) bool { return v.Segments == int64(i+1) })
		pl, final, err := r.Playlist(t.Context(), v.ID)
		if err != nil || final || !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:EVENT\n")) {
			t.Fatalf("playlist while recording (final %v, %v):\n%s", final, err, pl)
		}
		m := targetRe.FindSubmatch(pl)
		if m == nil {
			t.Fatalf("no target duration:\n%s", pl)
		}
		seen = append(seen, string(m[1]))
	}
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	v := onlyVideo(t, f.st)
	pl, final, err := r.Playlist(t.Context(), v.ID)
	if err != nil || !final {
		t.Fatal(final, err)
	}
	seen = append(seen, string(targetRe.FindSubmatch(pl)[1]))
	for _, td := range seen {
		if td != "4" {
			t.Fatalf("EXT-X-TARGETDURATION over the broadcast: %v, want 4 throughout", seen)
		}
	}
}

func TestFixTargetDuration(t *testing.T) {
	pl, err := hls.VODPlaylist([]hls.VODSegment{{URI: "seg0.m4s", InitURI: "init0.mp4", Duration: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		td   time.Duration
		want string
	}{
		{0, "2"},                       // unknown: the longest segment's
		{10 * time.Second, "10"},       // fixed
		{6100 * time.Millisecond, "7"}, // rounded up
		{time.Second, "2"},             // a longer segment wins: the playlist stays valid
	} {
		got := fixTargetDuration(pl, tc.td)
		if m := targetRe.FindSubmatch(got); m == nil || string(m[1]) != tc.want {
			t.Errorf("fixTargetDuration(%v):\n%s", tc.td, got)
		}
		if !bytes.Equal(targetRe.ReplaceAll(got, nil), targetRe.ReplaceAll(pl, nil)) {
			t.Errorf("fixTargetDuration(%v) changed more than the tag", tc.td)
		}
	}
}

// A running node recovers a recording whose lease ran out while nobody
// records it (here one of its own that no worker holds, as when finishing
// it failed), without waiting for a restart.
func TestRecorderRecoversExpiredLeasesWhileRunning(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus,
		NodeID: "node-a", Lease: 3 * time.Second, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Run(t.Context())
	now := time.Now().UTC().Truncate(time.Microsecond)
	v := &store.Video{ID: NewVideoID(now), LiveInputID: "li_1", Status: store.VideoLiveRecording, CreatedAt: now, StartedAt: now,
		UpdatedAt: now, Tracks: []store.VideoTrack{}, Meta: map[string]any{}, AllowedOrigins: []string{},
		NodeID: "node-a", LeaseExpires: now.Add(-time.Second)}
	if err := f.st.Videos().Create(t.Context(), v); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Videos().AddSegment(t.Context(), &store.VideoSegment{VideoID: v.ID, Duration: 2 * time.Second, InitKey: "i", Key: "k", Size: 1}); err != nil {
		t.Fatal(err)
	}
	e := f.bus.wait(t, events.VideoReady)
	if d := e.Data.(EventData); d.VideoID != v.ID || !d.Recovered || d.DurationSeconds != 2 {
		t.Fatalf("video.ready %+v", d)
	}
}
