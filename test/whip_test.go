package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// whipMedia generates seconds of H.264 (libx264 constrained baseline, no
// B-frames, Annex B, 640x360 30 fps, GOP 1 s) and Opus (libopus 48 kHz
// stereo, 20 ms frames, from Ogg) with ffmpeg, as a browser would send them.
func whipMedia(ctx context.Context, t *testing.T, seconds int) (h264 []byte, opus [][]byte) {
	t.Helper()
	dir := t.TempDir()
	vid, aud := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	secs := (time.Duration(seconds) * time.Second).String()
	run := func(args ...string) {
		out, err := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", secs,
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
		"-preset", "ultrafast", "-tune", "zerolatency", "-bsf:v", "h264_mp4toannexb", "-f", "h264", vid)
	run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", secs, "-ac", "2",
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", aud)
	var err error
	if h264, err = os.ReadFile(vid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(aud)
	if err != nil {
		t.Fatal(err)
	}
	if opus, err = whiptest.ReadOggOpus(b); err != nil {
		t.Fatal(err)
	}
	return h264, opus
}

// audioRendition returns the URI of the default EXT-X-MEDIA audio rendition
// of a multivariant playlist, or "" when audio is muxed into the variant.
func audioRendition(multi *playlist) string {
	for _, m := range multi.Media {
		if m["TYPE"] == "AUDIO" && m["URI"] != "" {
			return m["URI"]
		}
	}
	return ""
}

// TestWHIPToLLHLS publishes H.264 + Opus with a pion WHIP client (RFC 9725):
// the LL-HLS output carries H.264 and AAC made from the Opus, ffprobe reads
// both, DELETE on the session URL ends the stream; a bad bearer token gets
// 401 and an unknown live input 404.
func TestWHIPToLLHLS(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const published = 12
	h264, opus := whipMedia(ctx, t, published)
	in := newInput("whip-cam")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms", ReconnectWindow: "3s"})
	endpoint := d.URL("/whip/" + in.ID)

	// Refusals first: they must not disturb the real publish that follows.
	{
		dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := whiptest.Dial(dctx, endpoint, "sk"+randomHex(12), whiptest.Options{})
		dcancel()
		var se *whiptest.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Errorf("POST %s with a wrong bearer token: %v, want HTTP 401", endpoint, err)
		} else {
			t.Logf("wrong bearer: %v", err)
		}
		resp, body, err := whiptest.Post(ctx, endpoint, "", "application/sdp", "v=0\r\n")
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without Authorization: err %v, HTTP %v %s; want 401", endpoint, err, statusOf(resp), body)
		}
		unknown := d.URL("/whip/no-such-input")
		resp, body, err = whiptest.Post(ctx, unknown, in.Key, "application/sdp", "v=0\r\n")
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s (unknown live input): err %v, HTTP %v %s; want 404", unknown, err, statusOf(resp), body)
		}
		resp, body, err = whiptest.Post(ctx, endpoint, in.Key, "application/sdp", "this is not SDP")
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s with a malformed offer: err %v, HTTP %v %s; want 400", endpoint, err, statusOf(resp), body)
		}
		if f, err := get(ctx, d.PlaylistURL(in.ID)); err != nil || f.Status != http.StatusNotFound {
			t.Errorf("GET %s after refused publishes: HTTP %d (err %v), want 404", d.PlaylistURL(in.ID), f.Status, err)
		}
	}

	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	sess, err := whiptest.Dial(dctx, endpoint, in.Key, whiptest.Options{})
	dcancel()
	if err != nil {
		t.Fatalf("WHIP publish: %v", err)
	}
	defer sess.Close()
	t.Logf("WHIP session %s (ETag %q)", sess.URL, sess.ETag)
	if !strings.HasPrefix(sess.URL, d.URL("/whip/"+in.ID+"/")) {
		t.Errorf("session URL %q is not under /whip/%s/", sess.URL, in.ID)
	}
	streamStart := time.Now()
	streamDone := make(chan error, 1)
	go func() { streamDone <- sess.Stream(ctx, h264, 30, opus) }()
	streaming := func() bool {
		select {
		case err := <-streamDone:
			streamDone <- err
			return false
		default:
			return true
		}
	}

	mediaURL, multi := waitLive(ctx, t, d, in.ID, 20*time.Second)
	t.Logf("live %v after the WHIP POST", time.Since(streamStart).Round(time.Millisecond))
	// The AAC rendition (ffmpeg transcode from Opus) may complete its first
	// segment after the video: wait for it to appear in CODECS.
	waitFor(ctx, t, 10*time.Second, "mp4a.40.2 in the multivariant CODECS", func() bool {
		multi = getPlaylist(ctx, t, d.PlaylistURL(in.ID))
		return len(multi.Variants) > 0 && strings.Contains(multi.Variants[0].Attrs["CODECS"], "mp4a.40.2")
	})
	t.Logf("multivariant playlist:\n%s", multi.Raw)
	for _, v := range checkMultivariant(multi) {
		t.Errorf("multivariant: %s", v)
	}
	if c := multi.Variants[0].Attrs["CODECS"]; !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") || strings.Contains(c, "opus") {
		t.Errorf("multivariant CODECS=%q, want avc1.* and mp4a.40.2 (AAC from the Opus, ffmpeg is present)", c)
	}
	if res := multi.Variants[0].Attrs["RESOLUTION"]; res != "640x360" {
		t.Errorf("multivariant RESOLUTION=%q, want 640x360", res)
	}
	mediaURL = resolve(d.PlaylistURL(in.ID), multi.Variants[0].URI)
	rec := newRecorder(ctx, t, mediaURL)
	var arec *recorder
	if u := audioRendition(multi); u != "" {
		arec = newRecorder(ctx, t, resolve(d.PlaylistURL(in.ID), u))
		t.Logf("audio is a separate rendition: %s", arec.mediaURL)
	}
	// Blocking reloads while the media flows, stopping 2 s before it runs
	// out: a request for a part that never completes is checked apart below.
	p := rec.poll(true)
	mediaEnd := streamStart.Add(published * time.Second)
	for i := 0; streaming() && time.Until(mediaEnd) > 2*time.Second; i++ {
		if ctx.Err() != nil {
			t.Fatal("WHIP stream did not finish in time")
		}
		if i%5 == 2 {
			rec.checkPreloadHint(p)
		}
		rec.checkBlockingReload(p)
		if arec != nil {
			arec.poll(true)
		}
		p = rec.poll(true)
	}
	for streaming() {
		rec.poll(true)
		if arec != nil {
			arec.poll(true)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := <-streamDone; err != nil {
		t.Errorf("whiptest Stream: %v", err)
	}
	t.Logf("streamed %v; %d blocking reloads, %d preload hints; %d PLIs from the server", time.Since(streamStart).Round(time.Millisecond), rec.blocking, rec.hints, sess.PLIs())
	if rec.blocking < 8 {
		t.Errorf("only %d blocking reloads completed while live", rec.blocking)
	}
	time.Sleep(500 * time.Millisecond)
	p = rec.poll(true)
	if arec != nil {
		arec.poll(true)
	}

	// The publisher is connected but sends nothing (a frozen encoder): a
	// blocking reload for the next part must still be answered within
	// 3 x TARGETDURATION (RFC 8216bis §6.2.5.2: 503 when it does not come).
	// Checked only when that is short enough for a test.
	if limit := time.Duration(3*max(p.Target, 1)) * time.Second; limit > 9*time.Second {
		t.Logf("idle-publisher blocking reload not checked: 3 x TARGETDURATION is %v", limit)
	} else {
		msn, part := p.nextPart()
		u := fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", mediaURL, msn, part)
		bctx, bcancel := context.WithTimeout(ctx, limit+3*time.Second)
		f, err := get(bctx, u)
		bcancel()
		switch {
		case err != nil:
			t.Errorf("blocking reload GET %s while the WHIP publisher sends nothing: no answer within %v (3 x TARGETDURATION is %v): %v", u, limit+3*time.Second, limit, err)
		case f.Elapsed > limit+time.Second:
			t.Errorf("blocking reload GET %s while the WHIP publisher sends nothing: HTTP %d after %v (> 3 x TARGETDURATION)", u, f.Status, f.Elapsed.Round(time.Millisecond))
		default:
			t.Logf("blocking reload for a part that does not come (publisher idle): HTTP %d after %v", f.Status, f.Elapsed.Round(time.Millisecond))
		}
	}

	// The media is sent: DELETE ends the broadcast at once (no reconnect window).
	rec.poll(true)
	if arec != nil {
		arec.poll(true)
	}

	deleted := time.Now()
	if err := sess.Delete(ctx); err != nil {
		t.Errorf("DELETE %s: %v", sess.URL, err)
	}
	var final *playlist
	waitFor(ctx, t, 6*time.Second, "EXT-X-ENDLIST soon after DELETE of the WHIP session", func() bool {
		final = rec.poll(false)
		return final.Endlist
	})
	t.Logf("EXT-X-ENDLIST %v after DELETE", time.Since(deleted).Round(100*time.Millisecond))
	if arec != nil {
		waitFor(ctx, t, 6*time.Second, "EXT-X-ENDLIST in the audio rendition after DELETE", func() bool { return arec.poll(false).Endlist })
	}
	// DELETE again: the session is gone.
	if err := sess.Delete(ctx); err == nil {
		t.Errorf("second DELETE %s succeeded, want 404", sess.URL)
	} else if se := (*whiptest.StatusError)(nil); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("second DELETE %s: %v, want HTTP 404", sess.URL, err)
	}

	msns, sum := checkContiguous(t, rec)
	t.Logf("%d segments (MSN %d..%d), EXTINF total %.3f s", len(msns), msns[0], msns[len(msns)-1], sum)
	file := rec.concat(t, "whip.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "h264" || v.Width != 640 || v.Height != 360 {
		t.Errorf("ffprobe video: %s %dx%d, want h264 640x360", v.Codec, v.Width, v.Height)
	}
	if math.Abs(v.Duration-published) > 0.15*published {
		t.Errorf("ffprobe video duration %.3f s, want %d s ± 15%%", v.Duration, published)
	}
	afile := file
	if arec != nil {
		am, _ := checkContiguous(t, arec)
		afile = arec.concat(t, "whip-audio.mp4", am)
	}
	a := ffprobe(ctx, t, afile, "a")
	if a.Codec != "aac" {
		t.Errorf("ffprobe audio codec %q, want aac (from the Opus)", a.Codec)
	}
	if a.Duration < 0.7*published {
		t.Errorf("ffprobe audio duration %.3f s, want about %d s", a.Duration, published)
	}
	t.Logf("ffprobe: video %s %dx%d %.3f s in %d packets; audio %q %.3f s in %d packets", v.Codec, v.Width, v.Height, v.Duration, v.Packets, a.Codec, a.Duration, a.Packets)
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Errorf("ffmpeg cannot decode the concatenated stream cleanly: %v", err)
	}
	for _, b := range append(rec.bodies, multi.Raw) {
		if strings.Contains(b, in.Key) {
			t.Errorf("the stream key appears in a playlist:\n%s", b)
			break
		}
	}
	d.assertNoKeys(t, in.Key)
}

func statusOf(r *http.Response) any {
	if r == nil {
		return "none"
	}
	return r.StatusCode
}

// publishResult is the JSON line printed by test/browser/publish.mjs.
type publishResult struct {
	OK      bool `json:"ok"`
	Publish struct {
		State     string         `json:"state"`
		Detail    string         `json:"detail"`
		LiveMs    *int           `json:"liveMs"`
		HLSMs     *int           `json:"hlsMs"`
		StopState string         `json:"stopState"`
		Stats     map[string]any `json:"stats"`
	} `json:"publish"`
	Play struct {
		playResult
		VideoWidth  int `json:"videoWidth"`
		VideoHeight int `json:"videoHeight"`
	} `json:"play"`
	Errors  []string `json:"errors"`
	Console []string `json:"console"`
}

// TestBrowserWHIPPublishAndPlay goes live from headless Chromium (fake
// camera and microphone) on the daemon's publish page over WHIP, plays the
// HLS output with hls.js on a second page for 15 s, and reports the
// first-frame time and the latency. Not parallel, like TestBrowserPlayback.
func TestBrowserWHIPPublishAndPlay(t *testing.T) {
	e2eTest(t)
	requireTools(t, "node")
	for _, need := range []struct{ path, hint string }{
		{chromiumPath(), "chromium (apt-get install chromium)"},
		{filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json"), "node_modules (npm ci)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need.hint)
			}
			t.Skipf("missing %s (run scripts/deps.sh)", need.hint)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	in := newInput("browser-cam")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms", ReconnectWindow: "3s"})
	pageURL := d.URL("/live/" + in.ID + "/publish")
	if f, err := get(ctx, pageURL); err != nil || f.Status != http.StatusOK || !strings.Contains(string(f.Body), "mpegflowPublish") {
		t.Fatalf("GET %s: err %v, HTTP %d: not the publish page", pageURL, err, f.Status)
	}

	const watch = 15
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "publish.mjs"),
		"--base", d.URL(""), "--id", in.ID, "--key", in.Key, "--seconds", fmt.Sprint(watch), "--timeout", "120", "--chromium", chromiumPath())
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("publish.mjs: %s", line)
	if stderr.Len() > 0 {
		t.Logf("publish.mjs stderr:\n%s", stderr.String())
	}
	var r publishResult
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		t.Fatalf("publish.mjs: %v; output %q: %v", err, out, jerr)
	}
	if !r.OK {
		t.Fatalf("browser publish/play failed: %v (publish page state %q %q; console %v; player errors %v, console %v)",
			r.Errors, r.Publish.State, r.Publish.Detail, r.Console, r.Play.Errors, r.Play.Console)
	}
	p := r.Play
	advanced := *p.CurrentTimeEnd - *p.CurrentTimeStart
	if advanced < 0.85*watch {
		t.Errorf("currentTime advanced %.2f s in %d s of watching", advanced, watch)
	}
	if p.LongestStallMs > 1000 {
		t.Errorf("playback stalled: %d stalls, longest %d ms, %d ms in all", p.Stalls, p.LongestStallMs, p.StallMsTotal)
	}
	if p.FrozenMs > 1500 {
		t.Errorf("currentTime stood still for %d ms", p.FrozenMs)
	}
	if len(p.Errors) > 0 || len(r.Errors) > 0 {
		t.Errorf("page errors: player %v, publisher %v", p.Errors, r.Errors)
	}
	if !strings.HasPrefix(p.Engine, "hls.js") {
		t.Errorf("engine %q, want hls.js", p.Engine)
	}
	if p.VideoWidth == 0 || p.VideoHeight == 0 {
		t.Errorf("the player shows no picture: video %dx%d", p.VideoWidth, p.VideoHeight)
	}
	if p.LatencyMs.N == 0 || p.LatencyMs.P50 == nil {
		t.Errorf("no latency samples: hls.playingDate never set (EXT-X-PROGRAM-DATE-TIME missing?)")
	} else {
		t.Logf("went live %d ms after the click, HLS answered at %d ms; first frame %d ms after the player page load; latency p50 %d ms, p95 %d ms (min %d, max %d, %d samples); %d stalls (%d ms); %dx%d; engine %s; sender stats %v",
			*r.Publish.LiveMs, *r.Publish.HLSMs, *p.FirstFrameMs, *p.LatencyMs.P50, *p.LatencyMs.P95, *p.LatencyMs.Min, *p.LatencyMs.Max, p.LatencyMs.N,
			p.Stalls, p.StallMsTotal, p.VideoWidth, p.VideoHeight, p.Engine, r.Publish.Stats)
	}
	if r.Publish.StopState != "stopped" {
		t.Errorf("the publish page did not stop: state %q", r.Publish.StopState)
	}
	if m := regexp.MustCompile(`msg="whip session created".*`).FindString(d.Output()); m != "" {
		t.Logf("daemon: %s", m)
	}
	// Stop sent DELETE: the stream ends at once, without the reconnect window.
	u := d.PlaylistURL(in.ID)
	waitFor(ctx, t, 10*time.Second, "EXT-X-ENDLIST (or 404) after the page pressed Stop", func() bool {
		f, err := get(ctx, u)
		if err != nil {
			return false
		}
		if f.Status == http.StatusNotFound {
			return true
		}
		multi, err := parsePlaylist(string(f.Body))
		if err != nil || len(multi.Variants) == 0 {
			return false
		}
		mp, err := get(ctx, resolve(u, multi.Variants[0].URI))
		if err != nil || !strings.Contains(string(mp.Body), "#EXT-X-ENDLIST") {
			return false
		}
		// What the browser's encoder made of it: segment lengths follow its key frames.
		if ended, err := parsePlaylist(string(mp.Body)); err == nil {
			var durs []string
			for _, s := range ended.Segments {
				durs = append(durs, fmt.Sprintf("%.2f", s.Duration))
			}
			t.Logf("ended playlist: TARGETDURATION %d, %d segments, EXTINF %s", ended.Target, len(ended.Segments), strings.Join(durs, " "))
			if t.Failed() {
				var tags []string // the playlist without its part lines
				for _, l := range strings.Split(ended.Raw, "\n") {
					if !strings.HasPrefix(l, "#EXT-X-PART:") {
						tags = append(tags, l)
					}
				}
				t.Logf("ended media playlist (EXT-X-PART lines left out):\n%s", strings.Join(tags, "\n"))
			}
		}
		return true
	})
	d.assertNoKeys(t, in.Key)
}

// whipVPXMedia generates seconds of VP8 (libvpx realtime), VP9
// (libvpx-vp9 realtime, profile 0) or AV1 (SVT-AV1 preset 12), 320x240
// 30 fps, key frame every second, as IVF frames, and Opus (libopus 48 kHz stereo, 20 ms frames) with
// ffmpeg, as a browser that offers only VP8 or VP9 sends them.
func whipVPXMedia(ctx context.Context, t *testing.T, codec string, seconds int) (video [][]byte, opus [][]byte) {
	t.Helper()
	dir := t.TempDir()
	vid, aud := filepath.Join(dir, "v.ivf"), filepath.Join(dir, "a.ogg")
	secs := (time.Duration(seconds) * time.Second).String()
	run := func(args ...string) {
		out, err := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	enc := []string{"-c:v", map[string]string{"vp8": "libvpx", "vp9": "libvpx-vp9"}[codec], "-deadline", "realtime", "-cpu-used", "8"}
	if codec == "av1" {
		enc = []string{"-c:v", "libsvtav1", "-preset", "12"}
	}
	run(append(append([]string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", secs}, enc...),
		"-b:v", "400k", "-g", "30", "-f", "ivf", vid)...)
	run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", secs, "-ac", "2",
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", aud)
	b, err := os.ReadFile(vid)
	if err != nil {
		t.Fatal(err)
	}
	if video, err = whiptest.ReadIVF(b); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(aud); err != nil {
		t.Fatal(err)
	}
	if opus, err = whiptest.ReadOggOpus(b); err != nil {
		t.Fatal(err)
	}
	return video, opus
}

// TestWHIPVP8Transcoded, for VP8 and VP9: a WHIP publisher that offers
// only that codec (+ Opus) is refused with 406 naming it and transcoding
// for a live input that is not transcoded, and accepted for one with
// transcode on (240p + 160p ladder) and recording automatic: the
// multivariant playlist lists H.264 + AAC rungs only, the top one at the
// source's 240 lines, a rung's segments decode with ffmpeg without errors,
// and the broadcast becomes a ready video of the top rung (the stream has
// no source rendition) whose HLS decodes.
func TestWHIPVP8Transcoded(t *testing.T) {
	e2eTest(t)
	for _, codec := range []string{"vp8", "vp9"} {
		t.Run(codec, func(t *testing.T) { testWHIPVPXTranscoded(t, codec) })
	}
}

func testWHIPVPXTranscoded(t *testing.T, codec string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const published = 14
	vpx, opus := whipVPXMedia(ctx, t, codec, published)
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: smallLadderYAML})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed:\n%s", d.Output())
	}
	create := func(body map[string]any) (id, key string) {
		st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", body)
		if st != http.StatusCreated {
			t.Fatalf("create: HTTP %d %v", st, r)
		}
		return data(r)["id"].(string), data(r)["rtmp"].(map[string]any)["stream_key"].(string)
	}
	offID, offKey := create(map[string]any{"name": "E2E " + codec + " passthrough"})
	id, key := create(map[string]any{"name": "E2E " + codec + " transcoded", "recording": map[string]any{"mode": "automatic"},
		"transcode": map[string]any{"mode": "on", "ladder": []string{"240p", "160p"}}})

	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	_, err := whiptest.Dial(dctx, d.URL("/whip/"+offID), offKey, whiptest.Options{Video: codec})
	dcancel()
	var se *whiptest.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotAcceptable ||
		!strings.Contains(strings.ToLower(se.Body), codec) || !strings.Contains(se.Body, "enable transcoding or send h264") {
		t.Errorf("%s offer to a live input without transcoding: %v, want HTTP 406 naming it and transcoding", codec, err)
	} else {
		t.Logf("not transcoded: %v", err)
	}

	dctx, dcancel = context.WithTimeout(ctx, 20*time.Second)
	sess, err := whiptest.Dial(dctx, d.URL("/whip/"+id), key, whiptest.Options{Video: codec})
	dcancel()
	if err != nil {
		t.Fatalf("WHIP %s publish to a transcoded input: %v", codec, err)
	}
	defer sess.Close()
	start := time.Now()
	streamDone := make(chan error, 1)
	go func() { streamDone <- sess.StreamFrames(ctx, vpx, 30, opus) }()

	u := d.PlaylistURL(id)
	var multi *playlist
	waitFor(ctx, t, 60*time.Second, "240p and 160p with AAC in the multivariant playlist", func() bool {
		f, err := get(ctx, u)
		if err != nil || f.Status != http.StatusOK {
			return false
		}
		p, err := parsePlaylist(string(f.Body))
		if err != nil || len(p.Variants) < 2 {
			return false
		}
		for _, v := range p.Variants {
			if !strings.Contains(v.Attrs["CODECS"], "mp4a.40.2") {
				return false
			}
		}
		multi = p
		return true
	})
	t.Logf("rungs listed %v after the WHIP POST; multivariant playlist:\n%s", time.Since(start).Round(time.Millisecond), multi.Raw)
	for _, v := range checkMultivariant(multi) {
		t.Errorf("multivariant: %s", v)
	}
	want := map[string]bool{"320x240": true, "214x160": true}
	var top string
	for _, v := range multi.Variants {
		c := v.Attrs["CODECS"]
		if !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") || strings.Contains(c, "vp") {
			t.Errorf("variant %s: CODECS %q, want H.264 (avc1) and AAC only", v.URI, c)
		}
		res := v.Attrs["RESOLUTION"]
		if !want[res] {
			t.Errorf("variant %s: RESOLUTION %q, want 320x240 or 214x160 (never above the 320x240 source)", v.URI, res)
		}
		delete(want, res)
		if res == "320x240" {
			top = resolve(u, v.URI)
		}
	}
	if len(multi.Variants) != 2 || top == "" {
		t.Fatalf("variants %d, want the two rungs (the %s source is not a variant)", len(multi.Variants), codec)
	}
	rec := newRecorder(ctx, t, top)
	for {
		select {
		case err := <-streamDone:
			if err != nil {
				t.Errorf("whiptest StreamFrames: %v", err)
			}
		default:
			rungPoll(t, rec, true)
			time.Sleep(300 * time.Millisecond)
			continue
		}
		break
	}
	time.Sleep(time.Second)
	if err := sess.Delete(ctx); err != nil {
		t.Errorf("DELETE %s: %v", sess.URL, err)
	}
	waitFor(ctx, t, 15*time.Second, "EXT-X-ENDLIST on the 240p rung after DELETE", func() bool { return rungPoll(t, rec, false).Endlist })
	msns, sum := checkContiguous(t, rec)
	t.Logf("240p rung: %d segments, EXTINF total %.3f s; %d PLIs from the server", len(msns), sum, sess.PLIs())
	file := rec.concat(t, "whip-"+codec+"-240p.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "h264" || v.Width != 320 || v.Height != 240 {
		t.Errorf("ffprobe video: %s %dx%d, want h264 320x240", v.Codec, v.Width, v.Height)
	}
	if v.Duration < 0.6*published {
		t.Errorf("ffprobe video duration %.3f s, want about %d s", v.Duration, published)
	}
	a := ffprobe(ctx, t, file, "a")
	if a.Codec != "aac" {
		t.Errorf("ffprobe audio codec %q, want aac (from the Opus)", a.Codec)
	}
	t.Logf("ffprobe: video %s %dx%d %.3f s; audio %s %.3f s", v.Codec, v.Width, v.Height, v.Duration, a.Codec, a.Duration)
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Errorf("ffmpeg cannot decode the 240p rung cleanly: %v", err)
	}

	// the recording: the top rung (240p, no source rendition), ready
	var vid map[string]any
	waitFor(ctx, t, 60*time.Second, "a ready video of the broadcast", func() bool {
		vs := inputVideos(t, d, admin, id)
		if len(vs) > 0 && vs[0]["status"] == "ready" {
			vid = vs[0]
			return true
		}
		return false
	})
	pl := vid["playback"].(map[string]any)["hls"].(string)
	rv := ffprobe(ctx, t, pl, "v")
	if rv.Codec != "h264" || rv.Width != 320 || rv.Height != 240 || rv.Duration < 0.6*published {
		t.Errorf("ffprobe of the recording: video %s %dx%d %.3f s, want h264 320x240 about %d s", rv.Codec, rv.Width, rv.Height, rv.Duration, published)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Errorf("ffmpeg cannot decode the recording cleanly: %v", err)
	}
	t.Logf("recording %s: video %s %dx%d %.3f s", vid["id"], rv.Codec, rv.Width, rv.Height, rv.Duration)
}
