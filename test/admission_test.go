package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Addresses the tests forward with X-Forwarded-For from 127.0.0.1, the
// only trusted proxy (TEST-NET ranges, RFC 5737).
const (
	addrUS = "198.51.100.7" // US in the test GeoIP database
	addrDE = "203.0.113.9"  // DE
	// 127.0.0.0/8, the socket peer, is FR.
)

// writeGeoIPDB builds a small GeoLite2-Country database with mmdbwriter:
// 127.0.0.0/8 FR, 198.51.100.0/24 US, 203.0.113.0/24 DE.
func writeGeoIPDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, cc := range map[string]string{"127.0.0.0/8": "FR", "198.51.100.0/24": "US", "203.0.113.0/24": "DE"} {
		_, n, _ := net.ParseCIDR(cidr)
		if err := tree.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "country.mmdb", buf.Bytes())
}

// adminYAML sets api.admin_token through daemonConfig.ExtraYAML.
func adminYAML() (token, yaml string) {
	token = "adm_" + randomHex(16)
	return token, "api:\n  admin_token: " + q(token) + "\n"
}

// apiOK is apiCall that fails the test on another status and returns data.
func apiOK(t *testing.T, d *daemon, admin, method, path string, body any, want int) map[string]any {
	t.Helper()
	st, r := apiCall(t, d, admin, method, path, body)
	if st != want {
		t.Fatalf("%s %s: HTTP %d, want %d: %v", method, path, st, want, r)
	}
	return data(r)
}

// refusal is the JSON body of a refused playback request.
func refusal(f fetched) (reason, message string) {
	var b struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(f.Body, &b)
	return b.Error.Code, b.Error.Message
}

// TestGeoCountryRule: tokens with ip.geoip.country rules, checked against
// a GeoIP database built in the test, through the daemon: the socket peer
// (127.0.0.1, FR) and addresses forwarded by the trusted proxy 127.0.0.1
// in X-Forwarded-For (US, DE) are allowed or blocked as the rules say.
func TestGeoCountryRule(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, extra := adminYAML()
	d := startDaemon(t, daemonConfig{GeoIPDatabase: writeGeoIPDB(t), TrustedProxies: []string{"127.0.0.1/32"}, ExtraYAML: extra})
	li := apiOK(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E geo", "require_signed_urls": true}, http.StatusCreated)
	id, key := li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
	mint := func(rules ...any) string {
		t.Helper()
		return apiOK(t, d, admin, "POST", "/v1/live_inputs/"+id+"/token", map[string]any{"access_rules": rules}, http.StatusOK)["token"].(string)
	}
	onlyUS := mint(
		map[string]any{"type": "ip.geoip.country", "action": "allow", "country": []string{"US"}},
		map[string]any{"type": "any", "action": "block"})
	notFR := mint(map[string]any{"type": "ip.geoip.country", "action": "block", "country": []string{"FR"}})

	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 60})
	playlistURL := func(tok string) string { return d.URL("/live/" + id + "/index.m3u8?token=" + tok) }
	waitFor(ctx, t, 30*time.Second, "the playlist to answer 200 to a US viewer", func() bool {
		if !d.Alive() {
			t.Fatalf("mpegflow exited: %v", d.waitErr)
		}
		f, err := getWith(ctx, playlistURL(onlyUS), "X-Forwarded-For", addrUS)
		return err == nil && f.Status == http.StatusOK
	})
	for _, tt := range []struct {
		name, token, xff string
		allow            bool
	}{
		{"allow US, viewer FR (socket peer)", onlyUS, "", false},
		{"allow US, viewer US (forwarded)", onlyUS, addrUS, true},
		{"allow US, viewer DE (forwarded)", onlyUS, addrDE, false},
		{"allow US, viewer US behind a chain", onlyUS, addrDE + ", " + addrUS, true},
		{"block FR, viewer FR (socket peer)", notFR, "", false},
		{"block FR, viewer US (forwarded)", notFR, addrUS, true},
		{"block FR, viewer DE (forwarded)", notFR, addrDE, true},
	} {
		for _, u := range []string{playlistURL(tt.token), d.URL("/live/" + tt.token + "/index.m3u8")} {
			var hdr []string
			if tt.xff != "" {
				hdr = []string{"X-Forwarded-For", tt.xff}
			}
			f, err := getWith(ctx, u, hdr...)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			reason, _ := refusal(f)
			switch {
			case tt.allow && f.Status != http.StatusOK:
				t.Errorf("%s: HTTP %d %s, want 200", tt.name, f.Status, f.Body)
			case !tt.allow && (f.Status != http.StatusForbidden || reason != "access_rule_blocked"):
				t.Errorf("%s: HTTP %d %s, want 403 access_rule_blocked", tt.name, f.Status, f.Body)
			}
		}
	}
	if pub.Exited() {
		t.Errorf("the publisher ended early: %v", pub.err)
	}
}

// hookCall is one admission hook request as the test receiver saw it.
type hookCall struct {
	Header http.Header
	Body   []byte
	Req    struct {
		Action      string              `json:"action"`
		Protocol    string              `json:"protocol"`
		LiveInputID string              `json:"live_input_id"`
		ClientAddr  string              `json:"client_address"`
		Country     string              `json:"country"`
		UserAgent   string              `json:"user_agent"`
		Query       map[string][]string `json:"query"`
	}
}

// hookReceiver is an admission hook endpoint: decide answers each request.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []hookCall
	decide func(c hookCall) (status int, body string)
}

func newHookReceiver(t *testing.T, decide func(c hookCall) (int, string)) *hookReceiver {
	h := &hookReceiver{decide: decide}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := hookCall{Header: r.Header.Clone(), Body: b}
		if r.Method != http.MethodPost || json.Unmarshal(b, &c.Req) != nil {
			c.Req.Action = "INVALID " + r.Method
		}
		h.mu.Lock()
		h.calls = append(h.calls, c)
		h.mu.Unlock()
		status, body := h.decide(c)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) Calls() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// verifyHookSignature checks a hook request with the Standard Webhooks
// scheme, independently of the daemon's code: webhook-signature holds
// "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)),
// the secret being "whsec_" + base64 from GET /v1/admission_secret.
func verifyHookSignature(t *testing.T, secret string, c hookCall) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 16 {
		t.Fatalf("admission secret %q: want whsec_ + base64 of 16 bytes or more (%v)", secret, err)
	}
	id, ts := c.Header.Get("webhook-id"), c.Header.Get("webhook-timestamp")
	if id == "" {
		t.Errorf("hook request without webhook-id")
	}
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Errorf("webhook-timestamp %q not a current Unix time", ts)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(c.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	ok := false
	for _, s := range strings.Fields(c.Header.Get("webhook-signature")) {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	if !ok {
		t.Errorf("webhook-signature %q does not verify (want %s) for body %s", c.Header.Get("webhook-signature"), want, c.Body)
	}
	// the same body signed with another secret must not verify
	m = hmac.New(sha256.New, append([]byte{1}, key...))
	m.Write([]byte(id + "." + ts + "."))
	m.Write(c.Body)
	if strings.Contains(c.Header.Get("webhook-signature"), base64.StdEncoding.EncodeToString(m.Sum(nil))) {
		t.Errorf("the signature verifies with a wrong secret")
	}
}

// TestAdmissionPlayHook: with admission.play_url, the daemon asks the
// operator's service before a viewer session starts; the hook here denies
// the viewer forwarded as 203.0.113.9 and allows the others. The denied
// viewer gets 403 admission_denied with the hook's reason; the hook's
// requests are signed with the secret of GET /v1/admission_secret and
// describe the viewer; an allowed decision is cached for its ttl_seconds.
func TestAdmissionPlayHook(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const denyReason = "e2e: viewer not admitted"
	hook := newHookReceiver(t, func(c hookCall) (int, string) {
		if c.Req.ClientAddr == addrDE {
			b, _ := json.Marshal(map[string]any{"allow": false, "reason": denyReason, "ttl_seconds": 60})
			return http.StatusOK, string(b)
		}
		return http.StatusOK, `{"allow": true, "ttl_seconds": 60}`
	})
	admin, extra := adminYAML()
	in := newInput("e2e-play-hook")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, TrustedProxies: []string{"127.0.0.1/32"},
		GeoIPDatabase: writeGeoIPDB(t), AdmissionPlayURL: hook.srv.URL + "/play", AdmissionOnError: "deny", ExtraYAML: extra})
	secret, _ := apiOK(t, d, admin, "GET", "/v1/admission_secret", nil, http.StatusOK)["secret"].(string)

	pub := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 60})
	u := d.PlaylistURL(in.ID) + "?e2e=1"
	waitFor(ctx, t, 30*time.Second, "the playlist to answer 200 to an admitted viewer", func() bool {
		if !d.Alive() {
			t.Fatalf("mpegflow exited: %v", d.waitErr)
		}
		f, err := getWith(ctx, u, "User-Agent", "e2e-viewer/1")
		return err == nil && f.Status == http.StatusOK
	})
	if f, err := getWith(ctx, u, "X-Forwarded-For", addrUS); err != nil || f.Status != http.StatusOK {
		t.Errorf("admitted forwarded viewer: err %v HTTP %d %s", err, f.Status, f.Body)
	}
	for range 2 { // the second answer comes from the cache
		f, err := getWith(ctx, u, "X-Forwarded-For", addrDE)
		reason, msg := refusal(f)
		if err != nil || f.Status != http.StatusForbidden || reason != "admission_denied" || msg != denyReason {
			t.Errorf("denied viewer: err %v HTTP %d %s, want 403 admission_denied %q", err, f.Status, f.Body, denyReason)
		}
	}
	// media playlist of the admitted viewer: no new hook call (cached)
	multi := getPlaylist(ctx, t, u)
	if len(multi.Variants) > 0 {
		if f, err := get(ctx, resolve(u, multi.Variants[0].URI)); err != nil || f.Status != http.StatusOK {
			t.Errorf("media playlist of the admitted viewer: err %v HTTP %d", err, f.Status)
		}
	}

	calls := hook.Calls()
	perClient := map[string]int{}
	for _, c := range calls {
		perClient[c.Req.ClientAddr]++
		verifyHookSignature(t, secret, c)
		r := c.Req
		if r.Action != "play" || r.Protocol != "hls" || r.LiveInputID != in.ID {
			t.Errorf("hook request %s: want action play, protocol hls, live_input_id %s", c.Body, in.ID)
		}
		if got := r.Query["e2e"]; len(got) != 1 || got[0] != "1" {
			t.Errorf("hook request %s: query e2e=1 missing", c.Body)
		}
		if want := map[string]string{"127.0.0.1": "FR", addrUS: "US", addrDE: "DE"}[r.ClientAddr]; want == "" || r.Country != want {
			t.Errorf("hook request %s: client %q country %q", c.Body, r.ClientAddr, r.Country)
		}
		if c.Header.Get("Content-Type") != "application/json" {
			t.Errorf("hook Content-Type %q", c.Header.Get("Content-Type"))
		}
	}
	if perClient["127.0.0.1"] < 1 || perClient[addrUS] != 1 || perClient[addrDE] != 1 {
		t.Errorf("hook calls per client %v: want each viewer asked once (decisions cached for ttl_seconds)", perClient)
	}
	if perClient["127.0.0.1"] > 1 {
		t.Errorf("the admitted viewer was asked about %d times: the decision is not cached", perClient["127.0.0.1"])
	}
	for _, c := range calls {
		if c.Req.ClientAddr == "127.0.0.1" && c.Req.UserAgent != "e2e-viewer/1" {
			t.Errorf("hook request %s: user_agent", c.Body)
		}
	}
	if pub.Exited() {
		t.Errorf("the publisher ended early: %v", pub.err)
	}
}

// TestAdmissionPublishHook: with admission.publish_url, an RTMP publisher
// with a valid stream key the hook denies is disconnected (ffmpeg fails,
// no stream), while the one it allows goes live; the hook's requests are
// signed and carry no stream key.
func TestAdmissionPublishHook(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	deny, allow := newInput("e2e-pub-deny"), newInput("e2e-pub-allow")
	hook := newHookReceiver(t, func(c hookCall) (int, string) {
		if c.Req.LiveInputID == deny.ID {
			return http.StatusOK, `{"allow": false, "reason": "e2e: publisher not admitted"}`
		}
		return http.StatusNoContent, "" // 2xx without a body allows
	})
	admin, extra := adminYAML()
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{deny, allow}, AdmissionPublishURL: hook.srv.URL + "/publish", ExtraYAML: extra})
	secret, _ := apiOK(t, d, admin, "GET", "/v1/admission_secret", nil, http.StatusOK)["secret"].(string)

	denied := publish(ctx, t, d.RTMPURL(deny.Key), publishOpts{Seconds: 30})
	admitted := publish(ctx, t, d.RTMPURL(allow.Key), publishOpts{Seconds: 60})
	exited, err := denied.Wait(20 * time.Second)
	if !exited {
		t.Errorf("the denied publisher is still connected after 20 s")
	} else if err == nil {
		t.Errorf("the denied publisher's ffmpeg exited 0, want a failure")
	}
	waitLive(ctx, t, d, allow.ID, 30*time.Second)
	if f, err := get(ctx, d.PlaylistURL(deny.ID)); err != nil || f.Status == http.StatusOK {
		t.Errorf("the denied input plays: err %v HTTP %d", err, f.Status)
	}
	if admitted.Exited() {
		t.Errorf("the admitted publisher ended early: %v", admitted.err)
	}
	if !strings.Contains(d.Output(), "e2e: publisher not admitted") {
		t.Errorf("the daemon did not log the hook's reason")
	}

	seen := map[string]int{}
	for _, c := range hook.Calls() {
		seen[c.Req.LiveInputID]++
		verifyHookSignature(t, secret, c)
		if c.Req.Action != "publish" || c.Req.Protocol != "rtmp" || c.Req.ClientAddr != "127.0.0.1" {
			t.Errorf("hook request %s: want action publish, protocol rtmp, client 127.0.0.1", c.Body)
		}
		if bytes.Contains(c.Body, []byte(deny.Key)) || bytes.Contains(c.Body, []byte(allow.Key)) {
			t.Errorf("hook request carries a stream key: %s", c.Body)
		}
	}
	if seen[deny.ID] < 1 || seen[allow.ID] < 1 {
		t.Errorf("hook calls per input %v: want both publishers asked", seen)
	}
}
