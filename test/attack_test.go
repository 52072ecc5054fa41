package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

// attackResp is one raw answer of the daemon.
type attackResp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// attackCall sends a request with extra headers (name, value pairs).
func attackCall(t *testing.T, d *daemon, token, method, path string, body any, hdr ...string) attackResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.URL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := attackResp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}

// teeProxy forwards one TCP connection at a time to target and keeps what
// the server sent, so that a test sees the RTMP onStatus codes the go-rtmp
// client ignores.
type teeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	got    bytes.Buffer
	gen    int           // bumped by reset: closes of older connections are not reported
	closed chan struct{} // a server side closed (one value per connection since the last reset)
}

func newTeeProxy(t *testing.T, target string) *teeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &teeProxy{ln: ln, target: target, closed: make(chan struct{}, 64)}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			gen := p.gen
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						p.mu.Lock()
						if gen == p.gen {
							p.got.Write(buf[:n])
						}
						p.mu.Unlock()
						_, _ = c.Write(buf[:n])
					}
					if err != nil {
						break
					}
				}
				c.Close()
				p.mu.Lock()
				current := gen == p.gen
				p.mu.Unlock()
				if current {
					p.closed <- struct{}{}
				}
			}()
		}
	}()
	return p
}

// reset forgets what was received and the closes seen so far.
func (p *teeProxy) reset() {
	p.mu.Lock()
	p.got.Reset()
	p.gen++
	p.mu.Unlock()
	for {
		select {
		case <-p.closed:
		default:
			return
		}
	}
}

func (p *teeProxy) has(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return rtmptest.ServerSent(p.got.Bytes(), s)
}

func (p *teeProxy) url(key string) string { return "rtmp://" + p.ln.Addr().String() + "/live/" + key }

// TestAttackRegression replays against the real binary what an attacker
// tried: token revocation, the ingest throttle, the API limiter, secrets in
// idempotency replays, SSRF address forms, and the small ones (token list,
// Cache-Control of signed playlists, parts and segments, the busy RTMP key, bidi names, the
// percent-encoded SRT stream id).
func TestAttackRegression(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin := "mf_attackadmintoken" + randomHex(16)
	static := newInput("atk")
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{
		Inputs:         []liveInput{static},
		TrustedProxies: []string{"127.0.0.1/32"},
		ExtraYAML:      "api:\n  admin_token: " + q(admin) + "\n",
	})
	call := func(t *testing.T, token, method, path string, body any, want int, hdr ...string) attackResp {
		t.Helper()
		r := attackCall(t, d, token, method, path, body, hdr...)
		if want != 0 && r.Status != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, r.Status, want, r.Body)
		}
		return r
	}
	tokenID := func(t *testing.T, name string) string {
		for _, it := range call(t, admin, "GET", "/v1/tokens?limit=1000", nil, 200).JSON["data"].([]any) {
			m := it.(map[string]any)
			if m["name"] == name {
				return m["id"].(string)
			}
		}
		t.Fatalf("no token named %q", name)
		return ""
	}

	t.Run("token list shows at most 4 characters", func(t *testing.T) {
		r := call(t, admin, "GET", "/v1/tokens", nil, 200)
		for _, it := range r.JSON["data"].([]any) {
			p := strings.Trim(it.(map[string]any)["prefix"].(string), "…")
			if utf8.RuneCountInString(p) > 4 {
				t.Fatalf("prefix %q", p)
			}
		}
		if bytes.Contains(r.Body, []byte(admin[:8])) {
			t.Fatalf("list shows the start of the admin token: %s", r.Body)
		}
	})

	t.Run("idempotency replays carry no secret", func(t *testing.T) {
		body := map[string]any{"name": "idem"}
		a := call(t, admin, "POST", "/v1/live_inputs", body, 201, "Idempotency-Key", "atk-1")
		key := a.JSON["data"].(map[string]any)["rtmp"].(map[string]any)["stream_key"].(string)
		b := call(t, admin, "POST", "/v1/live_inputs", body, 201, "Idempotency-Key", "atk-1")
		if b.Header.Get("Secret-Omitted") != "true" || bytes.Contains(b.Body, []byte(key)) {
			t.Fatalf("replay: %v %s", b.Header, b.Body)
		}
		tb := map[string]any{"name": "idem", "scopes": []string{"live_inputs:read"}}
		ta := call(t, admin, "POST", "/v1/tokens", tb, 201, "Idempotency-Key", "atk-2")
		sec := ta.JSON["data"].(map[string]any)["token"].(string)
		if tr := call(t, admin, "POST", "/v1/tokens", tb, 201, "Idempotency-Key", "atk-2"); bytes.Contains(tr.Body, []byte(sec)) {
			t.Fatalf("token replayed: %s", tr.Body)
		}
	})

	t.Run("ssrf address forms refused", func(t *testing.T) {
		urls := []string{
			"http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "http://[2002:7f00:1::]/", "http://[64:ff9b::7f00:1]/",
			"http://[64:ff9b:1::a00:1]/", "http://[fec0::1]/", "http://198.18.0.1/", "http://240.0.0.1/", "http://192.0.0.8/",
			"http://[2001:db8::1]/", "http://[100::1]/", "http://0.0.0.0/", "http://[::]/",
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() && p.Addr().Is4() {
					urls = append(urls, "http://"+p.Addr().String()+":9/")
				}
			}
		}
		for _, u := range urls {
			r := call(t, admin, "POST", "/v1/webhooks", map[string]any{"url": u}, 0)
			if r.Status != http.StatusBadRequest {
				t.Errorf("webhook %s: HTTP %d %s", u, r.Status, r.Body)
			}
		}
	})

	t.Run("names refuse control and bidi characters", func(t *testing.T) {
		for _, n := range []string{"cam\u202Egpj.exe", "a\u2066b", "a\x07b"} {
			call(t, admin, "POST", "/v1/live_inputs", map[string]any{"name": n}, http.StatusBadRequest)
			call(t, admin, "POST", "/v1/tokens", map[string]any{"name": n, "scopes": []string{"live_inputs:read"}}, http.StatusBadRequest)
		}
	})

	t.Run("srt stream id with percent-encoded #", func(t *testing.T) {
		cfg := gosrt.DefaultConfig()
		cfg.StreamId = "%23!::r=" + static.Key + ",m=publish"
		c, err := gosrt.Dial("srt", d.SRT, cfg)
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		c.Close()
	})

	tee := newTeeProxy(t, d.RTMP)
	t.Run("whip bad keys are throttled", func(t *testing.T) {
		start := time.Now()
		for i := range 4 {
			r := call(t, "wrong-key-"+randomHex(8), "POST", "/whip/atk", "v=0", 0, "Content-Type", "application/sdp")
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: HTTP %d", i, r.Status)
			}
		}
		if el := time.Since(start); el < 2*time.Second {
			t.Fatalf("4 wrong WHIP keys answered in %v", el)
		}
	})

	t.Run("valid key not delayed after bad ones", func(t *testing.T) {
		for range 3 {
			tee.reset()
			c, err := rtmptest.Dial(ctx, tee.url("wrong-"+randomHex(6)), nil)
			if err == nil {
				select {
				case <-tee.closed:
				case <-time.After(20 * time.Second):
				}
				c.Close()
			}
		}
		tee.reset()
		start := time.Now()
		c, err := rtmptest.Dial(ctx, tee.url(static.Key), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for !tee.has("NetStream.Publish.Start") {
			if time.Since(start) > 5*time.Second {
				t.Fatal("no Publish.Start for the valid key")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if el := time.Since(start); el > time.Second {
			t.Fatalf("valid key admitted after %v", el)
		}
	})

	t.Run("signed input: busy key, private playlists, parts and segments", func(t *testing.T) {
		li := call(t, admin, "POST", "/v1/live_inputs", map[string]any{"name": "signed", "recording": map[string]any{"mode": "automatic"}, "require_signed_urls": true}, 201).JSON["data"].(map[string]any)
		id, key := li["id"].(string), li["rtmp"].(map[string]any)["stream_key"].(string)
		events := openEvents(ctx, t, d, admin)
		pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 10})
		events.waitEvent(t, "live_input.connected", id, 20*time.Second)

		// the live LL-HLS tree of a signed input: playlists and parts
		// are private too
		liTok := call(t, admin, "POST", "/v1/live_inputs/"+id+"/token", nil, 200).JSON["data"].(map[string]any)["token"].(string)
		mediaURL, _ := waitLive(ctx, t, d, liTok, 20*time.Second)
		media := getPlaylist(ctx, t, mediaURL)
		urls := []string{d.PlaylistURL(liTok), mediaURL}
		if ps := media.allParts(); len(ps) > 0 {
			urls = append(urls, resolve(mediaURL, ps[0].URI))
		} else {
			t.Errorf("no part listed:\n%s", media.Raw)
		}
		for _, u := range urls {
			f, err := get(ctx, u)
			if err != nil || f.Status != 200 {
				t.Fatalf("GET %s: %v %v", u, f.Status, err)
			}
			if cc := f.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
				t.Errorf("%s of a signed live input: Cache-Control %q", u[strings.LastIndexByte(u, '/')+1:], cc)
			}
		}

		tee.reset()
		c, err := rtmptest.Dial(ctx, tee.url(key), nil)
		if err == nil {
			select {
			case <-tee.closed:
			case <-time.After(15 * time.Second):
			}
			c.Close()
		}
		if tee.has("NetStream.Publish.Start") || !tee.has("NetStream.Publish.BadName") {
			t.Errorf("second publisher: Start %v, BadName %v", tee.has("NetStream.Publish.Start"), tee.has("NetStream.Publish.BadName"))
		}

		if exited, err := pub.Wait(40 * time.Second); !exited || err != nil {
			t.Fatalf("publisher: %v %v", exited, err)
		}
		events.waitEvent(t, "video.ready", id, 40*time.Second)
		vid := inputVideos(t, d, admin, id)[0]["id"].(string)
		tok := call(t, admin, "POST", "/v1/videos/"+vid+"/token", map[string]any{"ttl_seconds": 600}, 200).JSON["data"].(map[string]any)["token"].(string)
		for _, name := range []string{"init0.mp4", "seg0.m4s"} {
			f, err := get(ctx, d.URL("/videos/"+tok+"/"+name))
			if err != nil || f.Status != 200 {
				t.Fatalf("GET %s: %v %v", name, f.Status, err)
			}
			if cc := f.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private") {
				t.Errorf("%s of a signed video: Cache-Control %q", name, cc)
			}
		}
	})

	t.Run("auth limiter: client address, valid token never refused", func(t *testing.T) {
		for range 25 {
			call(t, "mf_wrong"+randomHex(16), "GET", "/v1/live_inputs", nil, 0, "X-Forwarded-For", "203.0.113.7")
		}
		call(t, "mf_wrong"+randomHex(16), "GET", "/v1/live_inputs", nil, http.StatusTooManyRequests, "X-Forwarded-For", "203.0.113.7")
		call(t, "mf_wrong"+randomHex(16), "GET", "/v1/live_inputs", nil, http.StatusUnauthorized, "X-Forwarded-For", "203.0.113.8")
		for range 10 {
			call(t, "mf_wrong"+randomHex(16), "GET", "/v1/live_inputs", nil, 0, "X-Forwarded-For", "203.0.113.7")
			call(t, admin, "GET", "/v1/live_inputs", nil, 200, "X-Forwarded-For", "203.0.113.7")
		}
	})

	t.Run("revoke follows scopes, last admin stays", func(t *testing.T) {
		tw := call(t, admin, "POST", "/v1/tokens", map[string]any{"name": "tw", "scopes": []string{"tokens:write"}}, 201).JSON["data"].(map[string]any)["token"].(string)
		adminID := tokenID(t, "admin (api.admin_token)")
		call(t, tw, "DELETE", "/v1/tokens/"+adminID, nil, http.StatusForbidden)
		call(t, admin, "DELETE", "/v1/tokens/"+adminID, nil, http.StatusConflict)
		call(t, admin, "GET", "/v1/live_inputs", nil, 200)
	})
}
