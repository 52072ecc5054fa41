package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// playlistURIs returns the URIs a media playlist lists: its URI lines and
// the URI attributes of its tags.
func playlistURIs(pl []byte) []string {
	var out []string
	attr := regexp.MustCompile(`URI="([^"]*)"`)
	for _, line := range strings.Split(string(pl), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			for _, m := range attr.FindAllStringSubmatch(line, -1) {
				out = append(out, m[1])
			}
		default:
			out = append(out, line)
		}
	}
	return out
}

// TestSignedVideo: a broadcast of a live input with require_signed_urls is
// recorded to a video that inherits it; every resource of the video
// (player page, playlist, init segment, segments, thumbnail, MP4 download)
// is refused without a token; a token minted by POST /v1/videos/ID/token
// plays in the path and as ?token= (which the VOD playlist carries onto
// every URI, and ffmpeg decodes both); a token for another video (a clip)
// and one for the live input are refused; allowed_origins is enforced.
func TestSignedVideo(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, admin := recordingDaemon(ctx, t, filepath.Join(t.TempDir(), "data"))
	api := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		st, r := apiCall(t, d, admin, method, path, body)
		if st != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %v", method, path, st, want, r)
		}
		return data(r)
	}
	li := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E signed recording",
		"recording": map[string]any{"mode": "automatic"}, "require_signed_urls": true}, http.StatusCreated)
	id := li["id"].(string)
	key := li["rtmp"].(map[string]any)["stream_key"].(string)
	events := openEvents(ctx, t, d, admin)

	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 6})
	events.waitEvent(t, "recording.started", id, 20*time.Second)
	if exited, err := pub.Wait(40 * time.Second); !exited || err != nil {
		t.Fatalf("publisher: exited %v, %v", exited, err)
	}
	events.waitEvent(t, "video.ready", id, 30*time.Second)
	vids := inputVideos(t, d, admin, id)
	if len(vids) != 1 {
		t.Fatalf("%d videos, want 1", len(vids))
	}
	vid := vids[0]["id"].(string)
	if vids[0]["require_signed_urls"] != true {
		t.Fatalf("the video of a signed input has require_signed_urls %v", vids[0]["require_signed_urls"])
	}
	base := d.URL("/videos/" + vid + "/")

	// what the player requests, refused without a token
	expect := func(u string, want int, reason string, hdr ...string) fetched {
		t.Helper()
		f, err := getWith(ctx, u, hdr...)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		if f.Status != want {
			t.Fatalf("GET %s: HTTP %d, want %d: %s", u, f.Status, want, f.Body)
		}
		if reason != "" && !bytes.Contains(f.Body, []byte(`"`+reason+`"`)) {
			t.Fatalf("GET %s: body %s, want reason %s", u, f.Body, reason)
		}
		return f
	}
	for _, rest := range []string{"", "index.m3u8", "init0.mp4", "seg0.m4s", "seg1.m4s", "thumbnail.jpg", "thumbnail.jpg?time=1&width=160", "download.mp4"} {
		expect(base+rest, http.StatusUnauthorized, "token_required")
	}

	tok := api("POST", "/v1/videos/"+vid+"/token", map[string]any{"ttl_seconds": 600}, http.StatusOK)["token"].(string)

	// the token in the path: relative URIs carry it with no rewriting
	pathBase := d.URL("/videos/" + tok + "/")
	pl := expect(pathBase+"index.m3u8", http.StatusOK, "").Body
	if !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) {
		t.Fatalf("not a VOD playlist:\n%s", pl)
	}
	uris := playlistURIs(pl)
	if len(uris) < 3 {
		t.Fatalf("playlist lists %v", uris)
	}
	for _, u := range uris {
		expect(pathBase+u, http.StatusOK, "")
	}
	for _, rest := range []string{"", "thumbnail.jpg", "thumbnail.jpg?time=1&width=160", "download.mp4"} {
		expect(pathBase+rest, http.StatusOK, "")
	}
	if err := ffmpegDecodes(ctx, pathBase+"index.m3u8"); err != nil {
		t.Errorf("decoding with the token in the path: %v", err)
	}

	// ?token=: carried onto every URI of the playlist, EXT-X-MAP included
	q := "token=" + url.QueryEscape(tok)
	pl = expect(base+"index.m3u8?"+q, http.StatusOK, "").Body
	uris = playlistURIs(pl)
	maps := 0
	for _, u := range uris {
		if !strings.HasSuffix(u, "?"+q) {
			t.Errorf("URI %q does not carry the token", u)
		}
		if strings.HasPrefix(u, "init") {
			maps++
		}
		expect(base+u, http.StatusOK, "")
	}
	if maps == 0 {
		t.Errorf("no EXT-X-MAP URI in\n%s", pl)
	}
	for _, rest := range []string{"?" + q, "thumbnail.jpg?" + q, "thumbnail.jpg?time=1&width=160&" + q, "download.mp4?" + q} {
		expect(base+rest, http.StatusOK, "")
	}
	if err := ffmpegDecodes(ctx, base+"index.m3u8?"+q); err != nil {
		t.Errorf("decoding with ?token=: %v", err)
	}

	// a token for another video (a clip of this one, signed too) and the
	// live input's token are refused; the clip's token plays the clip
	clip := api("POST", "/v1/videos/"+vid+"/clips", map[string]any{"start_seconds": 0, "end_seconds": 2}, http.StatusCreated)
	clipID := clip["id"].(string)
	if clip["require_signed_urls"] != true {
		t.Errorf("clip require_signed_urls %v", clip["require_signed_urls"])
	}
	clipTok := api("POST", "/v1/videos/"+clipID+"/token", nil, http.StatusOK)["token"].(string)
	liTok := api("POST", "/v1/live_inputs/"+id+"/token", nil, http.StatusOK)["token"].(string)
	for _, other := range []string{clipTok, liTok} {
		oq := "?token=" + url.QueryEscape(other)
		expect(base+"index.m3u8"+oq, http.StatusForbidden, "token_wrong_subject")
		expect(base+"seg0.m4s"+oq, http.StatusForbidden, "token_wrong_subject")
		expect(base+"download.mp4"+oq, http.StatusForbidden, "token_wrong_subject")
	}
	expect(d.URL("/videos/"+clipTok+"/index.m3u8"), http.StatusOK, "")
	expect(d.URL("/videos/"+clipID+"/index.m3u8?token="+url.QueryEscape(clipTok)), http.StatusOK, "")
	// a tampered token
	bad := tok[:len(tok)-6] + "AAAAAA"
	expect(d.URL("/videos/"+bad+"/index.m3u8"), http.StatusUnauthorized, "token_signature")

	// allowed_origins (applied within a second)
	api("PATCH", "/v1/videos/"+vid, map[string]any{"allowed_origins": []string{"https://*.good.example"}}, http.StatusOK)
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := getWith(ctx, base+"index.m3u8?"+q, "Origin", "https://evil.example")
		if err == nil && f.Status == http.StatusForbidden && bytes.Contains(f.Body, []byte("origin_not_allowed")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("allowed_origins not enforced: %+v %v", f.Status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	expect(pathBase+"seg0.m4s", http.StatusForbidden, "origin_not_allowed", "Referer", "https://evil.example/page")
	f := expect(base+"index.m3u8?"+q, http.StatusOK, "", "Origin", "https://www.good.example")
	if got := f.Header.Get("Access-Control-Allow-Origin"); got != "https://www.good.example" {
		t.Errorf("Access-Control-Allow-Origin %q, want the request's origin", got)
	}
	expect(pathBase+"seg0.m4s", http.StatusOK, "", "Origin", "https://www.good.example")

	// require_signed_urls off: the video is public again (within a second)
	api("PATCH", "/v1/videos/"+vid, map[string]any{"require_signed_urls": false, "allowed_origins": []string{}}, http.StatusOK)
	deadline = time.Now().Add(5 * time.Second)
	for {
		f, err := getWith(ctx, base+"index.m3u8")
		if err == nil && f.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("public video refused: %+v %v", f.Status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
