package playback

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/netguard"
)

// Actions of admission requests.
const (
	ActionPublish = "publish"
	ActionPlay    = "play"
)

// Defaults of a Hook.
const (
	DefaultHookTimeout = 2 * time.Second
	// DefaultHookTTL is how long an answer without ttl_seconds is kept.
	DefaultHookTTL = 60 * time.Second
	// errorTTL is how long a failed call's outcome (on_error) is kept, so
	// that a down hook is not called by every request.
	errorTTL = 5 * time.Second
	// maxHookTTL caps ttl_seconds.
	maxHookTTL = 24 * time.Hour
	// maxHookBody bounds the answer read.
	maxHookBody   = 64 << 10
	hookCacheSize = 100000
)

// AdmissionRequest is the JSON body POSTed to an admission hook.
type AdmissionRequest struct {
	Action      string              `json:"action"`   // publish | play
	Protocol    string              `json:"protocol"` // rtmp, rtmps, srt, whip | hls
	LiveInputID string              `json:"live_input_id"`
	ClientAddr  string              `json:"client_address"`
	Country     string              `json:"country,omitempty"`
	UserAgent   string              `json:"user_agent,omitempty"`
	Query       map[string][]string `json:"query,omitempty"` // without token
	Claims      *TokenClaims        `json:"token_claims,omitempty"`
}

// Decision is a hook's answer: {"allow": bool, "reason": "...",
// "ttl_seconds": n}.
type Decision struct {
	Allow      bool   `json:"allow"`
	Reason     string `json:"reason,omitempty"`
	TTLSeconds int    `json:"ttl_seconds,omitempty"`
	// Err is set when the hook could not be asked (timeout, network,
	// non-2xx, garbage); Allow then follows the hook's on_error.
	Err error `json:"-"`
}

// HookConfig configures a Hook. URL and Secret are required.
type HookConfig struct {
	URL      string
	Secret   []byte        // HMAC-SHA256 key of the signature
	Timeout  time.Duration // default DefaultHookTimeout
	FailOpen bool          // on_error: allow; default deny
	// Client sends the requests; default a client with Timeout dialing
	// through Guard.
	Client *http.Client
	// Guard is the SSRF guard of the default Client; default one that
	// trusts the host of URL (the operator chose it: it may well be on
	// the private network) and refuses special-purpose and local
	// addresses everywhere else, so a redirect cannot reach them.
	Guard  *netguard.Guard
	Logger *slog.Logger // default discard
	Now    func() time.Time
}

// Hook calls an admission hook in the operator's service. Requests are
// signed as Standard Webhooks (https://www.standardwebhooks.com):
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature
// "v1,"+base64(HMAC-SHA256(secret, id+"."+timestamp+"."+body)). Answers
// are cached per key (action, client, live input) for ttl_seconds.
type Hook struct {
	cfg HookConfig

	mu    sync.Mutex
	cache map[string]hookEntry
	calls map[string]*hookCall
}

type hookEntry struct {
	d       Decision
	expires time.Time
}

type hookCall struct {
	done chan struct{}
	d    Decision
}

// NewHook returns a Hook, or nil when cfg.URL is "" (no hook: everything
// allowed).
func NewHook(cfg HookConfig) (*Hook, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("playback: hook secret is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHookTimeout
	}
	if cfg.Client == nil {
		if cfg.Guard == nil {
			u, err := url.Parse(cfg.URL)
			if err != nil || u.Hostname() == "" {
				return nil, fmt.Errorf("playback: hook url %q: no host", cfg.URL)
			}
			cfg.Guard = netguard.New(netguard.Config{TrustedHosts: []string{u.Hostname()}, Timeout: cfg.Timeout})
		}
		cfg.Client = &http.Client{Timeout: cfg.Timeout, Transport: cfg.Guard.Transport()}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Hook{cfg: cfg, cache: map[string]hookEntry{}, calls: map[string]*hookCall{}}, nil
}

// CacheKey is the key answers are cached under.
func CacheKey(action, client, liveInput string) string {
	return action + "\x00" + client + "\x00" + liveInput
}

// Cached returns the cached decision of key, if any (a nil Hook allows).
func (h *Hook) Cached(key string) (Decision, bool) {
	if h == nil {
		return Decision{Allow: true}, true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.cache[key]
	if !ok || !h.cfg.Now().Before(e.expires) {
		return Decision{}, false
	}
	return e.d, true
}

// Admit returns the decision for req: cached, or asked (one call at a time
// per key; concurrent callers wait for it). A nil Hook allows.
func (h *Hook) Admit(ctx context.Context, req AdmissionRequest) Decision {
	if h == nil {
		return Decision{Allow: true}
	}
	key := CacheKey(req.Action, req.ClientAddr, req.LiveInputID)
	if d, ok := h.Cached(key); ok {
		return d
	}
	h.mu.Lock()
	if c, ok := h.calls[key]; ok {
		h.mu.Unlock()
		select {
		case <-c.done:
			return c.d
		case <-ctx.Done():
			return h.failed(ctx.Err())
		}
	}
	c := &hookCall{done: make(chan struct{})}
	h.calls[key] = c
	h.mu.Unlock()

	d := h.call(ctx, req)
	ttl := errorTTL
	if d.Err == nil {
		ttl = DefaultHookTTL
		if d.TTLSeconds > 0 {
			ttl = min(time.Duration(d.TTLSeconds)*time.Second, maxHookTTL)
		}
	}
	h.mu.Lock()
	delete(h.calls, key)
	if ttl > 0 {
		if len(h.cache) >= hookCacheSize {
			now := h.cfg.Now()
			for k, e := range h.cache {
				if !now.Before(e.expires) {
					delete(h.cache, k)
				}
			}
			if len(h.cache) >= hookCacheSize {
				clear(h.cache)
			}
		}
		h.cache[key] = hookEntry{d: d, expires: h.cfg.Now().Add(ttl)}
	}
	h.mu.Unlock()
	c.d = d
	close(c.done)
	return d
}

func (h *Hook) failed(err error) Decision {
	d := Decision{Allow: h.cfg.FailOpen, Err: err}
	if !d.Allow {
		d.Reason = "admission hook unavailable"
	}
	return d
}

// call POSTs req and decodes the answer.
func (h *Hook) call(ctx context.Context, req AdmissionRequest) Decision {
	body, err := json.Marshal(req)
	if err != nil {
		return h.failed(fmt.Errorf("admission: encode: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return h.failed(fmt.Errorf("admission: %w", err))
	}
	id, ts := NewMessageID(), strconv.FormatInt(h.cfg.Now().Unix(), 10)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "MpegFlow-Admission/1")
	hr.Header.Set("webhook-id", id)
	hr.Header.Set("webhook-timestamp", ts)
	hr.Header.Set("webhook-signature", SignPayload(h.cfg.Secret, id, ts, body))
	resp, err := h.cfg.Client.Do(hr)
	if err != nil {
		h.cfg.Logger.Warn("admission hook failed", "action", req.Action, "live_input", req.LiveInputID, "error", err)
		return h.failed(fmt.Errorf("admission: %w", err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHookBody))
	if err != nil {
		return h.failed(fmt.Errorf("admission: read: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		h.cfg.Logger.Warn("admission hook answered an error", "action", req.Action, "live_input", req.LiveInputID, "status", resp.StatusCode)
		return h.failed(fmt.Errorf("admission: status %d", resp.StatusCode))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Decision{Allow: true}
	}
	d, err := ParseDecision(b)
	if err != nil {
		h.cfg.Logger.Warn("admission hook answered garbage", "action", req.Action, "live_input", req.LiveInputID, "error", err)
		return h.failed(err)
	}
	return d
}

// ParseDecision decodes a hook's answer: a JSON object with a boolean
// allow; reason (at most 200 characters kept, control characters dropped)
// and ttl_seconds are optional.
func ParseDecision(b []byte) (Decision, error) {
	var raw struct {
		Allow      *bool   `json:"allow"`
		Reason     string  `json:"reason"`
		TTLSeconds float64 `json:"ttl_seconds"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Decision{}, fmt.Errorf("admission: answer: %w", err)
	}
	if raw.Allow == nil {
		return Decision{}, errors.New("admission: answer without allow")
	}
	d := Decision{Allow: *raw.Allow, Reason: cleanReason(raw.Reason)}
	if raw.TTLSeconds > 0 {
		d.TTLSeconds = int(min(raw.TTLSeconds, maxHookTTL.Seconds()))
	}
	return d, nil
}

func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200])
	}
	return s
}

// NewMessageID returns a webhook-id: "msg_" + 26 characters (the rule of
// package ids).
func NewMessageID() string { return ids.New("msg", time.Now()) }

// SignPayload returns the webhook-signature value of the Standard Webhooks
// scheme: "v1," + base64(HMAC-SHA256(secret, id.timestamp.body)).
func SignPayload(secret []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyPayload checks a webhook-signature header (space-separated
// "v1,sig" values) in constant time per candidate.
func VerifyPayload(secret []byte, id, timestamp string, body []byte, header string) bool {
	want := SignPayload(secret, id, timestamp, body)
	ok := false
	for _, s := range strings.Fields(header) {
		if hmac.Equal([]byte(s), []byte(want)) {
			ok = true
		}
	}
	return ok
}

// SecretString presents an HMAC key as Standard Webhooks do: "whsec_" +
// base64.
func SecretString(key []byte) string { return "whsec_" + base64.StdEncoding.EncodeToString(key) }
