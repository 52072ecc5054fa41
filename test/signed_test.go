package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signRS256 signs a JWT (RFC 7519) with an RSA key as any backend would,
// independently of the daemon's code.
func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// getWith is get with request headers.
func getWith(ctx context.Context, u string, hdr ...string) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetched{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return fetched{Status: resp.StatusCode, Body: b.Bytes(), Header: resp.Header}, err
}

// TestSignedPlayback: a live input with require_signed_urls, created over
// the API, is refused without a token on every kind of URL a player
// requests, and plays with a token in the path or as ?token= (ffprobe, and
// hls.js in Chromium); expired, tampered, foreign, rule-blocked tokens and
// tokens of a revoked key are refused; allowed_origins is enforced.
func TestSignedPlayback(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	api := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		st, r := apiCall(t, d, admin, method, path, body)
		if st != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %v", method, path, st, want, r)
		}
		return data(r)
	}
	li := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E signed", "require_signed_urls": true}, http.StatusCreated)
	id, key := li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
	other := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E other"}, http.StatusCreated)["id"].(string)
	mint := func(input string, body any) string {
		t.Helper()
		return api("POST", "/v1/live_inputs/"+input+"/token", body, http.StatusOK)["token"].(string)
	}
	tok := mint(id, nil)

	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 90})
	base := d.URL("/live/" + tok + "/")
	waitFor(ctx, t, 20*time.Second, "the token playlist to answer 200", func() bool {
		if !d.Alive() {
			t.Fatalf("mpegflow exited: %v", d.waitErr)
		}
		f, err := get(ctx, base+"index.m3u8")
		return err == nil && f.Status == http.StatusOK
	})
	multi := getPlaylist(ctx, t, base+"index.m3u8")
	if !multi.Multi || len(multi.Variants) == 0 {
		t.Fatalf("not a multivariant playlist:\n%s", multi.Raw)
	}
	mediaURL := resolve(base+"index.m3u8", multi.Variants[0].URI)
	var media *playlist
	waitFor(ctx, t, 20*time.Second, "a complete segment with parts", func() bool {
		media = getPlaylist(ctx, t, mediaURL)
		return len(media.Segments) > 0 && len(media.Pending.Parts)+len(media.Segments[len(media.Segments)-1].Parts) > 0
	})
	last := media.Segments[len(media.Segments)-1]
	partURI := ""
	if len(media.Pending.Parts) > 0 {
		partURI = media.Pending.Parts[0].URI
	} else {
		partURI = last.Parts[0].URI
	}
	msn, part := media.nextPart()
	sep := "?"
	if strings.Contains(mediaURL, "?") {
		sep = "&"
	}
	kinds := map[string]string{ // token-path URLs of every kind
		"player page":     base,
		"multivariant":    base + "index.m3u8",
		"media playlist":  mediaURL,
		"blocking reload": mediaURL + sep + fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", msn, part),
		"init":            resolve(mediaURL, last.Map),
		"part":            resolve(mediaURL, partURI),
		"segment":         resolve(mediaURL, last.URI),
	}
	tokPath := "/live/" + tok + "/"
	for kind, u := range kinds {
		if !strings.Contains(u, tokPath) {
			t.Fatalf("%s URL %s does not carry the token path", kind, u)
		}
		if f, err := get(ctx, u); err != nil || f.Status != http.StatusOK {
			t.Errorf("%s with the token in the path: err %v HTTP %d", kind, err, f.Status)
		}
		unsigned := strings.Replace(u, tokPath, "/live/"+id+"/", 1)
		f, err := get(ctx, unsigned)
		if err != nil || f.Status != http.StatusUnauthorized || !bytes.Contains(f.Body, []byte(`"token_required"`)) {
			t.Errorf("%s without a token: err %v HTTP %d %s, want 401 token_required", kind, err, f.Status, f.Body)
		}
		q := "?token="
		if strings.Contains(unsigned, "?") {
			q = "&token="
		}
		if f, err := get(ctx, unsigned+q+tok); err != nil || f.Status != http.StatusOK {
			t.Errorf("%s with ?token=: err %v HTTP %d %s", kind, err, f.Status, f.Body)
		}
	}
	// ?token= is carried onto every URI the playlists list
	qMulti := getPlaylist(ctx, t, d.URL("/live/"+id+"/index.m3u8?token="+tok))
	if !strings.Contains(qMulti.Variants[0].URI, "token="+tok) {
		t.Errorf("variant URI %q does not carry the token", qMulti.Variants[0].URI)
	}

	// ffprobe reads the stream through both token forms
	for name, u := range map[string]string{"path": base + "index.m3u8", "query": d.URL("/live/" + id + "/index.m3u8?token=" + tok)} {
		out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", u).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
			t.Errorf("ffprobe through the token %s: %v: %s", name, err, out)
		}
	}

	// refusals
	genKey := api("POST", "/v1/signing_keys", nil, http.StatusCreated)
	kid := genKey["id"].(string)
	pemB, _ := base64.StdEncoding.DecodeString(genKey["pem"].(string))
	blk, _ := pem.Decode(pemB)
	if blk == nil {
		t.Fatalf("signing key pem %q", pemB)
	}
	pk, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := pk.(*rsa.PrivateKey)
	now := time.Now().Unix()
	own := signRS256(t, rsaKey, kid, map[string]any{"sub": id, "exp": now + 600})
	pos, repl := len(own)-10, "A"
	if own[pos] == 'A' {
		repl = "B"
	}
	tampered := own[:pos] + repl + own[pos+1:]
	refusals := []struct {
		name, token string
		status      int
		reason      string
		queryOnly   bool // in the path, a token names its own input
	}{
		{"expired", signRS256(t, rsaKey, kid, map[string]any{"sub": id, "exp": now - 120}), 401, "token_expired", false},
		{"not yet valid", signRS256(t, rsaKey, kid, map[string]any{"sub": id, "exp": now + 600, "nbf": now + 300}), 401, "token_not_yet_valid", false},
		{"another input", mint(other, nil), 403, "token_wrong_subject", true},
		{"tampered", tampered, 401, "token_signature", false},
		{"unknown kid", signRS256(t, rsaKey, "key_unknown", map[string]any{"sub": id, "exp": now + 600}), 401, "token_unknown_key", false},
		{"ip rule excludes 127.0.0.1", mint(id, map[string]any{"access_rules": []any{
			map[string]any{"type": "ip.src", "action": "block", "ip": []string{"127.0.0.0/8", "::1/128"}}}}), 403, "access_rule_blocked", false},
		{"allow-list rules", mint(id, map[string]any{"access_rules": []any{
			map[string]any{"type": "ip.src", "action": "allow", "ip": []string{"192.0.2.0/24"}},
			map[string]any{"type": "any", "action": "block"}}}), 403, "access_rule_blocked", false},
		{"country rule without a database", mint(id, map[string]any{"access_rules": []any{
			map[string]any{"type": "ip.geoip.country", "action": "allow", "country": []string{"US"}}}}), 403, "access_rule_blocked", false},
	}
	for _, tt := range refusals {
		urls := []string{d.URL("/live/" + id + "/index.m3u8?token=" + tt.token)}
		if !tt.queryOnly {
			urls = append(urls, d.URL("/live/"+tt.token+"/index.m3u8"))
		}
		for _, u := range urls {
			f, err := get(ctx, u)
			if err != nil || f.Status != tt.status || !bytes.Contains(f.Body, []byte(`"`+tt.reason+`"`)) {
				t.Errorf("%s: err %v HTTP %d %s; want %d %s", tt.name, err, f.Status, f.Body, tt.status, tt.reason)
			}
		}
	}

	// a token of a registered key plays until the key is revoked, then is
	// refused within about a second
	u := d.URL("/live/" + own + "/index.m3u8")
	if f, err := get(ctx, u); err != nil || f.Status != http.StatusOK {
		t.Fatalf("token of the generated key: err %v HTTP %d %s", err, f.Status, f.Body)
	}
	api("DELETE", "/v1/signing_keys/"+kid, nil, http.StatusNoContent)
	revoked := time.Now()
	waitFor(ctx, t, 3*time.Second, "the revoked key's token to be refused", func() bool {
		f, err := get(ctx, u)
		return err == nil && f.Status == http.StatusUnauthorized
	})
	if took := time.Since(revoked); took > 1500*time.Millisecond {
		t.Errorf("revocation took %v to take effect", took)
	} else {
		t.Logf("revocation took effect after %v", took.Round(time.Millisecond))
	}

	// allowed_origins: refused from other origins; CORS names the origin
	origin := api("POST", "/v1/live_inputs", map[string]any{"name": "E2E origin", "allowed_origins": []string{"https://*.example.com"}}, http.StatusCreated)["id"].(string)
	ou := d.URL("/live/" + origin + "/index.m3u8")
	if f, err := getWith(ctx, ou, "Origin", "https://evil.example.net"); err != nil || f.Status != http.StatusForbidden || !bytes.Contains(f.Body, []byte("origin_not_allowed")) {
		t.Errorf("disallowed origin: err %v HTTP %d %s", err, f.Status, f.Body)
	}
	if f, err := getWith(ctx, ou, "Referer", "https://evil.example.net/page"); err != nil || f.Status != http.StatusForbidden {
		t.Errorf("disallowed referer: err %v HTTP %d", err, f.Status)
	}
	if f, err := getWith(ctx, ou, "Origin", "https://www.example.com"); err != nil || f.Status == http.StatusForbidden || f.Header.Get("Access-Control-Allow-Origin") != "https://www.example.com" {
		t.Errorf("allowed origin: err %v HTTP %d, Access-Control-Allow-Origin %q", err, f.Status, f.Header.Get("Access-Control-Allow-Origin"))
	}

	// metrics count refusals by reason
	if f, err := get(ctx, "http://"+d.Metric+"/metrics"); err != nil || !bytes.Contains(f.Body, []byte(`mpegflow_playback_refused_total{reason="token_required"}`)) {
		t.Errorf("refusal metric missing (err %v)", err)
	}

	// with gzip (as browsers ask), the media playlist of ?token= comes
	// compressed, and carries the token onto every URI it lists
	qMedia := resolve(d.URL("/live/"+id+"/index.m3u8?token="+tok), qMulti.Variants[0].URI)
	if f, err := getWith(ctx, qMedia, "Accept-Encoding", "gzip"); err != nil || f.Status != http.StatusOK || f.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("?token= media playlist with gzip: err %v HTTP %d %v", err, f.Status, f.Header)
	} else if zr, err := gzip.NewReader(bytes.NewReader(f.Body)); err != nil {
		t.Errorf("?token= media playlist: %v", err)
	} else if text, err := io.ReadAll(zr); err != nil {
		t.Errorf("?token= media playlist: %v", err)
	} else {
		uris := playlistURIs(text)
		for _, u := range uris {
			if !strings.Contains(u, "token="+tok) {
				t.Errorf("URI %q of the gzip playlist does not carry the token", u)
			}
		}
		t.Logf("FIGURE ?token= media playlist: %d bytes gzip, %d bytes of text, %d URIs", len(f.Body), len(text), len(uris))
	}

	// hls.js in Chromium through the token path, and with ?token=
	playSigned(ctx, t, base)
	playSigned(ctx, t, d.URL("/live/"+id+"/?token="+tok))
	if pub.Exited() {
		t.Errorf("the publisher ended early: %v", pub.err)
	}
}

// playSigned plays pageURL (the player page under the token path) with
// test/browser/play.mjs for 10 s; skipped when node, Chromium or the npm
// packages are missing (outside CI).
func playSigned(ctx context.Context, t *testing.T, pageURL string) {
	t.Helper()
	for _, need := range []string{chromiumPath(), filepath.Join(repoRoot, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			if inCI() {
				t.Fatalf("missing %s", need)
			}
			t.Logf("skipping hls.js playback: missing %s", need)
			return
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Logf("skipping hls.js playback: no node")
		return
	}
	const watch = 10
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot, "test", "browser", "play.mjs"),
		"--url", pageURL, "--seconds", fmt.Sprint(watch), "--timeout", "50", "--page", "daemon", "--chromium", chromiumPath())
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	t.Logf("play.mjs: %s", line)
	var r playResult
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		t.Fatalf("play.mjs: %v; output %q: %v; stderr %s", err, out, jerr, stderr.String())
	}
	if !r.OK || !strings.HasPrefix(r.Engine, "hls.js") {
		t.Fatalf("signed playback in Chromium failed: engine %q, errors %v (console: %v)", r.Engine, r.Errors, r.Console)
	}
	if r.CurrentTimeEnd == nil || r.CurrentTimeStart == nil || *r.CurrentTimeEnd-*r.CurrentTimeStart < 0.8*watch {
		t.Errorf("currentTime did not advance enough: %v → %v", r.CurrentTimeStart, r.CurrentTimeEnd)
	}
}
