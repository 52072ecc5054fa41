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
