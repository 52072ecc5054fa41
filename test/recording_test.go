package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// recordingDaemon starts a daemon with the control API and returns it with
// the admin token; it fails when /v1 is not served.
func recordingDaemon(ctx context.Context, t *testing.T, dataDir string) (*daemon, string) {
	t.Helper()
	return recordingDaemonWith(ctx, t, dataDir, daemonConfig{})
}

// recordingDaemonWith is recordingDaemon with cfg.
func recordingDaemonWith(ctx context.Context, t *testing.T, dataDir string, cfg daemonConfig) (*daemon, string) {
	t.Helper()
	d := startDaemonAt(t, dataDir, cfg)
	if f, err := get(ctx, d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	return d, admin
}

// createRecordedInput creates a live input with recording automatic and
// returns its id and stream key.
func createRecordedInput(t *testing.T, d *daemon, admin string) (string, string) {
	t.Helper()
	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E recording", "recording": map[string]any{"mode": "automatic"}})
	if st != http.StatusCreated {
		t.Fatalf("create live input: HTTP %d %v", st, r)
	}
	li := data(r)
	return li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
}

// inputVideos lists the recordings of a live input, newest first.
func inputVideos(t *testing.T, d *daemon, admin, id string) []map[string]any {
	t.Helper()
	st, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id+"/videos", nil)
	if st != http.StatusOK {
		t.Fatalf("list videos: HTTP %d %v", st, r)
	}
	var out []map[string]any
	for _, v := range r["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// fetchBody GETs u and returns the status, Content-Type and body.
func fetchBody(ctx context.Context, t *testing.T, u string, hdr map[string]string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

func within(got, want, frac float64) bool { return math.Abs(got-want) <= want*frac }

// TestRecordingToVOD: a broadcast of a live input with recording on becomes
// a video that plays as HLS VOD, downloads as MP4 and has a thumbnail; a
// webhook receiver gets recording.started, then video.ready with the
// video as GET /v1/videos/ID returns it, video.download.ready and
// video.deleted, none with a secret.
func TestRecordingToVOD(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, admin := recordingDaemonWith(ctx, t, filepath.Join(t.TempDir(), "data"),
		daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n"}) // the receiver listens on 127.0.0.1
	hook := newWHReceiver(t)
	_, hookSecret := createWebhook(t, d, admin, map[string]any{"url": hook.srv.URL})
	hook.setSecrets(hookSecret)
	id, key := createRecordedInput(t, d, admin)
	events := openEvents(ctx, t, d, admin)

	const secs = 20.0
	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: secs})
	events.waitEvent(t, "recording.started", id, 20*time.Second)
	// while it records: an EVENT playlist (DVR) whose EXT-X-TARGETDURATION
	// does not change as it grows (RFC 8216bis §6.2.1)
	var live []map[string]any
	waitFor(ctx, t, 20*time.Second, "the video in progress", func() bool {
		live = inputVideos(t, d, admin, id)
		return len(live) == 1
	})
	livePL := live[0]["playback"].(map[string]any)["hls"].(string)
	var targets []string
	var segs int
	waitFor(ctx, t, 30*time.Second, "an EVENT playlist that grew by 3 segments", func() bool {
		st, _, b := fetchBody(ctx, t, livePL, nil)
		if st != http.StatusOK {
			return false
		}
		if !bytes.Contains(b, []byte("#EXT-X-PLAYLIST-TYPE:EVENT\n")) || bytes.Contains(b, []byte("#EXT-X-ENDLIST")) {
			t.Fatalf("playlist while recording:\n%s", b)
		}
		m := regexp.MustCompile(`#EXT-X-TARGETDURATION:([0-9]+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no target duration:\n%s", b)
		}
		if n := bytes.Count(b, []byte("#EXTINF:")); n > segs || len(targets) == 0 {
			segs = n
			targets = append(targets, string(m[1]))
		}
		return len(targets) >= 4
	})
	for _, td := range targets {
		if td != targets[0] {
			t.Errorf("EXT-X-TARGETDURATION changed while the EVENT playlist grew: %v", targets)
		}
	}
	if exited, err := pub.Wait(60 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
	stopped := time.Now()
	ev := events.waitEvent(t, "video.ready", id, 20*time.Second)
	t.Logf("FIGURE publisher stop to video.ready: %v", time.Since(stopped).Round(time.Millisecond))
	if rec, _ := ev["data"].(map[string]any)["recovered"].(bool); rec {
		t.Error("video.ready says recovered after a clean end")
	}
	vids := inputVideos(t, d, admin, id)
	if len(vids) != 1 {
		t.Fatalf("%d videos, want 1: %v", len(vids), vids)
	}
	v := vids[0]
	vid := v["id"].(string)
	if v["status"] != "ready" {
		t.Fatalf("status %v, want ready", v["status"])
	}
	checkVideoWebhooks(t, d, admin, hook, id, vid, key)
	if dur := v["duration_seconds"].(float64); !within(dur, secs, 0.05) {
		t.Errorf("duration_seconds %.2f, want %.0f ±5%%", dur, secs)
	}
	if tr, _ := v["tracks"].([]any); len(tr) != 2 {
		t.Errorf("tracks %v, want video and audio", v["tracks"])
	} else if vt := tr[0].(map[string]any); vt["codec"] != "h264" || vt["width"] != 640.0 || vt["height"] != 360.0 {
		t.Errorf("video track %v, want h264 640x360", vt)
	}

	// HLS VOD
	pl := v["playback"].(map[string]any)["hls"].(string)
	st, ct, body := fetchBody(ctx, t, pl, nil)
	if st != http.StatusOK || !strings.Contains(ct, "mpegurl") {
		t.Fatalf("playlist: HTTP %d %s", st, ct)
	}
	for _, tag := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST", "#EXT-X-MAP:URI="} {
		if !bytes.Contains(body, []byte(tag)) {
			t.Errorf("playlist lacks %s:\n%s", tag, body)
		}
	}
	p := ffprobe(ctx, t, pl, "v")
	if p.Codec != "h264" || p.Width != 640 || !within(p.Duration, secs, 0.10) {
		t.Errorf("ffprobe of the VOD: %+v, want h264 640 wide, %.0f s ±10%%", p, secs)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Errorf("decoding the VOD: %v", err)
	}
	playVODInBrowser(ctx, t, v["playback"].(map[string]any)["player"].(string), secs)

	// a segment with a byte range
	if st, _, b := fetchBody(ctx, t, strings.Replace(pl, "index.m3u8", "seg0.m4s", 1), map[string]string{"Range": "bytes=0-7"}); st != http.StatusPartialContent || len(b) != 8 {
		t.Errorf("segment range: HTTP %d, %d bytes", st, len(b))
	}

	// thumbnail
	st, ct, body = fetchBody(ctx, t, v["thumbnail"].(string), nil)
	if st != http.StatusOK || ct != "image/jpeg" || !bytes.HasPrefix(body, []byte{0xff, 0xd8, 0xff}) {
		t.Errorf("thumbnail: HTTP %d %s, %d bytes", st, ct, len(body))
	} else if tp := ffprobe(ctx, t, writeFile(t, "thumb.jpg", body), "v"); tp.Width != 640 || tp.Height != 360 {
		t.Errorf("thumbnail is %dx%d, want 640x360", tp.Width, tp.Height)
	}
	st, _, body = fetchBody(ctx, t, v["thumbnail"].(string)+"?time=5&width=320", nil)
	if st != http.StatusOK || !bytes.HasPrefix(body, []byte{0xff, 0xd8, 0xff}) {
		t.Errorf("thumbnail at 5 s: HTTP %d", st)
	} else if tp := ffprobe(ctx, t, writeFile(t, "thumb320.jpg", body), "v"); tp.Width != 320 {
		t.Errorf("thumbnail with width=320 is %d wide", tp.Width)
	}

	// MP4 download (built on demand)
	start := time.Now()
	st, _, body = fetchBody(ctx, t, v["download"].(map[string]any)["url"].(string), nil)
	if st != http.StatusOK {
		t.Fatalf("download.mp4: HTTP %d %s", st, body)
	}
	t.Logf("FIGURE mp4 of %.0f s built and fetched in %v (%d bytes)", secs, time.Since(start).Round(time.Millisecond), len(body))
	if moov, mdat := bytes.Index(body, []byte("moov")), bytes.Index(body, []byte("mdat")); moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("download.mp4 is not faststart: moov at %d, mdat at %d", moov, mdat)
	}
	mp4 := writeFile(t, "download.mp4", body)
	if p := ffprobe(ctx, t, mp4, "v"); !within(p.Duration, secs, 0.10) {
		t.Errorf("ffprobe of the MP4: %+v", p)
	}
	if err := ffmpegDecodes(ctx, mp4); err != nil {
		t.Errorf("decoding the MP4: %v", err)
	}
	if _, r := apiCall(t, d, admin, "GET", "/v1/videos/"+vid, nil); data(r)["download"].(map[string]any)["status"] != "ready" {
		t.Errorf("download status after the build: %v", data(r)["download"])
	}
	dl := waitVideoWebhook(t, hook, "video.download.ready", vid)
	if dd, _ := dl.Data["download"].(map[string]any); dd["status"] != "ready" || dl.LiveInput != id {
		t.Errorf("video.download.ready: live input %s, data %v", dl.LiveInput, dl.Data)
	}

	// API: bad input, then DELETE removes the files
	if st, r := apiCall(t, d, admin, "GET", "/v1/videos/vid_doesnotexist", nil); st != http.StatusNotFound {
		t.Errorf("unknown video: HTTP %d %v", st, r)
	}
	if st, _ := apiCall(t, d, admin, "GET", "/v1/videos?status=bogus", nil); st != http.StatusBadRequest {
		t.Errorf("bad status filter: HTTP %d", st)
	}
	// a clip plays the requested range (cut at the nearest part
	// boundaries, starting on a key frame: GOP 1 s), and outlives its source
	st, r := apiCall(t, d, admin, "POST", "/v1/videos/"+vid+"/clips", map[string]any{"start_seconds": 2.5, "end_seconds": 5.5, "name": "E2E clip"})
	if st != http.StatusCreated {
		t.Fatalf("clip: HTTP %d %v", st, r)
	}
	clip := data(r)
	cr := clip["clip"].(map[string]any)
	cs, ce := cr["actual_start_seconds"].(float64), cr["actual_end_seconds"].(float64)
	if math.Abs(cs-2.5) > 0.6 || math.Abs(ce-5.5) > 0.25 || cr["start_seconds"] != 2.5 || cr["end_seconds"] != 5.5 {
		t.Errorf("clip range %.2f-%.2f for 2.5-5.5: %v", cs, ce, cr)
	}
	clipPL := clip["playback"].(map[string]any)["hls"].(string)
	if st, r := apiCall(t, d, admin, "POST", "/v1/videos/"+vid+"/clips", map[string]any{"start_seconds": 5, "end_seconds": 60}); st != http.StatusBadRequest {
		t.Errorf("clip past the end: HTTP %d %v", st, r)
	}

	if st, r := apiCall(t, d, admin, "DELETE", "/v1/videos/"+vid, nil); st != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %v", st, r)
	}
	events.waitEvent(t, "video.deleted", id, 10*time.Second)
	if del := waitVideoWebhook(t, hook, "video.deleted", vid); del.Data["status"] != "ready" || del.LiveInput != id {
		t.Errorf("video.deleted: live input %s, data %v (want the video as it was)", del.LiveInput, del.Data)
	}
	if p := ffprobe(ctx, t, clipPL, "v"); !within(p.Duration, ce-cs, 0.10) {
		t.Errorf("clip after its source was deleted: %.2f s, want %.2f", p.Duration, ce-cs)
	}
	if err := ffmpegDecodes(ctx, clipPL); err != nil {
		t.Errorf("decoding the clip: %v", err)
	}
	if st, _ := apiCall(t, d, admin, "DELETE", "/v1/videos/"+clip["id"].(string), nil); st != http.StatusNoContent {
		t.Errorf("delete clip: HTTP %d", st)
	}
	if st, _ := apiCall(t, d, admin, "GET", "/v1/videos/"+vid, nil); st != http.StatusNotFound {
		t.Errorf("GET after delete: HTTP %d", st)
	}
	for _, f := range []string{"index.m3u8", "seg0.m4s", "download.mp4"} {
		if st, _, _ := fetchBody(ctx, t, strings.Replace(pl, "index.m3u8", f, 1), nil); st != http.StatusNotFound {
			t.Errorf("%s after delete: HTTP %d", f, st)
		}
	}
}

// mustJSON is v as JSON.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitVideoWebhook waits for an event of type typ about video vid at the
// receiver.
func waitVideoWebhook(t *testing.T, hook *whReceiver, typ, vid string) whEvent {
	t.Helper()
	var found whEvent
	hook.waitFor(t, typ+" of "+vid, 20*time.Second, func(es []whEvent) bool {
		for _, e := range es {
			if e.Type == typ && e.Data["id"] == vid {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// checkVideoWebhooks: the receiver got recording.started then video.ready
// for video vid of live input li, after live_input.idle (the ready video
// comes from the end of the broadcast: one live input's events arrive in
// order); the data of video.ready is exactly what GET /v1/videos/ID
// returns now (no field is volatile before the MP4 is requested: the
// thumbnail made after the end is not in the object), that of
// recording.started the same object while it recorded; no event carries
// the stream key or a signing secret.
func checkVideoWebhooks(t *testing.T, d *daemon, admin string, hook *whReceiver, li, vid, streamKey string) {
	t.Helper()
	ready := waitVideoWebhook(t, hook, "video.ready", vid)
	st, r := apiCall(t, d, admin, "GET", "/v1/videos/"+vid, nil)
	if st != http.StatusOK {
		t.Fatalf("get video: HTTP %d %v", st, r)
	}
	want := data(r)
	es := hook.unique()
	var order []string
	var started whEvent
	for _, e := range es {
		if e.LiveInput != li {
			continue
		}
		order = append(order, e.Type)
		if e.Type == "recording.started" {
			started = e
		}
		b, _ := json.Marshal(e.Data)
		for _, secret := range []string{streamKey, "whsec_", "stream_key", "passphrase"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s data carries a secret (%q): %s", e.Type, secret, b)
			}
		}
	}
	pos := func(typ string) int {
		for i, o := range order {
			if o == typ {
				return i
			}
		}
		return -1
	}
	if s, i, rd := pos("recording.started"), pos("live_input.idle"), pos("video.ready"); s < 0 || i < 0 || !(s < rd && i < rd) {
		t.Errorf("events of the live input %v: want recording.started and live_input.idle before video.ready", order)
	}
	wb, _ := json.Marshal(want)
	rb, _ := json.Marshal(ready.Data)
	if string(wb) != string(rb) {
		t.Errorf("video.ready data\n%s\nis not what GET /v1/videos/%s returns\n%s", rb, vid, wb)
	}
	if ready.Data["recovered"] != false || ready.LiveInput != li {
		t.Errorf("video.ready: live input %s, recovered %v", ready.LiveInput, ready.Data["recovered"])
	}
	if started.Data["id"] != vid || started.Data["status"] != "live_recording" || started.Data["ended_at"] != nil {
		t.Errorf("recording.started data %v", started.Data)
	}
	for k := range want {
		if _, ok := started.Data[k]; !ok {
			t.Errorf("recording.started data lacks %q, which GET returns", k)
		}
	}
	for k := range started.Data {
		if _, ok := want[k]; !ok {
			t.Errorf("recording.started data has %q, which GET does not return", k)
		}
	}
}

// TestRecordingClipAtParts: a clip of a 20 s recording with 4 s segments,
// 200 ms parts and a key frame every second is cut at the nearest part
// boundaries, starting on a key frame: byte ranges of the first and last
// segments. Its HLS and MP4 last the range the response says, within one
// part, and decode without errors; its thumbnail is a JPEG.
func TestRecordingClipAtParts(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{SegmentDuration: "4s", PartDuration: "200ms"})
	if f, err := get(ctx, d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	admin := adminTokenRe.FindString(d.Output())
	id, key := createRecordedInput(t, d, admin)
	events := openEvents(ctx, t, d, admin)
	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 20})
	if exited, err := pub.Wait(90 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
	events.waitEvent(t, "video.ready", id, 30*time.Second)
	vid := inputVideos(t, d, admin, id)[0]["id"].(string)

	const part = 0.2
	const reqStart, reqEnd = 5.3, 12.7
	st, r := apiCall(t, d, admin, "POST", "/v1/videos/"+vid+"/clips", map[string]any{"start_seconds": reqStart, "end_seconds": reqEnd, "name": "parts"})
	if st != http.StatusCreated {
		t.Fatalf("clip: HTTP %d %v", st, r)
	}
	clip := data(r)
	cr := clip["clip"].(map[string]any)
	t.Logf("clip response: %v", cr)
	as, ae := cr["actual_start_seconds"].(float64), cr["actual_end_seconds"].(float64)
	// the start: the key frame nearest 5.3 s (one a second), on a part boundary
	if cr["start_seconds"] != reqStart || cr["end_seconds"] != reqEnd || cr["cut_at"] != "parts" || cr["note"] == "" {
		t.Errorf("clip response %v", cr)
	}
	if math.Abs(as-reqStart) > 0.5+part/4 || math.Abs(ae-reqEnd) > part/2+0.01 {
		t.Errorf("actual range %.3f-%.3f for %.1f-%.1f: want the key frame nearest the start and the part boundary nearest the end", as, ae, reqStart, reqEnd)
	}
	if got := clip["duration_seconds"].(float64); math.Abs(got-(ae-as)) > 0.001 {
		t.Errorf("clip duration_seconds %.3f, range %.3f", got, ae-as)
	}
	pl := clip["playback"].(map[string]any)["hls"].(string)
	st, _, body := fetchBody(ctx, t, pl, nil)
	if st != http.StatusOK || bytes.Count(body, []byte("#EXT-X-BYTERANGE:")) != 2 || !bytes.Contains(body, []byte("#EXT-X-ENDLIST")) {
		t.Fatalf("clip playlist (want byte ranges on its first and last segments): HTTP %d\n%s", st, body)
	}
	p := ffprobe(ctx, t, pl, "v")
	t.Logf("FIGURE clip of %.1f-%.1f s cut to %.3f-%.3f s; ffprobe: HLS %.3f s", reqStart, reqEnd, as, ae, p.Duration)
	if math.Abs(p.Duration-(ae-as)) > part {
		t.Errorf("ffprobe of the clip's HLS: %.3f s, want %.3f ±%.1f", p.Duration, ae-as, part)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Errorf("decoding the clip's HLS: %v", err)
	}
	playVODInBrowser(ctx, t, clip["playback"].(map[string]any)["player"].(string), ae-as) // hls.js fetches the byte ranges
	st, _, body = fetchBody(ctx, t, clip["download"].(map[string]any)["url"].(string), nil)
	if st != http.StatusOK {
		t.Fatalf("clip download.mp4: HTTP %d %s", st, body)
	}
	mp4 := writeFile(t, "clip.mp4", body)
	p = ffprobe(ctx, t, mp4, "v")
	t.Logf("FIGURE clip MP4: ffprobe %.3f s", p.Duration)
	if math.Abs(p.Duration-(ae-as)) > part {
		t.Errorf("ffprobe of the clip's MP4: %.3f s, want %.3f ±%.1f", p.Duration, ae-as, part)
	}
	if err := ffmpegDecodes(ctx, mp4); err != nil {
		t.Errorf("decoding the clip's MP4: %v", err)
	}
	for _, q := range []string{"", "?time=0.1&width=320"} {
		st, ct, body := fetchBody(ctx, t, clip["thumbnail"].(string)+q, nil)
		if st != http.StatusOK || ct != "image/jpeg" || !bytes.HasPrefix(body, []byte{0xff, 0xd8, 0xff}) {
			t.Errorf("clip thumbnail%s: HTTP %d %s, %d bytes", q, st, ct, len(body))
		}
	}
}

// TestRecordingSurvivesSIGKILL: a daemon killed mid-broadcast recovers the
// recording at its next start: ready, recovered, playable to its last
// complete segment.
func TestRecordingSurvivesSIGKILL(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n"} // the receiver listens on 127.0.0.1
	d, admin := recordingDaemonWith(ctx, t, dataDir, cfg)
	hook := newWHReceiver(t)
	_, hookSecret := createWebhook(t, d, admin, map[string]any{"url": hook.srv.URL})
	hook.setSecrets(hookSecret)
	id, key := createRecordedInput(t, d, admin)
	publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 60})

	var v map[string]any
	waitFor(ctx, t, 40*time.Second, "6 s recorded", func() bool {
		vids := inputVideos(t, d, admin, id)
		if len(vids) == 0 {
			return false
		}
		v = vids[0]
		return v["duration_seconds"].(float64) >= 6
	})
	if v["status"] != "live_recording" {
		t.Fatalf("status while live: %v", v["status"])
	}
	// DVR: while recording, the video plays from its start as an EVENT playlist
	pl := v["playback"].(map[string]any)["hls"].(string)
	if st, _, b := fetchBody(ctx, t, pl, nil); st != http.StatusOK || !bytes.Contains(b, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) || bytes.Contains(b, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("playlist while recording: HTTP %d\n%s", st, b)
	}
	if st, _, _ := fetchBody(ctx, t, strings.Replace(pl, "index.m3u8", "download.mp4", 1), nil); st != http.StatusConflict {
		t.Errorf("download.mp4 while recording: HTTP %d, want 409", st)
	}
	if st, _ := apiCall(t, d, admin, "POST", "/v1/videos/"+v["id"].(string)+"/downloads", nil); st != http.StatusConflict {
		t.Errorf("POST downloads while recording: HTTP %d, want 409", st)
	}
	before := v["duration_seconds"].(float64)

	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.done
	d.stopOnce.Do(func() {}) // killed on purpose: no SIGTERM check at cleanup

	d2 := startDaemonAt(t, dataDir, cfg)
	st, r := apiCall(t, d2, admin, "GET", "/v1/videos/"+v["id"].(string), nil)
	if st != http.StatusOK {
		t.Fatalf("video after restart: HTTP %d %v", st, r)
	}
	v = data(r)
	// the recovery's video.ready reaches the receiver: the video as GET
	// returns it, recovered
	ready := waitVideoWebhook(t, hook, "video.ready", v["id"].(string))
	if wb, rb := mustJSON(t, v), mustJSON(t, ready.Data); wb != rb || ready.Data["recovered"] != true || ready.LiveInput != id {
		t.Errorf("video.ready after the crash (live input %s)\n%s\nGET /v1/videos/ID\n%s", ready.LiveInput, rb, wb)
	}
	if ts := typesOf(hook.unique(), id); len(ts) == 0 || ts[0] != "live_input.created" || !slices.Contains(ts, "recording.started") {
		t.Errorf("events of the live input: %v", ts)
	}
	dur := v["duration_seconds"].(float64)
	t.Logf("recorded %.2f s before the kill was observed; recovered %.2f s", before, dur)
	if v["status"] != "ready" || v["recovered"] != true || dur < before || dur > before+5 {
		t.Fatalf("recovered video: status %v recovered %v duration %.2f (at least %.2f)", v["status"], v["recovered"], dur, before)
	}
	pl = v["playback"].(map[string]any)["hls"].(string)
	st, _, body := fetchBody(ctx, t, pl, nil)
	if st != http.StatusOK || !bytes.Contains(body, []byte("#EXT-X-ENDLIST")) || !bytes.Contains(body, []byte("#EXT-X-PLAYLIST-TYPE:VOD")) {
		t.Fatalf("recovered playlist: HTTP %d\n%s", st, body)
	}
	if p := ffprobe(ctx, t, pl, "v"); !within(p.Duration, dur, 0.10) {
		t.Errorf("ffprobe of the recovered VOD: %.2f s, want %.2f ±10%%", p.Duration, dur)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Errorf("decoding the recovered VOD: %v", err)
	}
}

// TestRecordingReconnectIsOneVideo: a reconnect within the window
// continues the same video; a broadcast after the window is a new one.
func TestRecordingReconnectIsOneVideo(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A 6 s window: long enough to restart ffmpeg on a busy 2-core machine.
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ReconnectWindow: "6s"})
	if f, err := get(ctx, d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	admin := adminTokenRe.FindString(d.Output())
	id, key := createRecordedInput(t, d, admin)
	events := openEvents(ctx, t, d, admin)

	for i := range 2 {
		p := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 4})
		if exited, err := p.Wait(30 * time.Second); !exited || err != nil {
			t.Fatalf("publisher %d: exited %v, %v", i, exited, err)
		}
	}
	events.waitEvent(t, "video.ready", id, 30*time.Second)
	vids := inputVideos(t, d, admin, id)
	if len(vids) != 1 {
		t.Fatalf("%d videos after a reconnect within the window, want 1", len(vids))
	}
	if dur := vids[0]["duration_seconds"].(float64); !within(dur, 8, 0.15) {
		t.Errorf("duration %.2f s, want 8 ±15%% (both sessions)", dur)
	}
	if p := ffprobe(ctx, t, vids[0]["playback"].(map[string]any)["hls"].(string), "v"); !within(p.Duration, 8, 0.15) {
		t.Errorf("ffprobe of the VOD: %.2f s, want 8 ±15%%", p.Duration)
	}

	// after the window: a new broadcast, a new video
	p := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 3})
	if exited, err := p.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("third publisher: exited %v, %v", exited, err)
	}
	waitFor(ctx, t, 30*time.Second, "a second ready video", func() bool {
		vids = inputVideos(t, d, admin, id)
		return len(vids) == 2 && vids[0]["status"] == "ready"
	})
}

// TestRecordingToS3: the same recording with storage.kind s3, against a
// real S3-compatible server (versitygw; scripts/s3.sh installs it).
func TestRecordingToS3(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	endpoint, s3dir := startVersityGW(t)
	extra := fmt.Sprintf("storage:\n  kind: s3\n  s3:\n    endpoint: %q\n    bucket: recordings\n    access_key: e2ekey\n    secret_key: e2esecret123\n    use_tls: false\n", endpoint)
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{ExtraYAML: extra})
	if f, err := get(ctx, d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	admin := adminTokenRe.FindString(d.Output())
	id, key := createRecordedInput(t, d, admin)
	events := openEvents(ctx, t, d, admin)
	p := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 6})
	if exited, err := p.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
	events.waitEvent(t, "video.ready", id, 20*time.Second)
	v := inputVideos(t, d, admin, id)[0]
	vid := v["id"].(string)
	pl := v["playback"].(map[string]any)["hls"].(string)
	if p := ffprobe(ctx, t, pl, "v"); !within(p.Duration, 6, 0.10) {
		t.Errorf("ffprobe of the VOD from S3: %.2f s", p.Duration)
	}
	if err := ffmpegDecodes(ctx, pl); err != nil {
		t.Errorf("decoding the VOD from S3: %v", err)
	}
	st, _, body := fetchBody(ctx, t, v["download"].(map[string]any)["url"].(string), nil)
	if st != http.StatusOK || ffprobe(ctx, t, writeFile(t, "s3.mp4", body), "v").Duration < 5 {
		t.Errorf("download.mp4 from S3: HTTP %d, %d bytes", st, len(body))
	}
	// a clip cut inside a segment: its HLS plays a byte range of the
	// object, its MP4 is built from a ranged GET
	st, r := apiCall(t, d, admin, "POST", "/v1/videos/"+vid+"/clips", map[string]any{"start_seconds": 1.3, "end_seconds": 4.7})
	if st != http.StatusCreated {
		t.Fatalf("clip on S3: HTTP %d %v", st, r)
	}
	clip := data(r)
	cr := clip["clip"].(map[string]any)
	as, ae := cr["actual_start_seconds"].(float64), cr["actual_end_seconds"].(float64)
	if cr["cut_at"] != "parts" || math.Abs(ae-4.7) > 0.11 {
		t.Errorf("clip on S3: %v", cr)
	}
	clipPL := clip["playback"].(map[string]any)["hls"].(string)
	if p := ffprobe(ctx, t, clipPL, "v"); math.Abs(p.Duration-(ae-as)) > 0.2 {
		t.Errorf("ffprobe of the clip's HLS from S3: %.3f s, want %.3f", p.Duration, ae-as)
	}
	st, _, body = fetchBody(ctx, t, clip["download"].(map[string]any)["url"].(string), nil)
	if st != http.StatusOK {
		t.Fatalf("clip download.mp4 from S3: HTTP %d %s", st, body)
	}
	clipMP4 := writeFile(t, "s3clip.mp4", body)
	if p := ffprobe(ctx, t, clipMP4, "v"); math.Abs(p.Duration-(ae-as)) > 0.2 {
		t.Errorf("ffprobe of the clip's MP4 from S3: %.3f s, want %.3f", p.Duration, ae-as)
	}
	if err := ffmpegDecodes(ctx, clipMP4); err != nil {
		t.Errorf("decoding the clip's MP4 from S3: %v", err)
	}
	if st, _ := apiCall(t, d, admin, "DELETE", "/v1/videos/"+clip["id"].(string), nil); st != http.StatusNoContent {
		t.Fatalf("delete clip: HTTP %d", st)
	}

	objs, _ := filepath.Glob(filepath.Join(s3dir, "recordings", "videos", vid, "seg*.m4s"))
	if len(objs) < 3 {
		t.Fatalf("%d segment objects in the bucket, want the recording's", len(objs))
	}
	if st, _ := apiCall(t, d, admin, "DELETE", "/v1/videos/"+vid, nil); st != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d", st)
	}
	if objs, _ := filepath.Glob(filepath.Join(s3dir, "recordings", "videos", vid, "*")); len(objs) != 0 {
		t.Errorf("objects left in the bucket after DELETE: %v", objs)
	}
}

// startVersityGW starts versitygw on a free loopback port serving a
// temporary directory, and returns its address and the directory. Skipped
// without versitygw unless CI is set (scripts/s3.sh installs it).
func startVersityGW(t *testing.T) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		cand := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, serr := os.Stat(cand); serr == nil {
			bin, err = cand, nil
		}
	}
	if err != nil {
		if inCI() {
			t.Fatal("versitygw not found: run scripts/s3.sh")
		}
		t.Skip("versitygw not found (scripts/s3.sh installs it)")
	}
	addr := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--access", "e2ekey", "--secret", "e2esecret123", "--port", addr, "posix", dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr, dir
		}
		select {
		case <-done:
			t.Fatalf("versitygw exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRecordingGracefulStop: SIGTERM mid-broadcast ends the recording
// cleanly (ready, not "recovered") before the daemon exits.
func TestRecordingGracefulStop(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n"} // the receiver listens on 127.0.0.1
	d, admin := recordingDaemonWith(ctx, t, dataDir, cfg)
	hook := newWHReceiver(t)
	_, hookSecret := createWebhook(t, d, admin, map[string]any{"url": hook.srv.URL})
	hook.setSecrets(hookSecret)
	id, key := createRecordedInput(t, d, admin)
	publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 60})
	var before float64
	waitFor(ctx, t, 40*time.Second, "4 s recorded", func() bool {
		vids := inputVideos(t, d, admin, id)
		if len(vids) == 0 {
			return false
		}
		before = vids[0]["duration_seconds"].(float64)
		return before >= 4
	})
	d.Stop() // SIGTERM; must exit cleanly within 10 s
	d2 := startDaemonAt(t, dataDir, daemonConfig{})
	vids := inputVideos(t, d2, admin, id)
	if len(vids) != 1 {
		t.Fatalf("%d videos after restart", len(vids))
	}
	v := vids[0]
	if v["status"] != "ready" || v["recovered"] != false || v["duration_seconds"].(float64) < before {
		t.Fatalf("video after a graceful stop: status %v recovered %v duration %v (at least %.2f)", v["status"], v["recovered"], v["duration_seconds"], before)
	}
}

// playVODInBrowser plays the player page of a recording with hls.js in
// headless Chromium and seeks to the middle (test/browser/vod.mjs); skipped
// without Chromium or node_modules, unless CI is set.
func playVODInBrowser(ctx context.Context, t *testing.T, pageURL string, secs float64) {
	t.Helper()
	for _, need := range []string{chromiumPath(), filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			if inCI() {
				t.Fatalf("missing %s (run scripts/deps.sh)", need)
			}
			t.Logf("hls.js check skipped: missing %s", need)
			return
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Logf("hls.js check skipped: no node")
		return
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "vod.mjs"), "--url", pageURL, "--chromium", chromiumPath())
	cmd.Dir = repoRoot
	cmd.WaitDelay = 5 * time.Second
	out, _ := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var r struct {
		OK                                    bool
		Engine                                string
		Duration, PlayedTo, SeekTo, AfterSeek float64
		Errors, Console                       []string
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("vod.mjs output %q: %v", out, err)
	}
	t.Logf("hls.js VOD: %s", line)
	if !r.OK || !strings.HasPrefix(r.Engine, "hls.js") {
		t.Fatalf("hls.js VOD playback failed: %v (console %v)", r.Errors, r.Console)
	}
	if !within(r.Duration, secs, 0.10) {
		t.Errorf("hls.js sees a %.2f s VOD, want %.0f ±10%%", r.Duration, secs)
	}
}
