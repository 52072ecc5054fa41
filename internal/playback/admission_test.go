package playback

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/netguard"
)

func TestHook(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name      string
		status    int
		body      string
		delay     time.Duration
		failOpen  bool
		wantAllow bool
		wantErr   bool
		reason    string
	}{
		{"allow", 200, `{"allow":true}`, 0, false, true, false, ""},
		{"deny with reason", 200, `{"allow":false,"reason":"geo fence","ttl_seconds":30}`, 0, false, false, false, "geo fence"},
		{"2xx without body allows", 204, ``, 0, false, true, false, ""},
		{"garbage fails closed", 200, `<html>`, 0, false, false, true, "admission hook unavailable"},
		{"garbage fails open", 200, `nope`, 0, true, true, true, ""},
		{"no allow member", 200, `{"reason":"x"}`, 0, false, false, true, "admission hook unavailable"},
		{"5xx fails closed", 500, `{"allow":true}`, 0, false, false, true, "admission hook unavailable"},
		{"timeout fails closed", 200, `{"allow":true}`, 300 * time.Millisecond, false, false, true, "admission hook unavailable"},
		{"timeout fails open", 200, `{"allow":false}`, 300 * time.Millisecond, true, true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				b, _ := io.ReadAll(r.Body)
				if !VerifyPayload(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), b, r.Header.Get("webhook-signature")) {
					t.Errorf("bad signature %q", r.Header.Get("webhook-signature"))
				}
				var req AdmissionRequest
				if err := json.Unmarshal(b, &req); err != nil || req.Action != ActionPlay || req.LiveInputID != "li_a" || req.ClientAddr != "192.0.2.1" {
					t.Errorf("request %s: %v", b, err)
				}
				select {
				case <-time.After(tt.delay):
				case <-r.Context().Done():
					return
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			h, err := NewHook(HookConfig{URL: srv.URL, Secret: secret, Timeout: 100 * time.Millisecond, FailOpen: tt.failOpen})
			if err != nil {
				t.Fatal(err)
			}
			req := AdmissionRequest{Action: ActionPlay, Protocol: "hls", LiveInputID: "li_a", ClientAddr: "192.0.2.1"}
			for range 3 {
				d := h.Admit(t.Context(), req)
				if d.Allow != tt.wantAllow || (d.Err != nil) != tt.wantErr || d.Reason != tt.reason {
					t.Fatalf("Admit = %+v; want allow %v, error %v, reason %q", d, tt.wantAllow, tt.wantErr, tt.reason)
				}
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("hook called %d times, want 1 (cached)", n)
			}
		})
	}
}

func TestSignPayloadKnownAnswer(t *testing.T) {
	// Standard Webhooks reference vector (standard-webhooks spec test suite):
	// secret "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id "msg_p5jXN8AQM9LWM0D4loKWxJek",
	// timestamp 1614265330, body {"test": 2432232314}.
	key := []byte{0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f, 0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0}
	got := SignPayload(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("SignPayload = %s", got)
	}
}

// FuzzParseDecision: any hook answer decodes or fails without panicking.
func FuzzParseDecision(f *testing.F) {
	f.Add([]byte(`{"allow":true}`))
	f.Add([]byte(`{"allow":false,"reason":"no","ttl_seconds":1e300}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDecision(b)
		if err == nil && (d.TTLSeconds < 0 || len(d.Reason) > 800) {
			t.Fatalf("decision %+v", d)
		}
	})
}

// The hook's own host is trusted (the operator chose it); a redirect from
// it to another special-purpose or local address is refused at dial time.
func TestHookRedirectGuarded(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	var internalCalls atomic.Int32
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		internalCalls.Add(1)
		_, _ = io.WriteString(w, `{"allow":true}`)
	}))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 here:", err)
	}
	internal.Listener.Close()
	internal.Listener = ln
	internal.Start()
	defer internal.Close()
	// the hook answers on 127.0.0.1 and redirects to an internal service
	// on another loopback address
	target := internal.URL
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	h, err := NewHook(HookConfig{URL: hook.URL, Secret: secret, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := h.Admit(t.Context(), AdmissionRequest{Action: ActionPlay, Protocol: "hls", LiveInputID: "li_a", ClientAddr: "192.0.2.1"})
	if d.Allow || d.Err == nil || !errors.Is(d.Err, netguard.ErrForbidden) {
		t.Fatalf("redirect to a loopback address: %+v", d)
	}
	if internalCalls.Load() != 0 {
		t.Fatal("the internal service was reached")
	}
}
