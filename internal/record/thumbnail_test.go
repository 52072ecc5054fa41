package record

import (
	"bufio"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/store"
)

func TestParseThumbnailQuery(t *testing.T) {
	for _, tt := range []struct {
		q     string
		at    time.Duration
		width int
	}{
		{"", -1, 0},
		{"token=abc", -1, 0},
		{"time=0", 0, 0},
		{"time=12", 12 * time.Second, 0},
		{"time=12.999", 12 * time.Second, 0},
		{"time=0.5&width=16", 0, 160},
		{"width=159", -1, 160},
		{"width=160", -1, 160},
		{"width=333", -1, 320},
		{"width=639", -1, 480},
		{"width=1919", -1, 1280},
		{"width=3840", -1, 3840},
		{"time=9999999", 9999999 * time.Second, 0},
	} {
		got, err := ParseThumbnailQuery(mustQuery(t, tt.q))
		if err != nil || got.At != tt.at || got.Width != tt.width {
			t.Errorf("ParseThumbnailQuery(%q) = %+v, %v; want at %v width %d", tt.q, got, err, tt.at, tt.width)
		}
	}
	for _, q := range []string{
		"time=NaN", "time=nan", "time=Inf", "time=%2BInf", "time=-Inf", "time=infinity", "time=-1", "time=-0", "time=%2B1",
		"time=1e3", "time=0x10", "time=0x1p3", "time=1,5", "time=", "time=.5", "time=5.", "time=%201", "time=1%20",
		"time=10000000", "time=99999999999999999999", "time=1&time=2", "time=1.1234567890",
		"width=", "width=abc", "width=0", "width=15", "width=3841", "width=99999", "width=NaN", "width=3.5", "width=-320",
		"width=%2B320", "width=0320x", "width=320&width=640", "width=1e3",
	} {
		if got, err := ParseThumbnailQuery(mustQuery(t, q)); !errors.Is(err, ErrBadQuery) {
			t.Errorf("ParseThumbnailQuery(%q) = %+v, %v; want ErrBadQuery", q, got, err)
		}
	}
}

func mustQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", q, err)
	}
	return v
}

// FuzzParseThumbnailQuery: any query either fails with ErrBadQuery or
// gives a whole-second time within bounds (or the default) and a width of
// the fixed set (or the video's own).
func FuzzParseThumbnailQuery(f *testing.F) {
	for _, s := range []string{"time=1.5&width=333", "time=NaN", "width=16", "time=9999999", "time=1&time=2", "token=x&time=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		tq, err := ParseThumbnailQuery(q)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("%q: error %v is not ErrBadQuery", raw, err)
			}
			return
		}
		if tq.At != -1 && (tq.At < 0 || tq.At%time.Second != 0 || tq.At > MaxThumbnailSeconds*time.Second) {
			t.Fatalf("%q: time %v", raw, tq.At)
		}
		if tq.Width != 0 && !slices.Contains(ThumbnailWidths(), tq.Width) {
			t.Fatalf("%q: width %d", raw, tq.Width)
		}
	})
}

// thumbFixture indexes secs seconds of synthesized 640x360 media as a
// ready video and returns a recorder with ffmpeg on acct.
func thumbFixture(t *testing.T, secs int, acct *ffmpeg.Account, maxThumbs int) (*fixture, *Recorder, string) {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	src := t.TempDir()
	synthesize(t, ff, src, secs)
	f := newFixture(t, store.RecordingAutomatic)
	r, err := New(Config{Videos: f.st.Videos(), LiveInputs: f.st.LiveInputs(), Blobs: f.blobs, Bus: f.bus, FFmpeg: ff,
		Capacity: acct, MaxThumbnails: maxThumbs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	ctx := t.Context()
	now := time.Now().UTC()
	v := &store.Video{ID: NewVideoID(now), LiveInputID: "li_1", Status: store.VideoReady, CreatedAt: now, StartedAt: now, UpdatedAt: now,
		Meta: map[string]any{}, DownloadStatus: store.DownloadNone}
	if err := f.st.Videos().Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	put := func(key, file string) int64 {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.blobs.Put(ctx, key, strings.NewReader(string(b)), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		return int64(len(b))
	}
	initKey := InitKey(v.ID, 0)
	put(initKey, filepath.Join(src, "init.mp4"))
	pl, err := os.Open(filepath.Join(src, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var dur time.Duration
	var seq int64
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		l := sc.Text()
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			x, _ := strconv.ParseFloat(strings.TrimSuffix(d, ","), 64)
			dur = time.Duration(x * float64(time.Second))
			continue
		}
		if !strings.HasSuffix(l, ".m4s") {
			continue
		}
		key := SegmentKey(v.ID, seq)
		n := put(key, filepath.Join(src, l))
		if err := f.st.Videos().AddSegment(ctx, &store.VideoSegment{VideoID: v.ID, Seq: seq, Duration: dur, InitKey: initKey, Key: key, Size: n}); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	return f, r, v.ID
}

// storedThumbs counts the on-demand thumbnail files of video id and their
// bytes.
func storedThumbs(t *testing.T, f *fixture, id string) (keys []string, bytes int64) {
	t.Helper()
	objs, err := f.blobs.List(t.Context(), Prefix(id)+"thumb-")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		keys = append(keys, o.Key)
		bytes += o.Size
	}
	return keys, bytes
}

// TestThumbnailsBounded: 40 requests with distinct times (ms) and widths
// store a bounded number of files: times are truncated to the second,
// widths rounded down to the fixed set, and past the cap the least
// recently used file goes (one served again stays).
func TestThumbnailsBounded(t *testing.T) {
	t.Parallel()
	acct, _ := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: 100})
	f, r, id := thumbFixture(t, 4, acct, 6)
	ctx := t.Context()
	// the same quantized pair: one file
	for _, q := range [][2]int{{1000, 320}, {1001, 321}, {1999, 479}} {
		if _, err := r.Thumbnail(ctx, id, time.Duration(q[0])*time.Millisecond, q[1]); err != nil {
			t.Fatal(err)
		}
	}
	if keys, _ := storedThumbs(t, f, id); len(keys) != 1 {
		t.Fatalf("3 requests within one second and one width band stored %v", keys)
	}
	first, err := r.Thumbnail(ctx, id, 1500*time.Millisecond, 400)
	if err != nil {
		t.Fatal(err)
	}
	widths := []int{16, 100, 200, 333, 500, 640, 700, 1000, 1234, 2000}
	for i := range 40 {
		at := time.Duration(i*97) * time.Millisecond // 0 to 3.8 s
		if _, err := r.Thumbnail(ctx, id, at, widths[i%10]+i); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Thumbnail(ctx, id, 1500*time.Millisecond, 400); err != nil { // served again: recently used
			t.Fatal(err)
		}
	}
	keys, size := storedThumbs(t, f, id)
	t.Logf("41 distinct time x width requests: %d files, %d bytes", len(keys), size)
	if len(keys) > 6 {
		t.Fatalf("%d thumbnail files, want at most the cap 6: %v", len(keys), keys)
	}
	if !slices.Contains(keys, first) {
		t.Fatalf("the most recently used thumbnail %s was evicted: %v", first, keys)
	}
	for _, k := range keys {
		// thumb-SECONDS-WIDTH.jpg with a width of the set
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(k, Prefix(id)+"thumb-"), ".jpg"), "-")
		w, _ := strconv.Atoi(parts[len(parts)-1])
		if len(parts) != 2 || !slices.Contains(ThumbnailWidths(), w) {
			t.Errorf("thumbnail key %s is not quantized", k)
		}
	}
}

// TestThumbnailBusy: with the on-demand share of the ffmpeg capacity in
// use, a thumbnail is refused at once with ErrBusy and nothing is stored.
func TestThumbnailBusy(t *testing.T) {
	t.Parallel()
	acct, _ := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: 16}) // on-demand share: 4 units, one thumbnail
	f, r, id := thumbFixture(t, 2, acct, 0)
	held, err := acct.Take(ffmpeg.OnDemand, ffmpeg.ThumbnailUnits)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = r.Thumbnail(ctx, id, time.Second, 320)
	if !errors.Is(err, ErrBusy) || !errors.Is(err, ffmpeg.ErrCapacity) {
		t.Fatalf("Thumbnail at capacity = %v, want ErrBusy", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("refused after %v, not at once", el)
	}
	if keys, _ := storedThumbs(t, f, id); len(keys) != 0 {
		t.Fatalf("stored %v while refused", keys)
	}
	held.Release()
	if _, err := r.Thumbnail(ctx, id, time.Second, 320); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if acct.Used() != 0 {
		t.Errorf("the thumbnail's units were not released: %v", acct.Used())
	}
	// past the end of the video
	if _, err := r.Thumbnail(ctx, id, time.Hour, 0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("a time past the end: %v", err)
	}
}
