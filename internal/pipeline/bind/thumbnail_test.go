package bind

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestThumbnailSchedule: one picture per period of stream time, taken at
// the first key frame due; other tracks and non-key frames never.
func TestThumbnailSchedule(t *testing.T) {
	const every = 2 * time.Second
	type in struct {
		track int
		key   bool
		dts   time.Duration
	}
	units := []in{
		{1, true, 0}, // audio
		{0, false, 0},
		{0, true, 500 * time.Millisecond}, // first key frame: taken
		{0, true, time.Second},            // not due
		{0, false, 2600 * time.Millisecond},
		{0, true, 2400 * time.Millisecond}, // due at 2.5 s: not yet
		{0, true, 2500 * time.Millisecond}, // taken
		{0, true, 9 * time.Second},         // taken (a gap: the next one is due 2 s later)
		{0, true, 10 * time.Second},
		{0, true, 11 * time.Second}, // taken
		{0, true, 12 * time.Second},
		{0, true, 500 * time.Millisecond}, // the timeline started again: taken
		{0, true, time.Second},
		{0, true, 2500 * time.Millisecond}, // taken
	}
	var got []time.Duration
	var next time.Duration
	first := true
	for _, x := range units {
		due, after := schedule(&stream.Unit{Track: x.track, Key: x.key, DTS: x.dts}, 0, next, every, first)
		if due {
			got = append(got, x.dts)
			first, next = false, after
		}
	}
	want := []time.Duration{500 * time.Millisecond, 2500 * time.Millisecond, 9 * time.Second, 11 * time.Second,
		500 * time.Millisecond, 2500 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("taken at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("taken at %v, want %v", got, want)
		}
	}
}

// TestThumbnailKeep: a node's directory keeps its newest images only;
// Latest picks the newest of every node of the live input.
func TestThumbnailKeep(t *testing.T) {
	th, err := NewThumbnails(ThumbnailsConfig{Dir: t.TempDir(), FFmpeg: "ffmpeg"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := th.Latest("li_a"); err != ErrNoThumbnail {
		t.Fatalf("no image yet: %v", err)
	}
	a := filepath.Join(th.cfg.Dir, "li_a", "thumbs")
	b := filepath.Join(th.cfg.Dir, "li_a", "other")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 7; i++ {
		name := strconv.Itoa(1000+i) + ".jpg"
		if err := os.WriteFile(filepath.Join(a, name), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := prune(a, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(b, "1005.jpg"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := images(a); len(got) != 3 || got[0] != "1005.jpg" || got[2] != "1007.jpg" {
		t.Fatalf("kept %v", got)
	}
	p, _, err := th.Latest("li_a")
	if err != nil || p != filepath.Join(a, "1007.jpg") {
		t.Fatalf("latest %q %v", p, err)
	}
	for _, bad := range []string{"../x", "", "li_a/../../etc"} {
		if _, _, err := th.Latest(bad); err != ErrNoThumbnail {
			t.Fatalf("Latest(%q): %v", bad, err)
		}
	}
}

// TestThumbnailMake decodes a real key frame (H.264 and VP8 made by
// ffmpeg) into a JPEG through the one ffmpeg supervisor and its capacity.
func TestThumbnailMake(t *testing.T) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	t.Parallel()
	acct, err := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: 100})
	if err != nil {
		t.Fatal(err)
	}
	th, err := NewThumbnails(ThumbnailsConfig{Dir: t.TempDir(), FFmpeg: ff, Capacity: acct})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		codec stream.Codec
		unit  func(b []byte) *stream.Unit
	}{
		{"h264", []string{"-c:v", "libx264", "-f", "h264"}, stream.H264{}, func(b []byte) *stream.Unit {
			return &stream.Unit{Key: true, NALUs: splitAnnexB(b)}
		}},
		{"vp8", []string{"-c:v", "libvpx", "-f", "ivf"}, stream.VP8{Width: 320, Height: 240}, func(b []byte) *stream.Unit {
			return &stream.Unit{Key: true, NALUs: [][]byte{b[32+12:]}} // the one frame of the IVF file
		}},
	} {
		out := filepath.Join(src, tc.name)
		args := append([]string{"-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=1", "-frames:v", "1"}, tc.args...)
		if b, err := exec.Command(ff, append(args, out)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: make the frame: %v %s", tc.name, err, b)
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		node := &thumbnail{t: th, id: tc.name, dir: filepath.Join(th.cfg.Dir, "li_a", tc.name), keep: 2, width: 160,
			codec: tc.codec, log: th.log, r: nil}
		if err := os.MkdirAll(node.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		frame, err := elementary(tc.codec, tc.unit(raw))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			node.make(context.Background(), picture{frame: frame, format: demuxer(tc.codec)})
		}
		if node.made.Load() != 3 || node.LastError() != "" {
			t.Fatalf("%s: made %d, last error %q", tc.name, node.made.Load(), node.LastError())
		}
		imgs := images(node.dir)
		if len(imgs) != 2 {
			t.Fatalf("%s: kept %v", tc.name, imgs)
		}
		b, err := os.ReadFile(filepath.Join(node.dir, imgs[1]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() != 160 {
			t.Fatalf("%s: not a 160 px JPEG: %v", tc.name, err)
		}
	}
	if acct.Used() != 0 {
		t.Fatalf("capacity not released: %v", acct.Used())
	}
}

// splitAnnexB splits an Annex B byte stream into NAL units.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			out = append(out, b)
			break
		}
		if i > 0 {
			out = append(out, bytes.TrimRight(b[:i], "\x00"))
		}
		b = b[i+3:]
	}
	var nalus [][]byte
	for _, n := range out {
		if len(n) > 0 {
			nalus = append(nalus, n)
		}
	}
	return nalus
}

func TestElementaryRefuses(t *testing.T) {
	if _, err := elementary(stream.AV1{}, &stream.Unit{Key: true, NALUs: [][]byte{{1}}}); err == nil {
		t.Fatal("AV1 accepted")
	}
	if _, err := elementary(stream.H264{}, &stream.Unit{Key: true}); err == nil {
		t.Fatal("an empty frame accepted")
	}
}

// TestThumbnailsOfDeletedInputs: the images of a live input go with it:
// those of one deleted before the runtime starts at its start, those of
// one deleted while it runs on its live_input.deleted event; the images
// of a live input that exists stay.
func TestThumbnailsOfDeletedInputs(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	img := func(li string) string { return filepath.Join(dir, li, "thumbs", "0001.jpg") }
	for _, li := range []string{"li_kept", "li_gone", "li_later"} {
		if li != "li_gone" {
			if err := db.LiveInputs().Create(ctx, &store.LiveInput{ID: li, Name: li, StreamKeyHash: []byte(li), Enabled: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(img(li)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(img(li), []byte("jpeg"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	th, err := NewThumbnails(ThumbnailsConfig{Dir: dir, FFmpeg: "ffmpeg"})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	defer bus.Close()
	rt, err := New(Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Bus: bus, Thumbnails: th})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	gone := func(li string) bool {
		_, err := os.Stat(filepath.Join(dir, li))
		return os.IsNotExist(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !gone("li_gone") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone("li_gone") {
		t.Fatal("the images of a live input deleted before the start are still there")
	}
	if err := db.LiveInputs().Delete(ctx, "li_later"); err != nil {
		t.Fatal(err)
	}
	bus.Publish(events.New(events.LiveInputDeleted, "li_later", nil))
	for !gone("li_later") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone("li_later") {
		t.Fatal("the images of a live input deleted while running are still there")
	}
	if _, _, ok := th.Latest("li_kept"); ok != nil {
		t.Fatalf("the images of a live input that exists went: %v", ok)
	}
	if err := th.Forget("../x"); err != nil {
		t.Fatal(err)
	}
}
