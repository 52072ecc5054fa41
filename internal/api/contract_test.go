package api

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The contract rules of docs/api.md that a response shows: each test fails
// on the API as it was before the rule.

// tsRe is the one timestamp format: RFC 3339, UTC, milliseconds.
var tsRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkTimestamps fails on any *_at, started_at or scheduled_deletion
// string of v (recursively) that is not in the one format.
func checkTimestamps(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			if s, ok := sub.(string); ok && (strings.HasSuffix(k, "_at") || k == "scheduled_deletion") {
				if !tsRe.MatchString(s) {
					t.Errorf("%s: %s = %q is not RFC 3339 UTC with milliseconds", where, k, s)
				}
				continue
			}
			checkTimestamps(t, where+"."+k, sub)
		}
	case []any:
		for i, sub := range x {
			checkTimestamps(t, fmt.Sprintf("%s[%d]", where, i), sub)
		}
	}
}

func TestContractTimestamps(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	videoEnv(t, e)
	li := e.create(map[string]any{"name": "ts"})
	id := li["id"].(string)
	e.do("POST", "/v1/live_inputs/"+id+"/rotate_key", e.admin, nil).want(t, 200, "")
	e.rt.connect(id, "ses_1")
	e.do("POST", "/v1/signing_keys", e.admin, nil).want(t, 201, "")
	e.do("PATCH", "/v1/videos/vid_0", e.admin, map[string]any{"scheduled_deletion": "2030-01-02T03:04:05.123456+02:00"}).want(t, 200, "")
	for _, path := range []string{"/v1/live_inputs", "/v1/live_inputs/" + id, "/v1/live_inputs/" + id + "/sessions", "/v1/sessions/ses_1",
		"/v1/tokens", "/v1/signing_keys", "/v1/videos", "/v1/videos/vid_0", "/v1/whoami"} {
		r := e.do("GET", path, e.admin, nil).want(t, 200, "")
		checkTimestamps(t, path, r.JSON)
	}
	r := e.do("POST", "/v1/live_inputs/"+id+"/token", e.admin, nil).want(t, 200, "")
	checkTimestamps(t, "mint", r.JSON)
	if got := e.do("GET", "/v1/videos/vid_0", e.admin, nil).data()["scheduled_deletion"]; got != "2030-01-02T01:04:05.123Z" {
		t.Errorf("scheduled_deletion %v, want it in UTC", got)
	}
}

func TestContractMintBody(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	id := e.create(map[string]any{"require_signed_urls": true})["id"].(string)
	r := e.do("POST", "/v1/live_inputs/"+id+"/token", e.admin, map[string]any{"accessRules": []any{}}).want(t, 400, CodeUnknownField)
	if msg := r.JSON["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "access_rules") {
		t.Errorf("the refusal of accessRules does not name access_rules: %s", msg)
	}
	d := e.do("POST", "/v1/live_inputs/"+id+"/token", e.admin, map[string]any{"access_rules": []any{}}).want(t, 200, "").data()
	pb, _ := d["playback"].(map[string]any)
	tok, _ := d["token"].(string)
	if pb == nil || !strings.HasSuffix(pb["hls"].(string), "/live/"+tok+"/index.m3u8") || !strings.HasSuffix(pb["player"].(string), "/live/"+tok+"/") {
		t.Fatalf("mint playback %v", d)
	}
	if w, _ := d["whep"].(string); !strings.Contains(w, "/whep/"+id+"?token="+tok) {
		t.Fatalf("mint whep %v", d)
	}
}

func TestContractSignedLiveInputPlayback(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	li := e.create(map[string]any{"require_signed_urls": true})
	id := li["id"].(string)
	pb := li["playback"].(map[string]any)
	if strings.Contains(pb["hls"].(string), "/live/"+id+"/") || pb["token_expires_at"] == nil {
		t.Fatalf("create of a signed input: playback %v", pb)
	}
	if w := li["webrtc_playback"].(map[string]any)["url"].(string); !strings.Contains(w, "?token=") {
		t.Fatalf("create of a signed input: webrtc_playback %v", w)
	}
	// a reader cannot mint: plain URLs
	pb = e.do("GET", "/v1/live_inputs/"+id, e.token(ScopeLiveInputsRead), nil).want(t, 200, "").data()["playback"].(map[string]any)
	if !strings.Contains(pb["hls"].(string), "/live/"+id+"/") || pb["token_expires_at"] != nil {
		t.Fatalf("read-only: playback %v", pb)
	}
	// unsigned inputs: plain URLs
	pb = e.create(nil)["playback"].(map[string]any)
	if pb["token_expires_at"] != nil {
		t.Fatalf("unsigned: playback %v", pb)
	}
}

func TestContractSRTPassphrase(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	li := e.create(map[string]any{"srt": map[string]any{"passphrase": "correct-horse-battery"}})
	if srt := li["srt"].(map[string]any); srt["passphrase"] != "correct-horse-battery" || !strings.Contains(srt["url"].(string), "passphrase=correct-horse-battery") {
		t.Fatalf("srt %v", srt)
	}
	if srt := e.create(map[string]any{"srt": map[string]any{"passphrase": ""}})["srt"].(map[string]any); srt["passphrase"] != nil {
		t.Fatalf("unencrypted srt %v", srt)
	}
	for _, bad := range []string{"short", strings.Repeat("x", 80), "with space in it"} {
		r := e.do("POST", "/v1/live_inputs", e.admin, map[string]any{"srt": map[string]any{"passphrase": bad}}).want(t, 400, CodeValidation)
		if f := r.JSON["error"].(map[string]any)["details"].(map[string]any)["field"]; f != "srt.passphrase" {
			t.Errorf("%q: field %v", bad, f)
		}
	}
}

func TestContractSessions(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	id := e.create(nil)["id"].(string)
	e.rt.mu.Lock()
	for i := range 3 {
		e.rt.sessions[id] = append(e.rt.sessions[id], Session{ID: fmt.Sprintf("ses_%d", i), LiveInputID: id, Protocol: "srt", StartedAt: time.Now()})
	}
	e.rt.mu.Unlock()
	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		r := e.do("GET", "/v1/live_inputs/"+id+"/sessions?limit=2&cursor="+cursor, e.admin, nil).want(t, 200, "")
		got = append(got, listIDs(r)...)
		cursor, _ = r.JSON["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if strings.Join(got, ",") != "ses_0,ses_1,ses_2" {
		t.Fatalf("paged sessions %v", got)
	}
	e.do("GET", "/v1/live_inputs/"+id+"/sessions?cursor=bogus", e.admin, nil).want(t, 400, CodeInvalidCursor)
	e.do("GET", "/v1/live_inputs/"+id+"/sessions?limit=0", e.admin, nil).want(t, 400, CodeInvalidParameter)
	if d := e.do("GET", "/v1/sessions/ses_1", e.admin, nil).want(t, 200, "").data(); d["live_input_id"] != id {
		t.Fatalf("session %v", d)
	}
	e.do("GET", "/v1/sessions/ses_9", e.admin, nil).want(t, 404, CodeNotFound)
}

func TestContractSigningKeyRead(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	kid := e.do("POST", "/v1/signing_keys", e.admin, nil).want(t, 201, "").data()["id"].(string)
	d := e.do("GET", "/v1/signing_keys/"+kid, e.admin, nil).want(t, 200, "").data()
	if d["id"] != kid || d["pem"] != nil || !strings.Contains(d["public_key"].(string), "PUBLIC KEY") {
		t.Fatalf("signing key %v", d)
	}
	e.do("GET", "/v1/signing_keys/key_nope", e.admin, nil).want(t, 404, CodeNotFound)
	e.do("GET", "/v1/signing_keys/"+kid, e.token(ScopeLiveInputsWrite), nil).want(t, 403, CodeForbidden)
}

func TestContractVideoETag(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	videoEnv(t, e)
	r := e.do("GET", "/v1/videos/vid_0", e.admin, nil).want(t, 200, "")
	tag := r.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on a video")
	}
	p := e.do("PATCH", "/v1/videos/vid_0", e.admin, map[string]any{"meta": map[string]any{"a": 1}}, "If-Match", tag).want(t, 200, "")
	if p.Header.Get("ETag") == tag || p.Header.Get("ETag") == "" {
		t.Fatalf("ETag after a change: %q (was %q)", p.Header.Get("ETag"), tag)
	}
	e.do("PATCH", "/v1/videos/vid_0", e.admin, map[string]any{"meta": map[string]any{"a": 2}}, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	e.do("DELETE", "/v1/videos/vid_0", e.admin, nil, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	e.do("DELETE", "/v1/videos/vid_0", e.admin, nil, "If-Match", p.Header.Get("ETag")).want(t, 204, "")
}

func TestContractWebhooks(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	c := e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"webhook.test", "webhook.disabled"}}).want(t, 201, "")
	id := c.data()["id"].(string)
	tag := e.do("GET", "/v1/webhooks/"+id, e.admin, nil).want(t, 200, "").Header.Get("ETag")
	if tag == "" || c.Header.Get("ETag") != tag {
		t.Fatalf("ETag %q on GET, %q on create", tag, c.Header.Get("ETag"))
	}
	checkTimestamps(t, "webhooks", e.do("GET", "/v1/webhooks", e.admin, nil).want(t, 200, "").JSON)
	p := e.do("PATCH", "/v1/webhooks/"+id, e.admin, map[string]any{"description": "x"}, "If-Match", tag).want(t, 200, "")
	e.do("PATCH", "/v1/webhooks/"+id, e.admin, map[string]any{"description": "y"}, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	e.do("DELETE", "/v1/webhooks/"+id, e.admin, nil, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	// nothing listens on port 9: the test reports why, as {code, message}
	d := e.do("POST", "/v1/webhooks/"+id+"/test", e.admin, nil).want(t, 200, "").data()
	te, _ := d["error"].(map[string]any)
	if d["success"] != false || te == nil || te["code"] == "" || te["message"] == "" {
		t.Fatalf("test result %v", d)
	}
	e.do("GET", "/v1/webhooks/"+id+"/deliveries/whd_nope", e.admin, nil).want(t, 404, CodeNotFound)
	e.do("DELETE", "/v1/webhooks/"+id, e.admin, nil, "If-Match", p.Header.Get("ETag")).want(t, 204, "")
}

func TestContractDeliveryRead(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	id := e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": "http://127.0.0.1:9/hook"}).want(t, 201, "").data()["id"].(string)
	e.create(nil)
	var l []any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(l) == 0; time.Sleep(20 * time.Millisecond) {
		l = e.do("GET", "/v1/webhooks/"+id+"/deliveries", e.admin, nil).want(t, 200, "").list()
	}
	if len(l) == 0 {
		t.Fatal("no delivery")
	}
	did := l[0].(map[string]any)["id"].(string)
	d := e.do("GET", "/v1/webhooks/"+id+"/deliveries/"+did, e.admin, nil).want(t, 200, "").data()
	if d["id"] != did || d["type"] != "live_input.created" || d["status"] == nil || d["state"] != nil || d["event_type"] != nil {
		t.Fatalf("delivery %v", d)
	}
	checkTimestamps(t, "delivery", d)
}
