package record

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

type captureBus struct {
	mu sync.Mutex
	ev []events.Event
	ch chan events.Event
}

func newCaptureBus() *captureBus { return &captureBus{ch: make(chan events.Event, 100)} }

func (b *captureBus) Publish(e events.Event) {
	b.mu.Lock()
	b.ev = append(b.ev, e)
	b.mu.Unlock()
	b.ch <- e
}

func (b *captureBus) wait(t *testing.T, typ events.Type) events.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-b.ch:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

type fixture struct {
	st    store.Store
	blobs *blob.Local
	bus   *captureBus
}

func newFixture(t *testing.T, mode string) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	blobs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	li := &store.LiveInput{ID: "li_1", Name: "x", Meta: map[string]any{}, Enabled: true, StreamKeyHash: []byte{1},
		Recording: store.Recording{Mode: mode, DeleteAfterDays: 2}, AllowedOrigins: []string{"https://a.example"}, RequireSignedURLs: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.LiveInputs().Create(t.Context(), li); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, blobs: blobs, bus: newCaptureBus()}
}

func (f *fixture) recorder(t *testing.T) *Recorder {
	t.Helper()
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func seg(msn uint64, initID int) hls.SegmentInfo {
	return hls.SegmentInfo{Rendition: "source", MSN: msn, Duration: time.Second, ProgramDateTime: time.Now(),
		InitID: initID, Init: []byte("INIT" + string(rune('0'+initID))), Parts: [][]byte{[]byte("moof"), []byte("mdat" + string(rune('0'+msn)))}}
}

func onlyVideo(t *testing.T, st store.Store) *store.Video {
	t.Helper()
	vs, _, err := st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d videos, want 1", len(vs))
	}
	return vs[0]
}

func TestRecorderBroadcastBecomesReadyVideo(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", []store.VideoTrack{{Kind: "video", Codec: "h264", Width: 640, Height: 360}})
	r.Segment("li_other", seg(0, 0)) // not recording: ignored
	for i := range uint64(3) {
		r.Segment("li_1", seg(i, 0))
	}
	r.Segment("li_1", seg(4, 0)) // MSN 3 was lost: discontinuity
	r.Segment("li_1", seg(5, 1)) // new init: discontinuity, new EXT-X-MAP
	other := seg(6, 7)
	other.Rendition = "720p" // a transcoded rendition: not recorded
	r.Segment("li_1", other)
	started := f.bus.wait(t, events.RecordingStarted)
	r.End("li_1")
	ready := f.bus.wait(t, events.VideoReady)
	if ready.LiveInputID != "li_1" || ready.Data.(EventData).Recovered || started.Data.(EventData).VideoID != ready.Data.(EventData).VideoID {
		t.Fatalf("events: %+v %+v", started, ready)
	}
	v := onlyVideo(t, f.st)
	if v.Status != store.VideoReady || v.Duration != 5*time.Second || v.Segments != 5 || v.EndedAt == nil ||
		!v.RequireSignedURLs || len(v.AllowedOrigins) != 1 || v.ScheduledDeletion == nil || v.Tracks[0].BitrateBPS == 0 {
		t.Fatalf("video: %+v", v)
	}
	segs, err := f.st.Videos().Segments(t.Context(), v.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var disc []bool
	for _, s := range segs {
		disc = append(disc, s.Discontinuity)
	}
	if want := []bool{false, false, false, true, true}; !equalBools(disc, want) {
		t.Errorf("discontinuities %v, want %v", disc, want)
	}
	pl, final, err := r.Playlist(t.Context(), v.ID)
	if err != nil || !final {
		t.Fatal(final, err)
	}
	for _, want := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST", `#EXT-X-MAP:URI="init0.mp4"`, `#EXT-X-MAP:URI="init4.mp4"`, "seg4.m4s", "#EXT-X-DISCONTINUITY"} {
		if !bytes.Contains(pl, []byte(want)) {
			t.Errorf("playlist lacks %s:\n%s", want, pl)
		}
	}
	o, err := r.Open(t.Context(), v.ID, "seg1.m4s")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := o.Read(buf)
	_ = o.Close()
	if string(buf[:n]) != "moofmdat1" {
		t.Errorf("seg1.m4s = %q", buf[:n])
	}
	for _, name := range []string{"../x", "seg1.m4s/../../x", "other.txt"} {
		if _, err := r.Open(t.Context(), v.ID, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", name, err)
		}
	}
	if _, err := r.MP4(t.Context(), v.ID); !errors.Is(err, ErrNoFFmpeg) {
		t.Errorf("MP4 without ffmpeg: %v", err)
	}
	// delete removes the index and the files
	if err := r.Delete(t.Context(), v.ID); err != nil {
		t.Fatal(err)
	}
	f.bus.wait(t, events.VideoDeleted)
	if objs, _ := f.blobs.List(t.Context(), Prefix(v.ID)); len(objs) != 0 {
		t.Errorf("files left after delete: %v", objs)
	}
	if _, err := r.Video(t.Context(), v.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Video after delete: %v", err)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecorderOffRecordsNothing(t *testing.T) {
	f := newFixture(t, store.RecordingOff)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	r.Segment("li_1", seg(0, 0))
	r.End("li_1")
	r.Stop()
	if vs, _, _ := f.st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10}); len(vs) != 0 {
		t.Fatalf("videos recorded with recording off: %v", vs)
	}
}

func TestRecorderEmptyBroadcastErrors(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	r.End("li_1")
	e := f.bus.wait(t, events.VideoErrored)
	if e.Data.(EventData).ErrorCode != "no_media" {
		t.Fatalf("event %+v", e)
	}
}

// A recorder that stops without End (a crash) leaves a live_recording video
// that the next recorder recovers from the stored segments.
func TestRecorderRecoversAfterCrash(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	for i := range uint64(4) {
		r.Segment("li_1", seg(i, 0))
	}
	deadline := time.Now().Add(10 * time.Second)
	var v *store.Video
	for {
		vs, _, err := f.st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 1 && vs[0].Segments == 4 {
			v = vs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("segments not indexed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v.Status != store.VideoLiveRecording {
		t.Fatalf("status %s", v.Status)
	}
	pl, final, err := r.Playlist(t.Context(), v.ID)
	if err != nil || final || !bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) || bytes.Contains(pl, []byte("ENDLIST")) {
		t.Fatalf("playlist while recording (final %v, %v):\n%s", final, err, pl)
	}
	if _, err := r.MP4(t.Context(), v.ID); !errors.Is(err, ErrRecording) {
		t.Errorf("MP4 while recording: %v", err)
	}
	if err := r.Delete(t.Context(), v.ID); !errors.Is(err, ErrRecording) {
		t.Errorf("Delete while recording: %v", err)
	}

	// the "restarted" daemon: a new recorder of the same node (its id is
	// kept in data_dir) on the same store and files takes its recording
	// back at once, though the lease still runs
	bus2 := newCaptureBus()
	r2, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: bus2, NodeID: r.NodeID()})
	if err != nil {
		t.Fatal(err)
	}
	r2.Run(t.Context())
	defer r2.Stop()
	e := bus2.wait(t, events.VideoReady)
	if d := e.Data.(EventData); !d.Recovered || d.VideoID != v.ID || d.DurationSeconds != 4 {
		t.Fatalf("video.ready after recovery: %+v", d)
	}
	got, err := r2.Video(t.Context(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.VideoReady || !got.Recovered || got.Duration != 4*time.Second || got.EndedAt == nil {
		t.Fatalf("recovered video: %+v", got)
	}
	pl, final, err = r2.Playlist(t.Context(), v.ID)
	if err != nil || !final || !strings.HasSuffix(string(pl), "seg3.m4s\n#EXT-X-ENDLIST\n") {
		t.Fatalf("recovered playlist (final %v, %v):\n%s", final, err, pl)
	}
}

func TestRecorderRetentionDeletes(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	r.Run(t.Context())
	r.Start("li_1", nil)
	r.Segment("li_1", seg(0, 0))
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	v := onlyVideo(t, f.st)
	if objs, err := f.blobs.List(t.Context(), Prefix(v.ID)); err != nil || len(objs) < 2 {
		t.Fatalf("files of the recording: %v, %v", objs, err)
	}
	clock.Add(int64(3 * 24 * time.Hour)) // past delete_after_days (2)
	r.clean(context.Background())
	f.bus.wait(t, events.VideoDeleted)
	if _, err := f.st.Videos().Get(t.Context(), v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("video after retention: %v", err)
	}
	if objs, err := f.blobs.List(t.Context(), Prefix(v.ID)); err != nil || len(objs) != 0 {
		t.Fatalf("files left after retention: %v, %v", objs, err)
	}
}

func TestRecorderClipSharesFiles(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	for i := range uint64(6) {
		r.Segment("li_1", seg(i, 0))
	}
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	src := onlyVideo(t, f.st)
	tests := []struct {
		name       string
		start, end time.Duration
		err        error
		gotS, gotE time.Duration
	}{
		// no part layout (seg has no PartInfo): the nearest segment boundaries
		{"inside", 1400 * time.Millisecond, 3600 * time.Millisecond, nil, time.Second, 4 * time.Second},
		{"within_one", 2200 * time.Millisecond, 2400 * time.Millisecond, nil, 2 * time.Second, 3 * time.Second},
		{"aligned", 2 * time.Second, 3 * time.Second, nil, 2 * time.Second, 3 * time.Second},
		{"whole", 0, 6 * time.Second, nil, 0, 6 * time.Second},
		{"past_end", 5 * time.Second, 7 * time.Second, ErrOutOfRange, 0, 0},
		{"reversed", 3 * time.Second, 2 * time.Second, ErrOutOfRange, 0, 0},
		{"negative", -time.Second, 2 * time.Second, ErrOutOfRange, 0, 0},
	}
	var clip *store.Video
	for _, tc := range tests {
		c, cr, err := r.Clip(t.Context(), src.ID, tc.start, tc.end, tc.name)
		if !errors.Is(err, tc.err) {
			t.Fatalf("%s: err %v, want %v", tc.name, err, tc.err)
		}
		if err != nil {
			continue
		}
		if cr.Start != tc.gotS || cr.End != tc.gotE || c.Duration != tc.gotE-tc.gotS || c.Status != store.VideoReady || c.Meta["clip_of"] != src.ID {
			t.Fatalf("%s: %+v %+v", tc.name, cr, c)
		}
		if tc.name == "inside" {
			clip = c
		}
	}
	pl, _, err := r.Playlist(t.Context(), clip.ID)
	if err != nil || !bytes.Contains(pl, []byte("seg2.m4s")) || bytes.Contains(pl, []byte("seg3.m4s")) || !bytes.Contains(pl, []byte(`URI="init0.mp4"`)) {
		t.Fatalf("clip playlist (%v):\n%s", err, pl)
	}
	read := func(id, name string) string {
		t.Helper()
		o, err := r.Open(t.Context(), id, name)
		if err != nil {
			t.Fatalf("Open %s/%s: %v", id, name, err)
		}
		defer o.Close()
		b, _ := io.ReadAll(o)
		return string(b)
	}
	// the clip's files are its source's, under the clip's own path
	if got := read(clip.ID, "seg0.m4s"); got != "moofmdat1" {
		t.Errorf("clip seg0.m4s = %q, want the source's seg1", got)
	}
	if got := read(clip.ID, "init0.mp4"); got != "INIT0" {
		t.Errorf("clip init0.mp4 = %q", got)
	}
	if _, err := r.Open(t.Context(), clip.ID, "seg3.m4s"); !errors.Is(err, ErrNotFound) {
		t.Errorf("clip seg3.m4s: %v, want ErrNotFound", err)
	}
	// the source goes; the clip still plays from the source's files
	if err := r.Delete(t.Context(), src.ID); err != nil {
		t.Fatal(err)
	}
	if got := read(clip.ID, "seg2.m4s"); got != "moofmdat3" {
		t.Fatalf("clip after its source was deleted: seg2.m4s = %q", got)
	}
	// every clip goes: the files go
	vs, _, _ := f.st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10})
	for _, v := range vs {
		if err := r.Delete(t.Context(), v.ID); err != nil {
			t.Fatal(err)
		}
	}
	if objs, _ := f.blobs.List(t.Context(), "videos/"); len(objs) != 0 {
		t.Fatalf("files left: %v", objs)
	}
}

// TestRecorderStartRendition: a broadcast started with another rendition
// (a VP8/VP9 stream has no "source", its top transcoded rung stands for
// it) records that rendition's segments only; the next broadcast started
// with Start records "source" again.
func TestRecorderStartRendition(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.StartRendition("li_1", []store.VideoTrack{{Kind: "video", Codec: "h264", Width: 320, Height: 240}}, "240p")
	for i := range uint64(3) {
		s := seg(i, 0)
		s.Rendition = "240p"
		r.Segment("li_1", s)
		other := seg(i, 1)
		other.Rendition = "160p" // a lower rung: not recorded
		r.Segment("li_1", other)
	}
	f.bus.wait(t, events.RecordingStarted)
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	v := onlyVideo(t, f.st)
	if v.Status != store.VideoReady || v.Segments != 3 || v.Tracks[0].Codec != "h264" || v.Tracks[0].Height != 240 {
		t.Fatalf("video: %+v", v)
	}
	if err := r.Delete(t.Context(), v.ID); err != nil {
		t.Fatal(err)
	}
	f.bus.wait(t, events.VideoDeleted)

	r.Start("li_1", nil)
	s := seg(0, 0)
	s.Rendition = "240p"
	r.Segment("li_1", s) // no longer the recorded rendition
	r.Segment("li_1", seg(1, 0))
	f.bus.wait(t, events.RecordingStarted)
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	if v := onlyVideo(t, f.st); v.Segments != 1 {
		t.Fatalf("second broadcast: %d segments, want the one source segment", v.Segments)
	}
}
