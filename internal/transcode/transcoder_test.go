package transcode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// sourceUnits encodes a small test clip with ffmpeg (320x240 30 fps H.264
// with B-frames, key frame every second, AAC) and returns its tracks and
// units, read back with the rung reader.
func sourceUnits(t *testing.T, seconds int) ([]stream.Track, []*stream.Unit) {
	return clipUnits(t, seconds, "libx264")
}

// clipUnits is sourceUnits with the video encoder chosen (libx264 or
// libx265).
func clipUnits(t *testing.T, seconds int, encoder string) ([]stream.Track, []*stream.Unit) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	p := filepath.Join(t.TempDir(), "src.ts")
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
		"-c:v", encoder, "-preset", "veryfast", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p"}
	if encoder == "libx265" {
		args = append(args, "-x265-params", "log-level=error")
	}
	args = append(args, "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", p)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr := newTSRungReader(f, slog.New(slog.DiscardHandler))
	var tracks []stream.Track
	var units []*stream.Unit
	haveV, haveA := false, false
	wall := time.Now()
	for {
		x, err := fr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if x.Video && !haveV {
			tracks, haveV = append([]stream.Track{{Codec: x.Codec}}, tracks...), true
		} else if !x.Video && !haveA {
			tracks, haveA = append(tracks, stream.Track{Codec: x.Codec}), true
		}
		// shift the timeline: sources rarely start at 0
		u := &stream.Unit{DTS: x.DTS + 5*time.Second, PTS: x.PTS + 5*time.Second, Key: x.Key, NALUs: x.NALUs, Data: x.Data, Wall: wall.Add(x.DTS)}
		if !x.Video {
			u.Track = 1
		}
		units = append(units, u)
	}
	if !haveV || !haveA {
		t.Fatalf("clip: video %v audio %v", haveV, haveA)
	}
	if tracks[0].Kind() != stream.KindVideo {
		t.Fatal("the clip's video is not track 0")
	}
	return tracks, units
}

type fakeOutput struct {
	mu    sync.Mutex
	rends map[string]*fakeRend
}

type fakeRend struct {
	tracks  []stream.Track
	units   []*stream.Unit
	removed bool
}

// fakeWriter is a rendition of fakeOutput.
type fakeWriter struct {
	o *fakeOutput
	r *fakeRend
}

func (w fakeWriter) Write(u *stream.Unit) error {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	w.r.units = append(w.r.units, u)
	return nil
}

// Remove implements RenditionRemover.
func (w fakeWriter) Remove() {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	w.r.removed = true
}

func (o *fakeOutput) removed(name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rends[name] != nil && o.rends[name].removed
}

func (o *fakeOutput) AddRendition(_, name string, tracks []stream.Track) (RenditionWriter, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rends == nil {
		o.rends = map[string]*fakeRend{}
	}
	r := &fakeRend{tracks: tracks}
	o.rends[name] = r
	return fakeWriter{o, r}, nil
}

func (o *fakeOutput) get(name string) (tracks []stream.Track, units []*stream.Unit) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rends[name]
	if r == nil {
		return nil, nil
	}
	return r.tracks, append([]*stream.Unit(nil), r.units...)
}

var testProfiles = []Profile{
	{Name: "360p", Height: 360, Bitrate: 700_000, MaxFPS: 30, Codec: "h264"},
	{Name: "180p", Height: 180, Bitrate: 300_000, MaxFPS: 30, Codec: "h264"},
	{Name: "120p", Height: 120, Bitrate: 150_000, MaxFPS: 30, Codec: "h264"},
}

// TestTranscodeX264 runs the real libx264 ladder: the rungs come back on the
// source's timeline with key frames on the source's key frames, at their
// heights, with AAC audio; a killed ffmpeg is restarted.
func TestTranscodeX264(t *testing.T) {
	tracks, units := sourceUnits(t, 8)
	out := &fakeOutput{}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := New(Config{Output: out, Profiles: testProfiles, Metrics: m, Backoff: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	s := pub.Stream()
	sink := tc.Sink(s, []string{"360p", "180p", "120p"})
	r := s.AddReader("transcode", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx, r) }()

	srcKeys := map[time.Duration]bool{}
	start := time.Now()
	killed := false
	for i, u := range units {
		if u.Track == 0 && u.Key {
			srcKeys[u.DTS] = true
		}
		// pace at 2x real time so ffmpeg keeps up on a shared machine
		if d := (u.DTS - units[0].DTS) / 2; time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		if !killed && i > len(units)/2 {
			if pid := sink.PID(); pid != 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killed = true
			}
		}
		pub.Write(u)
	}
	pub.End()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !killed {
		t.Fatal("ffmpeg was never running")
	}
	if got := metricValue(m.restarts.WithLabelValues("li")); got != 1 {
		t.Errorf("restarts = %v, want 1", got)
	}
	if _, u := out.get("360p"); u != nil {
		t.Error("360p rung above the 240p source was not skipped")
	}
	for _, tt := range []struct {
		name string
		w, h int
	}{{"180p", 240, 180}, {"120p", 160, 120}} {
		tr, us := out.get(tt.name)
		if len(tr) != 2 {
			t.Fatalf("%s: tracks %v, want video and audio", tt.name, tr)
		}
		var sps h264.SPS
		if err := sps.Unmarshal(tr[0].Codec.(stream.H264).SPS); err != nil {
			t.Fatal(err)
		}
		if sps.Width() != tt.w || sps.Height() != tt.h {
			t.Errorf("%s: %dx%d, want %dx%d", tt.name, sps.Width(), sps.Height(), tt.w, tt.h)
		}
		if _, ok := tr[1].Codec.(stream.AAC); !ok {
			t.Errorf("%s: audio %T, want AAC", tt.name, tr[1].Codec)
		}
		var video, keys, misaligned int
		for _, u := range us {
			if u.Track != 0 {
				continue
			}
			video++
			if u.Key {
				keys++
				if !srcKeys[u.DTS.Round(time.Millisecond)] && !srcKeys[u.DTS] {
					misaligned++
				}
			}
		}
		if video < 100 {
			t.Errorf("%s: %d video frames, want most of 240", tt.name, video)
		}
		if keys < 4 || misaligned > 0 {
			t.Errorf("%s: %d key frames, %d not on a source key frame", tt.name, keys, misaligned)
		}
		first := us[0]
		for _, u := range us {
			if u.Track == 0 {
				first = u
				break
			}
		}
		t.Logf("%s: first video DTS %v PTS %v, %d video frames, %d key frames", tt.name, first.DTS, first.PTS, video, keys)
		if d := first.DTS - units[0].DTS; d < 0 || d > 2*time.Second {
			t.Errorf("%s: first DTS %v, source starts at %v: not on the source timeline", tt.name, first.DTS, units[0].DTS)
		}
	}
	if metricValue(m.encoder.WithLabelValues("libx264")) != 1 {
		t.Error("encoder info metric not set")
	}
}

// gathered is the value of the unlabelled metric name in reg, -1 when
// there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			if g := mf.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	return -1
}

func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	return -1
}

// TestCapacity: with room for one 180p ladder (240x180 at 30 fps: 1.3
// units) in 2 units, a second transcoded stream runs passthrough-only and
// is reported as transcode.capacity_exceeded; the units and the metrics
// follow.
func TestCapacity(t *testing.T) {
	tracks, _ := sourceUnits(t, 1)
	type report struct{ id, code string }
	reports := make(chan report, 4)
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg)
	fm, err := ffmpeg.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: 2, Metrics: fm})
	if err != nil {
		t.Fatal(err)
	}
	used := func() float64 { return gathered(t, reg, "mpegflow_transcode_capacity_used_units") }
	tc, err := New(Config{Output: &fakeOutput{}, Profiles: testProfiles, Account: acct, Metrics: m,
		OnError: func(id, code, _ string) { reports <- report{id, code} }})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p1, _ := hub.Publish("a", tracks, false)
	p2, _ := hub.Publish("b", tracks, false)
	r1 := p1.Stream().AddReader("t", stream.ReaderOptions{})
	r2 := p2.Stream().AddReader("t", stream.ReaderOptions{})
	done1 := make(chan error, 1)
	go func() { done1 <- tc.Sink(p1.Stream(), []string{"180p"}).Run(ctx, r1) }()
	waitUntil(t, func() bool { return tc.Active() == 1 })
	const want = 240 * 180 * 30 / 1e6
	if u := tc.Used(); u < want-0.01 || u > want+0.01 {
		t.Errorf("Used = %v units, want %v", u, want)
	}
	if g := used(); g != tc.Used() {
		t.Errorf("capacity_used_units = %v, want %v", g, tc.Used())
	}
	if err := tc.Sink(p2.Stream(), []string{"180p"}).Run(ctx, r2); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reports:
		if r != (report{"b", CodeCapacityExceeded}) {
			t.Fatalf("report %+v", r)
		}
	default:
		t.Fatal("no capacity_exceeded report")
	}
	// the stand-in rung for WebRTC: the running ladder's top rung; why not
	// for the others
	if rung, err := tc.Standin(ctx, onSettings{}, p1.Stream()); rung != "180p" || err != nil {
		t.Errorf("Standin(a) = %q, %v; want 180p", rung, err)
	}
	if _, err := tc.Standin(ctx, onSettings{}, p2.Stream()); !errors.Is(err, ErrAtCapacity) {
		t.Errorf("Standin(b) = %v, want ErrAtCapacity", err)
	}
	p3, _ := hub.Publish("c", tracks, false)
	if _, err := tc.Standin(ctx, onSettings{"c": "off"}, p3.Stream()); !errors.Is(err, ErrNotTranscoded) {
		t.Errorf("Standin(c) = %v, want ErrNotTranscoded", err)
	}
	// on, but its sink not made yet (the graph is being built): it waits
	early := make(chan error, 1)
	go func() {
		_, err := tc.Standin(ctx, onSettings{}, p3.Stream())
		early <- err
	}()
	// a ladder with no rung below the 320x240 source
	if err := tc.Sink(p3.Stream(), []string{"360p"}).Run(ctx, p3.Stream().AddReader("t", stream.ReaderOptions{})); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Standin(ctx, onSettings{}, p3.Stream()); !errors.Is(err, ErrNoRung) {
		t.Errorf("Standin(c, no rung) = %v, want ErrNoRung", err)
	}
	if err := <-early; !errors.Is(err, ErrNoRung) {
		t.Errorf("Standin(c) called before its sink = %v, want ErrNoRung", err)
	}
	p3.End()
	p1.End()
	p2.End()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	if tc.Active() != 0 || tc.Used() != 0 || used() != 0 {
		t.Fatalf("Active = %d, Used = %v, gauge %v after the stream ended", tc.Active(), tc.Used(), used())
	}
	if got := metricValue(m.refused); got != 1 {
		t.Errorf("capacity_exceeded_total = %v, want 1", got)
	}
}

// onSettings are live inputs' transcode modes by id; "on" when absent.
type onSettings map[string]string

func (o onSettings) Get(_ context.Context, id string) (*store.LiveInput, error) {
	mode, ok := o[id]
	if !ok {
		mode = modeOn
	}
	return &store.LiveInput{Transcode: store.TranscodeSetting{Mode: mode}}, nil
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("condition never met")
}

// TestTranscodeSourceDiscontinuity: when the publisher reconnects and the
// source timeline restarts, ffmpeg is restarted on the new timeline (not
// counted as a failure) and the rungs carry the discontinuity.
func TestTranscodeSourceDiscontinuity(t *testing.T) {
	tracks, units := sourceUnits(t, 3)
	out := &fakeOutput{}
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg)
	tc, err := New(Config{Output: out, Profiles: testProfiles, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, _ := hub.Publish("li", tracks, false)
	s := pub.Stream()
	r := s.AddReader("transcode", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tc.Sink(s, []string{"120p"}).Run(ctx, r) }()
	start := time.Now()
	pace := func(i int, d time.Duration) {
		if w := d / 2; time.Since(start) < w {
			time.Sleep(w - time.Since(start))
		}
	}
	for i, u := range units {
		pace(i, u.DTS-units[0].DTS)
		pub.Write(u)
	}
	// the publisher reconnects: the timeline restarts near 0
	seen := map[int]bool{}
	shift := units[len(units)-1].DTS + 40*time.Millisecond
	for i, u := range units {
		pace(i, shift+u.DTS-2*units[0].DTS)
		v := *u
		v.DTS, v.PTS = u.DTS-5*time.Second, u.PTS-5*time.Second
		if !seen[u.Track] {
			v.Discontinuity, seen[u.Track] = true, true
		}
		pub.Write(&v)
	}
	pub.End()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, us := out.get("120p")
	var video, discs int
	for _, u := range us {
		if u.Track == 0 {
			video++
		}
		if u.Discontinuity {
			discs++
		}
	}
	if discs != 1 || video < 150 {
		t.Errorf("%d video frames, %d discontinuities; want most of 180 and 1", video, discs)
	}
	if got := metricValue(m.restarts.WithLabelValues("li")); got != 0 {
		t.Errorf("restarts = %v, want 0 (a discontinuity is not a failure)", got)
	}
}

// TestTranscodeX265: a real libx265 rung at a small size comes back as
// H.265 (the packager's hvc1) through the MPEG-TS reader, at its size, on
// the source's timeline, with key frames on the source's.
func TestTranscodeX265(t *testing.T) {
	tracks, units := sourceUnits(t, 4)
	out := &fakeOutput{}
	profiles := []Profile{{Name: "180p-hevc", Height: 180, Bitrate: 250_000, MaxFPS: 30, Codec: "hevc"}}
	tc, err := New(Config{Output: out, Profiles: profiles, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, err := hub.Publish("li", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	s := pub.Stream()
	r := s.AddReader("transcode", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tc.Sink(s, []string{"180p-hevc"}).Run(ctx, r) }()
	srcKeys := map[time.Duration]bool{}
	srcWall := map[time.Duration]time.Time{}
	start := time.Now()
	wall0 := time.Now()
	for _, u := range units {
		// the publisher's clock runs 1 % slow against the server's: rung
		// frames must carry the source frames' wall-clock, not one
		// extrapolated from media time
		u.Wall = wall0.Add((u.DTS - units[0].DTS) * 101 / 100)
		if u.Track == 0 && u.Key {
			srcKeys[u.DTS] = true
			srcWall[u.DTS] = u.Wall
		}
		if d := (u.DTS - units[0].DTS) / 2; time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		pub.Write(u)
	}
	pub.End()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tr, us := out.get("180p-hevc")
	if len(tr) != 2 {
		t.Fatalf("tracks %v, want video and audio", tr)
	}
	c, ok := tr[0].Codec.(stream.H265)
	if !ok {
		t.Fatalf("video codec %T, want H.265", tr[0].Codec)
	}
	var sps h265.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		t.Fatal(err)
	}
	if sps.Width() != 240 || sps.Height() != 180 {
		t.Errorf("%dx%d, want 240x180", sps.Width(), sps.Height())
	}
	var video, keys, misaligned int
	for _, u := range us {
		if u.Track != 0 {
			continue
		}
		video++
		if u.Key {
			keys++
			if !srcKeys[u.DTS] {
				misaligned++
			} else if !u.Wall.Equal(srcWall[u.DTS]) {
				t.Errorf("key frame at %v: wall-clock %v, the source's %v", u.DTS, u.Wall, srcWall[u.DTS])
			}
		}
		if u.PTS < u.DTS {
			t.Fatalf("PTS %v before DTS %v", u.PTS, u.DTS)
		}
	}
	t.Logf("%d video frames, %d key frames", video, keys)
	if video < 90 || keys < 3 || misaligned > 0 {
		t.Errorf("%d video frames (of 120), %d key frames, %d not on a source key frame", video, keys, misaligned)
	}
}

// TestTranscodeGivesUp: an ffmpeg that keeps failing after its rendition
// went live is given up after MaxFailures runs: the input is reported
// transcode_failed, the rung's rendition is removed from the packager
// (players leave it for the source), and the sink returns while the source
// goes on.
func TestTranscodeGivesUp(t *testing.T) {
	tracks, units := sourceUnits(t, 6)
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	dir := t.TempDir()
	// the real ffmpeg on the first run, then an ffmpeg that dies at once
	script := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nif [ -e "+dir+"/ran ]; then echo 'Error: broken on purpose' >&2; exit 1; fi\ntouch "+dir+"/ran\nexec "+ffmpeg+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := &fakeOutput{}
	reports := make(chan string, 4)
	tc, err := New(Config{FFmpeg: script, Output: out, Profiles: testProfiles, Backoff: 10 * time.Millisecond, MaxFailures: 3,
		OnError: func(_, code, _ string) { reports <- code }})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubConfig{})
	pub, _ := hub.Publish("li", tracks, false)
	s := pub.Stream()
	r := s.AddReader("transcode", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sink := tc.Sink(s, []string{"120p"})
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx, r) }()
	start := time.Now()
	killed := false
	for _, u := range units {
		if d := (u.DTS - units[0].DTS) / 2; time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		if _, us := out.get("120p"); !killed && len(us) > 30 {
			if pid := sink.PID(); pid != 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				killed = true
			}
		}
		pub.Write(u)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the sink did not give up")
	}
	if _, err := tc.Standin(ctx, onSettings{}, s); !errors.Is(err, ErrNoRung) {
		t.Errorf("Standin after giving up = %v, want ErrNoRung", err)
	}
	pub.End()
	if !killed {
		t.Fatal("the rung never went live")
	}
	select {
	case code := <-reports:
		if code != CodeFailed {
			t.Errorf("reported %q, want %q", code, CodeFailed)
		}
	default:
		t.Error("no transcode_failed report")
	}
	if !out.removed("120p") {
		t.Error("the rung's rendition was not removed")
	}
	if tc.Active() != 0 || tc.Used() != 0 {
		t.Errorf("capacity not released: %d ladders, %v units", tc.Active(), tc.Used())
	}
}
