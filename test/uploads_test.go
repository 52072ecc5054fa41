package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postFile POSTs body as the file of a plain upload with Content-Type
// ctype and decodes the envelope.
func postFile(t *testing.T, d *daemon, token, ctype string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", d.URL("/v1/videos/upload"), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// uploadClip makes a secs-second 640x360 H.264+AAC MP4 with ffmpeg.
func uploadClip(t *testing.T, secs int, size string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=30:duration=%d", size, secs),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%d", secs),
		"-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return p
}

// tus sends one tus 1.0 request (no API token: the URL is the credential).
func tus(t *testing.T, method, u string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// cutPatch sends a PATCH announcing all of rest but sends only n bytes of
// it, then drops the connection: an upload interrupted mid-request.
func cutPatch(t *testing.T, u string, offset int, rest []byte, n int) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n",
		pu.RequestURI(), pu.Host, offset, len(rest))
	w.Write(rest[:n])
	w.Flush()
	time.Sleep(300 * time.Millisecond) // the server reads what was sent
	c.Close()
}

// headOffset is the Upload-Offset a HEAD reports.
func headOffset(t *testing.T, u string) int {
	t.Helper()
	res := tus(t, "HEAD", u, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s: %d", u, res.StatusCode)
	}
	n, err := strconv.Atoi(res.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("Upload-Offset %q", res.Header.Get("Upload-Offset"))
	}
	return n
}

// waitVideoReady waits for video id to be ready and checks that its HLS
// VOD playlist decodes with ffmpeg over HTTP.
func waitVideoReady(ctx context.Context, t *testing.T, d *daemon, admin, id string, minSecs float64) map[string]any {
	t.Helper()
	var v map[string]any
	waitFor(ctx, t, 120*time.Second, "video "+id+" ready", func() bool {
		st, r := apiCall(t, d, admin, "GET", "/v1/videos/"+id, nil)
		if st != http.StatusOK {
			return false
		}
		v = data(r)
		if v["status"] == "errored" {
			t.Fatalf("video %s errored: %v", id, v["error"])
		}
		return v["status"] == "ready"
	})
	if dur, _ := v["duration_seconds"].(float64); dur < minSecs {
		t.Fatalf("duration %v s, want at least %v", dur, minSecs)
	}
	pl := d.URL("/videos/" + id + "/index.m3u8")
	_, _, body := fetchBody(ctx, t, pl, nil)
	if rungs := variantURIs(body); len(rungs) > 0 { // a ladder: its best rung
		pl = d.URL("/videos/" + id + "/" + rungs[0])
		_, _, body = fetchBody(ctx, t, pl, nil)
	}
	if !strings.Contains(string(body), "#EXT-X-ENDLIST") || !strings.Contains(string(body), "#EXT-X-MAP") {
		t.Fatalf("not a VOD playlist of CMAF segments:\n%s", body)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Fatalf("the video does not decode: %v", err)
	}
	p := ffprobe(ctx, t, pl, "v")
	if p.Codec != "h264" || p.Duration < minSecs-1 {
		t.Fatalf("ffprobe of the VOD: %+v", p)
	}
	up := apiOK(t, d, admin, "GET", "/v1/videos/"+id+"/upload", nil, http.StatusOK)
	if up["pct_complete"] != 100.0 {
		t.Fatalf("upload after ready: %v", up)
	}
	return v
}

// variantURIs are the URIs of the variant streams of a multivariant
// playlist (none for a media playlist).
func variantURIs(pl []byte) []string {
	var out []string
	lines := strings.Split(string(pl), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") && i+1 < len(lines) {
			out = append(out, strings.TrimSpace(lines[i+1]))
		}
	}
	return out
}

// keyFrameTimes are the presentation times of the key frames of the
// first video track of file (a playlist URL), as ffprobe prints them.
func keyFrameTimes(ctx context.Context, t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
		"-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var kf []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ts, flags, _ := strings.Cut(l, ",")
		if strings.Contains(flags, "K") {
			kf = append(kf, ts)
		}
	}
	return kf
}

// TestUploadsLadder: a 720p upload becomes an adaptive VOD with the
// default profiles at or below its height (720p, 480p, 360p; no 1080p):
// the video's playlist is multivariant, each rung's media playlist
// decodes with ffmpeg at its size, and key frames fall on the same
// instants in every rung.
func TestUploadsLadder(t *testing.T) {
	e2eTest(t)
	requireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	admin, yaml := adminYAML()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: yaml})
	b, err := os.ReadFile(uploadClip(t, 10, "1280x720"))
	if err != nil {
		t.Fatal(err)
	}
	st, r := postFile(t, d, admin, "video/mp4", b)
	if st != http.StatusAccepted {
		t.Fatalf("plain upload: HTTP %d %v", st, r)
	}
	id := data(r)["id"].(string)
	var v map[string]any
	waitFor(ctx, t, 6*time.Minute, "video "+id+" ready", func() bool {
		_, r := apiCall(t, d, admin, "GET", "/v1/videos/"+id, nil)
		v = data(r)
		if v["status"] == "errored" {
			t.Fatalf("video %s errored: %v", id, v)
		}
		return v["status"] == "ready"
	})
	waitVideoReady(ctx, t, d, admin, id, 9)
	_, _, mv := fetchBody(ctx, t, d.URL("/videos/"+id+"/index.m3u8"), nil)
	rungs := variantURIs(mv)
	if strings.Join(rungs, " ") != "720p/index.m3u8 480p/index.m3u8 360p/index.m3u8" || !strings.Contains(string(mv), "RESOLUTION=1280x720") {
		t.Fatalf("multivariant playlist:\n%s", mv)
	}
	var first []string
	for i, rung := range rungs {
		u := d.URL("/videos/" + id + "/" + rung)
		if err := ffmpegDecodes(ctx, u); err != nil {
			t.Fatalf("%s does not decode: %v", rung, err)
		}
		p := ffprobe(ctx, t, u, "v")
		if want := []int{720, 480, 360}[i]; p.Codec != "h264" || p.Height != want || p.Duration < 9 {
			t.Fatalf("%s: %+v", rung, p)
		}
		if a := ffprobe(ctx, t, u, "a"); a.Codec != "aac" {
			t.Fatalf("%s audio: %+v", rung, a)
		}
		kf := keyFrameTimes(ctx, t, u)
		if i == 0 {
			first = kf
			if len(kf) < 3 {
				t.Fatalf("key frames of %s: %v", rung, kf)
			}
		} else if strings.Join(kf, " ") != strings.Join(first, " ") {
			t.Fatalf("key frames not aligned: %s %v, %s %v", rungs[0], first, rung, kf)
		}
	}
	tracks, _ := v["tracks"].([]any)
	if len(tracks) != 4 {
		t.Fatalf("tracks %v", tracks)
	}
	// the MP4 download and the thumbnail come from the best rung
	if st, _, _ := fetchBody(ctx, t, d.URL("/videos/"+id+"/thumbnail.jpg"), nil); st != http.StatusOK {
		t.Fatalf("thumbnail: HTTP %d", st)
	}
}

// TestUploadsTusResumeAcrossSIGKILL: a tus upload to a direct upload URL,
// interrupted mid-request, then the daemon SIGKILLed, resumes from the
// offset the server kept and becomes a ready video that plays; a request
// over the size limit is refused with 413 before any byte is sent.
func TestUploadsTusResumeAcrossSIGKILL(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin, yaml := adminYAML()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := daemonConfig{ExtraYAML: yaml}
	d := startDaemonAt(t, dataDir, cfg)
	file, err := os.ReadFile(uploadClip(t, 10, "640x360"))
	if err != nil {
		t.Fatal(err)
	}
	du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{"max_duration_seconds": 60,
		"max_size_bytes": len(file), "meta": map[string]any{"name": "e2e"}, "creator": "e2e"}, http.StatusOK)
	id, uploadURL := du["id"].(string), du["upload_url"].(string)
	if !strings.HasPrefix(uploadURL, "http://"+d.HTTP+"/uploads/"+id+".") {
		t.Fatalf("upload_url %s", uploadURL)
	}
	// 413 from Upload-Length alone
	if res := tus(t, "POST", uploadURL, map[string]string{"Upload-Length": strconv.Itoa(len(file) + 1)}, nil); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the size limit: HTTP %d", res.StatusCode)
	}
	// creation, then an interrupted PATCH
	res := tus(t, "POST", uploadURL, map[string]string{"Upload-Length": strconv.Itoa(len(file)),
		"Upload-Metadata": "filename Y2xpcC5tcDQ=,filetype dmlkZW8vbXA0", "Origin": "https://app.example"}, nil)
	if res.StatusCode != http.StatusCreated || res.Header.Get("Location") != uploadURL ||
		res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || res.Header.Get("Upload-Expires") == "" {
		t.Fatalf("creation: HTTP %d %v", res.StatusCode, res.Header)
	}
	cutPatch(t, uploadURL, 0, file, len(file)/2)
	off := headOffset(t, uploadURL)
	if off <= 0 || off > len(file)/2 {
		t.Fatalf("offset after an interrupted PATCH: %d (sent %d)", off, len(file)/2)
	}
	// SIGKILL, restart on the same data: the offset is still there
	d.stopOnce.Do(func() {})
	_ = d.cmd.Process.Kill()
	<-d.done
	d = startDaemonAt(t, dataDir, cfg)
	uploadURL = d.URL(strings.TrimPrefix(uploadURL, "http://"+strings.Split(strings.TrimPrefix(uploadURL, "http://"), "/")[0])) // the new port
	if got := headOffset(t, uploadURL); got != off {
		t.Fatalf("offset after a restart: %d, want %d", got, off)
	}
	if res := tus(t, "PATCH", uploadURL, map[string]string{"Upload-Offset": "0"}, file[:10]); res.StatusCode != http.StatusConflict {
		t.Fatalf("PATCH at a wrong offset: HTTP %d, want 409", res.StatusCode)
	}
	if res := tus(t, "PATCH", uploadURL, map[string]string{"Upload-Offset": strconv.Itoa(off)}, file[off:]); res.StatusCode != http.StatusNoContent {
		t.Fatalf("resumed PATCH: HTTP %d", res.StatusCode)
	}
	v := waitVideoReady(ctx, t, d, admin, id, 9)
	if v["live_input_id"] != "" || v["meta"].(map[string]any)["name"] != "e2e" {
		t.Fatalf("video %v", v)
	}
	// one-time: the URL takes no second upload
	if res := tus(t, "POST", uploadURL, map[string]string{"Upload-Length": "10"}, nil); res.StatusCode != http.StatusConflict {
		t.Fatalf("second creation: HTTP %d", res.StatusCode)
	}
}

// TestUploadsPlainAndCopy: a curl-style multipart upload and a copy from a
// local HTTP server (allowed by uploads.allow_private_sources) become
// ready videos that play; a copy from 127.0.0.1 without the switch is
// refused.
func TestUploadsPlainAndCopy(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin, yaml := adminYAML()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: yaml +
		"uploads:\n  allow_private_sources: true\n  plain_max_size: 5000000\nwebhooks:\n  allow_private_targets: true\n"})
	clip := uploadClip(t, 6, "320x240")
	hook := newWHReceiver(t)
	_, hookSecret := createWebhook(t, d, admin, map[string]any{"url": hook.srv.URL})
	hook.setSecrets(hookSecret)

	// plain: multipart/form-data as curl -F file=@clip.mp4 -F meta=... sends it
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("meta", `{"name":"plain"}`)
	fw, _ := mw.CreateFormFile("file", "clip.mp4")
	b, _ := os.ReadFile(clip)
	fw.Write(b)
	mw.Close()
	st, r := postFile(t, d, admin, mw.FormDataContentType(), body.Bytes())
	if st != http.StatusAccepted {
		t.Fatalf("plain upload: HTTP %d %v", st, r)
	}
	plainID := data(r)["id"].(string)
	if st, r := postFile(t, d, admin, "video/mp4", make([]byte, 5_000_001)); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("plain over the limit: HTTP %d %v", st, r)
	}

	// copy from a local server
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, clip) }))
	defer srv.Close()
	cp := apiOK(t, d, admin, "POST", "/v1/videos/copy", map[string]any{"url": srv.URL + "/clip.mp4", "meta": map[string]any{"name": "copy"}}, http.StatusAccepted)
	waitVideoReady(ctx, t, d, admin, plainID, 5)
	waitVideoReady(ctx, t, d, admin, cp["id"].(string), 5)
	// the webhooks of a copy, in order, the last with the video as the API shows it
	var prev time.Time
	for _, typ := range []string{"video.upload.created", "video.upload.completed", "video.processing", "video.ready"} {
		e := waitVideoWebhook(t, hook, typ, cp["id"].(string))
		if e.CreatedAt.Before(prev) {
			t.Errorf("%s created before the event preceding it", typ)
		}
		prev = e.CreatedAt
		if typ == "video.ready" && (e.Data["status"] != "ready" || e.Data["meta"].(map[string]any)["name"] != "copy") {
			t.Errorf("video.ready data %v", e.Data)
		}
	}

	// without the switch, 127.0.0.1 is refused
	admin2, yaml2 := adminYAML()
	d2 := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: yaml2})
	st, r = apiCall(t, d2, admin2, "POST", "/v1/videos/copy", map[string]any{"url": srv.URL + "/clip.mp4"})
	if st != http.StatusBadRequest || !strings.Contains(fmt.Sprint(r), "url") {
		t.Fatalf("copy from 127.0.0.1: HTTP %d %v", st, r)
	}
}

// rssKB is the resident set size of process pid in kB.
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// TestUploadsFigures measures, when MPEGFLOW_UPLOAD_FIGURES=1: tus upload
// throughput over loopback and the daemon's RSS during uploads of 100 and
// 300 MB (one PATCH each), and the processing time of a 1-minute 720p30
// file, remuxed (H.264) and re-encoded (MPEG-4 Part 2 source), from
// upload completion to ready.
func TestUploadsFigures(t *testing.T) {
	if os.Getenv("MPEGFLOW_UPLOAD_FIGURES") != "1" {
		t.Skip("set MPEGFLOW_UPLOAD_FIGURES=1")
	}
	requireTools(t, "ffmpeg", "ffprobe")
	ctx := context.Background()
	admin, yaml := adminYAML()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: yaml})
	pid := d.cmd.Process.Pid
	sizes := []int{100, 300}
	if os.Getenv("MPEGFLOW_UPLOAD_FIGURES_SKIP_THROUGHPUT") == "1" {
		sizes = nil
	}
	for _, mb := range sizes {
		p := filepath.Join(t.TempDir(), "big.bin")
		f, _ := os.Create(p)
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		for range mb {
			f.Write(chunk)
		}
		f.Close()
		size := mb << 20
		du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{}, http.StatusOK)
		u := du["upload_url"].(string)
		if res := tus(t, "POST", u, map[string]string{"Upload-Length": strconv.Itoa(size)}, nil); res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", res.StatusCode)
		}
		rss0, peak := rssKB(pid), 0
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				peak = max(peak, rssKB(pid))
			}
		}()
		fh, _ := os.Open(p)
		req, _ := http.NewRequest("PATCH", u, fh)
		req.ContentLength = int64(size)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		start := time.Now()
		res, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
		took := time.Since(start)
		fh.Close()
		close(stop)
		<-sampled
		if err != nil || res.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %v %v", res, err)
		}
		res.Body.Close()
		t.Logf("FIGURE tus upload %d MB in one PATCH: %.1f MB/s; daemon RSS %d MB before, peak %d MB during",
			mb, float64(size)/1e6/took.Seconds(), rss0/1024, peak/1024)
	}
	for _, c := range []struct{ name, vcodec string }{{"remux (H.264 source)", "libx264"}, {"re-encode (MPEG-4 Part 2 source)", "mpeg4"}} {
		p := filepath.Join(t.TempDir(), "src.mkv")
		args := []string{"-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=60",
			"-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-c:a", "aac", "-c:v", c.vcodec}
		if c.vcodec == "libx264" {
			args = append(args, "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p")
		} else {
			args = append(args, "-q:v", "4")
		}
		if out, err := exec.Command("ffmpeg", append(args, p)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v %s", err, out)
		}
		file, _ := os.ReadFile(p)
		du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{}, http.StatusOK)
		u := du["upload_url"].(string)
		tus(t, "POST", u, map[string]string{"Upload-Length": strconv.Itoa(len(file))}, nil)
		start := time.Now()
		if res := tus(t, "PATCH", u, map[string]string{"Upload-Offset": "0"}, file); res.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", res.StatusCode)
		}
		done := time.Now()
		var ready time.Duration
		waitFor(ctx, t, 20*time.Minute, "ready", func() bool {
			_, r := apiCall(t, d, admin, "GET", "/v1/videos/"+du["id"].(string), nil)
			ready = time.Since(done)
			return data(r)["status"] == "ready" || data(r)["status"] == "errored"
		})
		waitVideoReady(ctx, t, d, admin, du["id"].(string), 59)
		for _, l := range strings.Split(d.Output(), "\n") {
			if strings.Contains(l, du["id"].(string)) && strings.Contains(l, "component=uploads") {
				t.Log(l)
			}
		}
		// the same ffmpeg work alone, for comparison
		out := t.TempDir()
		alone := []string{"-hide_banner", "-v", "error", "-y", "-i", p, "-map", "0:v:0", "-map", "0:a:0", "-c:a", "copy"}
		if c.vcodec == "libx264" {
			alone = append(alone, "-c:v", "copy")
		} else {
			alone = append(alone, "-vf", "scale=1280:720,format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "21",
				"-force_key_frames", "expr:gte(t,n_forced*4)", "-sc_threshold", "0")
		}
		alone = append(alone, "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
			"-hls_segment_filename", out+"/seg%d.m4s", out+"/index.m3u8")
		t0 := time.Now()
		if o, err := exec.Command("ffmpeg", alone...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg alone: %v %s", err, o)
		}
		t.Logf("FIGURE 60 s 720p30 %s, %.1f MB: upload %v, completion to ready %v; the same ffmpeg alone %v", c.name, float64(len(file))/1e6,
			done.Sub(start).Round(time.Millisecond), ready.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond))
	}
}

// TestUploadsToS3: with S3 storage (versitygw), a tus upload's complete
// file goes to the bucket, is processed from a copy and its segments are
// stored there; the video plays, and no source object stays behind.
func TestUploadsToS3(t *testing.T) {
	e2eTest(t)
	requireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	endpoint, s3dir := startVersityGW(t)
	admin, yaml := adminYAML()
	extra := yaml + fmt.Sprintf("storage:\n  kind: s3\n  s3:\n    endpoint: %q\n    bucket: uploads\n    access_key: e2ekey\n    secret_key: e2esecret123\n    use_tls: false\n", endpoint)
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: extra})
	file, err := os.ReadFile(uploadClip(t, 5, "320x240"))
	if err != nil {
		t.Fatal(err)
	}
	du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{}, http.StatusOK)
	u := du["upload_url"].(string)
	// creation-with-upload carries the whole file
	if res := tus(t, "POST", u, map[string]string{"Upload-Length": strconv.Itoa(len(file))}, file); res.StatusCode != http.StatusCreated || res.Header.Get("Upload-Offset") != strconv.Itoa(len(file)) {
		t.Fatalf("creation with the whole file: HTTP %d %v", res.StatusCode, res.Header)
	}
	id := du["id"].(string)
	waitVideoReady(ctx, t, d, admin, id, 4)
	var segs, sources int
	_ = filepath.WalkDir(s3dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if strings.Contains(p, filepath.Join("videos", id)) && strings.HasSuffix(p, ".m4s") {
				segs++
			}
			if strings.Contains(p, filepath.Join("uploads", id)) {
				sources++
			}
		}
		return nil
	})
	if segs == 0 || sources != 0 {
		t.Fatalf("in the bucket: %d segments of the video, %d source objects", segs, sources)
	}
}

// TestUploadsBadInput: a text file called .mp4 and a truncated MP4 become
// videos errored with a reason, a 0-byte body is a 400, a 10 GB
// Upload-Length a 413, a PATCH to an unknown upload a 404; the daemon
// stays up and no temporary file is left behind.
func TestUploadsBadInput(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, yaml := adminYAML()
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemonAt(t, dataDir, daemonConfig{ExtraYAML: yaml})
	plain := func(body []byte) (int, map[string]any) { return postFile(t, d, admin, "video/mp4", body) }
	clip, err := os.ReadFile(uploadClip(t, 4, "160x120"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		body []byte
		code string
	}{
		{"text.mp4", []byte("this is a text file, not a video\n"), "not_a_video"},
		{"truncated.mp4", clip[:len(clip)/4], "not_a_video"},
	} {
		st, r := plain(c.body)
		if st != http.StatusAccepted {
			t.Fatalf("%s: HTTP %d %v", c.name, st, r)
		}
		id := data(r)["id"].(string)
		var v map[string]any
		waitFor(ctx, t, 60*time.Second, c.name+" errored", func() bool {
			_, r := apiCall(t, d, admin, "GET", "/v1/videos/"+id, nil)
			v = data(r)
			return v["status"] == "errored" || v["status"] == "ready"
		})
		if c.name == "truncated.mp4" && v["status"] == "ready" {
			continue // the part before the cut may play
		}
		if e, _ := v["error"].(map[string]any); v["status"] != "errored" || e["code"] != c.code || e["message"] == "" {
			t.Errorf("%s: %v %v", c.name, v["status"], v["error"])
		}
	}
	if st, r := plain(nil); st != http.StatusBadRequest {
		t.Errorf("0-byte plain upload: HTTP %d %v", st, r)
	}
	du := apiOK(t, d, admin, "POST", "/v1/videos/direct_upload", map[string]any{"max_size_bytes": 1 << 30}, http.StatusOK)
	if res := tus(t, "POST", du["upload_url"].(string), map[string]string{"Upload-Length": strconv.FormatInt(10<<30, 10)}, nil); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("10 GB Upload-Length: HTTP %d", res.StatusCode)
	}
	if res := tus(t, "PATCH", d.URL("/uploads/vid_06h51dt9mbfkf6e00n9axs9s5c.nope"), map[string]string{"Upload-Offset": "0"}, []byte("x")); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown upload: HTTP %d", res.StatusCode)
	}
	if f, err := get(ctx, d.URL("/healthz")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("daemon after bad input: %v %v", f, err)
	}
	for _, dir := range []string{filepath.Join(dataDir, "uploads", "tmp"), filepath.Join(dataDir, "uploads", "tus"), filepath.Join(dataDir, "blobs", "uploads")} {
		var files []string
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) != 0 {
			t.Errorf("left behind in %s: %v", dir, files)
		}
	}
}
