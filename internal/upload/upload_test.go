package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

// fixture is a Service over a SQLite store and a local blob store.
type fixture struct {
	st    store.Store
	blobs blob.Store
	bus   *events.Bus
	svc   *Service
	dir   string
}

func tools(t *testing.T) (ff, fp string) {
	t.Helper()
	ff, err1 := exec.LookPath("ffmpeg")
	fp, err2 := exec.LookPath("ffprobe")
	if err1 != nil || err2 != nil {
		t.Skip("ffmpeg and ffprobe are needed")
	}
	return ff, fp
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	ff, fp := tools(t)
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
	f := &fixture{st: st, blobs: blobs, bus: events.NewBus(), dir: dir}
	cfg := Config{Videos: st.Videos(), Uploads: st.Uploads(), Blobs: blobs, Bus: f.bus, Dir: filepath.Join(dir, "uploads"),
		FFmpeg: ff, FFprobe: fp, Heartbeat: 200 * time.Millisecond, Guard: netguard.New(netguard.Config{AllowPrivate: true})}
	if mod != nil {
		mod(&cfg)
	}
	if f.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = f.svc.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		f.svc.Close()
	})
	return f
}

// media makes a test file with ffmpeg: secs seconds of size (WxH) video
// in codec, with AAC audio unless noAudio, in container ext.
func media(t testing.TB, secs int, size, vcodec string, audio bool, ext string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in."+ext)
	args := []string{"-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=25:duration=%d", size, secs)}
	if audio {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", secs), "-c:a", "aac")
	}
	args = append(args, "-c:v", vcodec)
	if vcodec == "libx264" {
		args = append(args, "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p")
	}
	args = append(args, p)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return p
}

// waitStatus waits until video id reaches a final status.
func (f *fixture) waitStatus(t *testing.T, id string, timeout time.Duration) *store.Video {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := f.st.Videos().Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status == store.VideoReady || v.Status == store.VideoErrored {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("video %s still %s after %v", id, v.Status, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkPlays asserts that the video's playlist and files decode.
func (f *fixture) checkPlays(t *testing.T, v *store.Video, minDur time.Duration) {
	t.Helper()
	segs, err := f.st.Videos().Segments(t.Context(), v.ID, 0, 0)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %d, %v", len(segs), err)
	}
	if v.Duration < minDur {
		t.Fatalf("duration %v, want at least %v", v.Duration, minDur)
	}
	// init + every segment concatenated is a fragmented MP4 ffmpeg decodes
	var all bytes.Buffer
	for i, s := range segs {
		if i == 0 {
			b, err := readBlob(t, f.blobs, s.InitKey)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		b, err := readBlob(t, f.blobs, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	p := filepath.Join(t.TempDir(), "all.mp4")
	if err := os.WriteFile(p, all.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", p, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("the video does not decode: %v\n%s", err, out)
	}
	// the source file is gone
	if _, err := f.blobs.Stat(t.Context(), sourceKey(v.ID)); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("source file after processing: %v", err)
	}
}

func TestPlainUploadRemuxedAndTranscoded(t *testing.T) {
	f := newFixture(t, nil)
	sub := f.bus.Subscribe(events.SubscribeOptions{Queue: 1024})
	defer sub.Close()
	cases := []struct {
		name, size, codec, ext string
		audio                  bool
		wantW, wantH           int
	}{
		{"h264_aac_remux", "320x240", "libx264", "mp4", true, 320, 240},
		{"mpeg4_no_audio_transcode", "320x180", "mpeg4", "mkv", false, 320, 180},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := media(t, 6, tc.size, tc.codec, tc.audio, tc.ext)
			fh, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			v, err := f.svc.CreatePlain(t.Context(), fh, Options{Meta: map[string]any{"name": tc.name}, Name: "in." + tc.ext})
			if err != nil {
				t.Fatal(err)
			}
			got := f.waitStatus(t, v.ID, 60*time.Second)
			if got.Status != store.VideoReady {
				t.Fatalf("status %s (%s: %s)", got.Status, got.ErrorCode, got.ErrorMessage)
			}
			f.checkPlays(t, got, 5*time.Second)
			if got.Tracks[0].Width != tc.wantW || got.Tracks[0].Height != tc.wantH || (len(got.Tracks) == 2) != tc.audio {
				t.Fatalf("tracks %+v", got.Tracks)
			}
			u, err := f.st.Uploads().Get(t.Context(), v.ID)
			if err != nil || u.PctComplete != 100 || u.NodeID != "" {
				t.Fatalf("upload after processing: %+v, %v", u, err)
			}
		})
	}
	// the events of a video, in order
	want := []events.Type{events.VideoUploadCreated, events.VideoUploadCompleted, events.VideoProcessing, events.VideoReady}
	seen := map[string][]events.Type{}
	for len(sub.C()) > 0 {
		ev := <-sub.C()
		id := ""
		switch d := ev.Data.(type) {
		case record.EventData:
			id = d.VideoID
		case Progress:
			id = d.VideoID
			if d.PctComplete < 0 || d.PctComplete > 100 {
				t.Errorf("progress %v", d.PctComplete)
			}
			continue // repeated, on the bus only
		}
		seen[id] = append(seen[id], ev.Type)
	}
	if len(seen) != 2 {
		t.Fatalf("events of %d videos: %v", len(seen), seen)
	}
	for id, ts := range seen {
		if fmt.Sprint(ts) != fmt.Sprint(want) {
			t.Errorf("events of %s: %v, want %v", id, ts, want)
		}
	}
}

func TestRefusedFiles(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PlainMaxSize = 1 << 20 })
	long := media(t, 8, "160x120", "libx264", false, "mp4")
	b, err := os.ReadFile(long)
	if err != nil {
		t.Fatal(err)
	}
	truncated := b[:len(b)/3]
	cases := []struct {
		name     string
		body     []byte
		maxDur   int64
		wantErr  error
		wantCode string
	}{
		{"text_called_mp4", []byte("hello, this is not a video\n"), 0, nil, CodeNotAVideo},
		{"zero_bytes", nil, 0, ErrEmpty, ""},
		{"over_the_limit", bytes.Repeat([]byte{0}, 1<<20+1), 0, ErrTooLarge, ""},
		{"duration_exceeded", b, 5, nil, CodeDurationExceeded},
		{"truncated", truncated, 0, nil, CodeNotAVideo},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.svc.CreatePlain(t.Context(), bytes.NewReader(tc.body), Options{MaxDurationSeconds: tc.maxDur})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := f.waitStatus(t, v.ID, 60*time.Second)
			if tc.name == "truncated" && got.Status == store.VideoReady {
				return // a truncated MP4 whose moov came first may still play what it has
			}
			if got.Status != store.VideoErrored || got.ErrorCode != tc.wantCode || got.ErrorMessage == "" {
				t.Fatalf("video %s %q %q, want errored %s", got.Status, got.ErrorCode, got.ErrorMessage, tc.wantCode)
			}
		})
	}
	// nothing is left behind in the receiving directories
	for _, d := range []string{filepath.Join(f.dir, "uploads", "tmp")} {
		if es, _ := os.ReadDir(d); len(es) != 0 {
			t.Errorf("%s holds %d files", d, len(es))
		}
	}
	if objs, _ := f.blobs.List(t.Context(), "uploads/"); len(objs) != 0 {
		t.Errorf("source files left: %v", objs)
	}
}

func TestCopyFromURL(t *testing.T) {
	in := media(t, 5, "160x120", "libx264", true, "mp4")
	mux := http.NewServeMux()
	mux.HandleFunc("/a.mp4", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, in) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/a.mp4", http.StatusFound) })
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/404", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("allowed_private", func(t *testing.T) {
		f := newFixture(t, nil)
		v, err := f.svc.CreateCopy(t.Context(), srv.URL+"/redirect", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != store.VideoDownloading {
			t.Fatalf("status %s", v.Status)
		}
		got := f.waitStatus(t, v.ID, 60*time.Second)
		if got.Status != store.VideoReady {
			t.Fatalf("status %s %s %s", got.Status, got.ErrorCode, got.ErrorMessage)
		}
		f.checkPlays(t, got, 4*time.Second)
		v, err = f.svc.CreateCopy(t.Context(), srv.URL+"/404", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.waitStatus(t, v.ID, 30*time.Second); got.ErrorCode != CodeDownloadFailed {
			t.Fatalf("404 source: %s %s", got.Status, got.ErrorCode)
		}
		v, err = f.svc.CreateCopy(t.Context(), srv.URL+"/a.mp4", Options{MaxSizeBytes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.waitStatus(t, v.ID, 30*time.Second); got.ErrorCode != CodeTooLarge {
			t.Fatalf("too large source: %s %s", got.Status, got.ErrorCode)
		}
	})
	t.Run("guarded", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.Guard = netguard.New(netguard.Config{}) })
		for _, u := range []string{srv.URL + "/a.mp4", "http://169.254.169.254/", "http://[::1]/x", "file:///etc/passwd", "http://localhost/x"} {
			if _, err := f.svc.CreateCopy(t.Context(), u, Options{}); !errors.Is(err, ErrForbiddenSource) {
				t.Errorf("%s: %v, want ErrForbiddenSource", u, err)
			}
		}
	})
	t.Run("redirect_hop_checked", func(t *testing.T) {
		// the first hop is allowed (a guard that lets only this server
		// through), the redirect to the metadata address is not
		g := hostGuard{allow: strings.TrimPrefix(srv.URL, "http://")}
		f := newFixture(t, func(c *Config) { c.Guard = g })
		v, err := f.svc.CreateCopy(t.Context(), srv.URL+"/to-metadata", Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := f.waitStatus(t, v.ID, 30*time.Second)
		if got.ErrorCode != CodeDownloadFailed || !strings.Contains(got.ErrorMessage, "refused") {
			t.Fatalf("redirect to a forbidden address: %s %s %q", got.Status, got.ErrorCode, got.ErrorMessage)
		}
	})
}

// hostGuard allows one host:port and refuses everything else, at the URL
// and at the dial; the production guard's decisions are netguard's tests.
type hostGuard struct{ allow string }

func (g hostGuard) CheckURL(_ context.Context, raw string) error {
	if !strings.HasPrefix(raw, "http://"+g.allow+"/") {
		return errors.New("not the test server")
	}
	return nil
}

func (g hostGuard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if address != g.allow {
		return nil, errors.New("not the test server")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// readBlob reads the object key.
func readBlob(t *testing.T, s blob.Store, key string) ([]byte, error) {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// TestCopyResumesAfterRestart: a copy interrupted by a stop of the
// service is claimed by the next run and done again from the start.
func TestCopyResumesAfterRestart(t *testing.T) {
	in := media(t, 4, "160x120", "libx264", true, "mp4")
	file, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(file)))
		if n == 1 { // the first copy stalls half way
			w.Write(file[:len(file)/2])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(file)
	}))
	defer srv.Close()
	defer close(release)
	f := newFixture(t, nil)
	v, err := f.svc.CreateCopy(t.Context(), srv.URL+"/a.mp4", Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		u, err := f.st.Uploads().Get(t.Context(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.ReceivedBytes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the copy never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.svc.Close()
	if u, _ := f.st.Uploads().Get(t.Context(), v.ID); u.NodeID != "" {
		t.Fatalf("the stopped copy keeps its lease: %+v", u)
	}
	cfg := f.svc.cfg
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s2.Run(context.Background()) }()
	defer func() { s2.Close(); <-done }()
	got := f.waitStatus(t, v.ID, 60*time.Second)
	if got.Status != store.VideoReady {
		t.Fatalf("status %s %s %s", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	f.checkPlays(t, got, 3*time.Second)
}

// brokenBody yields some bytes, then fails (a dropped connection, or a
// Content-Length larger than what was sent).
type brokenBody struct{ n int }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		k := min(len(p), b.n)
		b.n -= k
		return k, nil
	}
	return 0, io.ErrUnexpectedEOF
}

func TestPlainUploadIncompleteBody(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.svc.CreatePlain(t.Context(), &brokenBody{n: 5000}, Options{}); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err %v, want ErrIncomplete", err)
	}
	if es, _ := os.ReadDir(filepath.Join(f.dir, "blobs", ".tmp-work")); len(es) != 0 {
		t.Errorf("%d temporary files left", len(es))
	}
	if vs, _, err := f.st.Videos().List(t.Context(), store.VideoListOptions{Limit: 10}); err != nil || len(vs) != 0 {
		t.Errorf("videos %d, %v", len(vs), err)
	}
}

// Close while Run starts its workers: Run's WaitGroup.Add must never race
// Close's Wait (the race detector caught it in the daemon's shutdown).
func TestCloseWhileRunStarts(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 40 {
		s, err := New(f.svc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(context.Background()) }()
		time.Sleep(time.Duration(i%8) * 250 * time.Microsecond) // somewhere in Run's start
		s.Close()
		<-done
	}
}
