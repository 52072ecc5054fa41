package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

func TestLiveInputLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v1/live_inputs", e.admin, map[string]any{
			"name": "Main stage", "meta": map[string]any{"team": "a", "n": 1},
			"recording": map[string]any{"mode": "automatic"}, "allowed_origins": []string{"https://example.com"},
		}).want(t, 201, "")
		li := r.data()
		id := li["id"].(string)
		if !strings.HasPrefix(id, "li_") || r.Header.Get("Location") != "/v1/live_inputs/"+id || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("id %q Location %q ETag %q", id, r.Header.Get("Location"), r.Header.Get("ETag"))
		}
		rtmp := li["rtmp"].(map[string]any)
		key, _ := rtmp["stream_key"].(string)
		if len(key) != 3+26 || !strings.HasSuffix(rtmp["url"].(string), ":1935/live") {
			t.Fatalf("rtmp %v", rtmp)
		}
		if li["status"] != "idle" || li["enabled"] != true || li["recording"].(map[string]any)["mode"] != "automatic" {
			t.Fatalf("live input %v", li)
		}
		srt := li["srt"].(map[string]any)
		if srt["stream_id"] != "publish:"+key || len(srt["passphrase"].(string)) < 10 {
			t.Fatalf("srt %v", srt)
		}
		// The stored hash is the key's SHA-256.
		got, err := e.st.LiveInputs().GetByStreamKeyHash(context.Background(), HashSecret(key))
		if err != nil || got.ID != id {
			t.Fatalf("by key hash: %v %v", got, err)
		}

		// A read-only token sees no secrets.
		ro := e.token(ScopeLiveInputsRead)
		g := e.do("GET", "/v1/live_inputs/"+id, ro, nil).want(t, 200, "").data()
		if _, ok := g["rtmp"].(map[string]any)["stream_key"]; ok {
			t.Fatalf("stream key shown to a read-only token: %v", g["rtmp"])
		}
		if strings.Contains(fmt.Sprint(g), key) {
			t.Fatal("the key leaks in the read-only view")
		}

		// PATCH is a merge patch; If-Match guards it.
		p := e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"name":"Renamed","meta":{"team":null,"x":{"y":2}}}`, "If-Match", `"1"`).want(t, 200, "")
		d := p.data()
		meta := d["meta"].(map[string]any)
		if d["name"] != "Renamed" || meta["team"] != nil || meta["n"] != float64(1) || meta["x"].(map[string]any)["y"] != float64(2) || p.Header.Get("ETag") != `"2"` {
			t.Fatalf("after patch: %v etag %s", d, p.Header.Get("ETag"))
		}
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"name":"x"}`, "If-Match", `"1"`).want(t, 412, CodePreconditionFailed)
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"id":"x"}`).want(t, 400, CodeValidation)
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"recording":{"mode":"sometimes"}}`).want(t, 400, CodeValidation)
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, `{"recording":{"bogus":1}}`).want(t, 400, CodeUnknownField)
		e.do("PATCH", "/v1/live_inputs/"+id, ro, `{"name":"x"}`).want(t, 403, CodeForbidden)

		// Filters.
		e.create(map[string]any{"name": "Other"})
		l := e.do("GET", "/v1/live_inputs?name=renam", ro, nil).want(t, 200, "")
		if len(l.list()) != 1 || l.list()[0].(map[string]any)["id"] != id {
			t.Fatalf("name filter: %s", l.Body)
		}
		if n := len(e.do("GET", "/v1/live_inputs?status=idle", ro, nil).want(t, 200, "").list()); n != 2 {
			t.Fatalf("status=idle: %d", n)
		}

		// Disable: stored, then the broadcast ends.
		e.rt.connect(id, "ses_1")
		if s := e.do("GET", "/v1/live_inputs/"+id, ro, nil).data()["status"]; s != "connected" {
			t.Fatalf("status %v", s)
		}
		e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"enabled": false}).want(t, 200, "")
		if len(e.rt.ended) != 1 || e.rt.ended[0] != id {
			t.Fatalf("ended %v", e.rt.ended)
		}
		if s := e.do("GET", "/v1/live_inputs/"+id, ro, nil).data()["status"]; s != "disabled" {
			t.Fatalf("status %v", s)
		}
		if n := len(e.do("GET", "/v1/live_inputs?status=disabled", ro, nil).list()); n != 1 {
			t.Fatalf("status=disabled: %d", n)
		}

		// Delete.
		e.do("DELETE", "/v1/live_inputs/"+id, e.admin, nil, "If-Match", `"9"`).want(t, 412, CodePreconditionFailed)
		e.do("DELETE", "/v1/live_inputs/"+id, e.admin, nil).want(t, 204, "")
		e.do("GET", "/v1/live_inputs/"+id, e.admin, nil).want(t, 404, CodeNotFound)
		e.do("DELETE", "/v1/live_inputs/"+id, e.admin, nil).want(t, 404, CodeNotFound)
	})
}

func TestRotateKeyAndSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		li := e.create(map[string]any{"name": "a"})
		id := li["id"].(string)
		old := li["rtmp"].(map[string]any)["stream_key"].(string)
		e.rt.connect(id, "ses_abc")
		ss := e.do("GET", "/v1/live_inputs/"+id+"/sessions", e.admin, nil).want(t, 200, "").list()
		if len(ss) != 1 || ss[0].(map[string]any)["protocol"] != "rtmp" {
			t.Fatalf("sessions %v", ss)
		}
		sub := e.bus.Subscribe(events.SubscribeOptions{})
		defer sub.Close()
		r := e.do("POST", "/v1/live_inputs/"+id+"/rotate_key", e.admin, nil).want(t, 200, "").data()
		nk := r["rtmp"].(map[string]any)["stream_key"].(string)
		if nk == old || r["keys_rotated_at"] == nil {
			t.Fatalf("rotate: %v", r)
		}
		if len(e.rt.kicked) != 1 {
			t.Fatalf("publisher not kicked: %v", e.rt.kicked)
		}
		// the change, then the publisher it cut
		for _, want := range []events.Type{events.LiveInputUpdated, events.LiveInputErrored} {
			ev := <-sub.C()
			if ev.Type != want {
				t.Fatalf("event %s, want %s", ev.Type, want)
			}
			// the live input as the API returns it (without its key), and
			// for errored the error
			b, _ := json.Marshal(ev.Data)
			var obj map[string]any
			_ = json.Unmarshal(b, &obj)
			if obj["id"] != id || strings.Contains(string(b), nk) || strings.Contains(string(b), old) {
				t.Fatalf("%s data %s", ev.Type, b)
			}
			if ev.Type == events.LiveInputErrored && obj["error"].(map[string]any)["code"] != "key_rotated" {
				t.Fatalf("errored data %s", b)
			}
		}
		ctx := context.Background()
		if _, err := e.st.LiveInputs().GetByStreamKeyHash(ctx, HashSecret(old)); err == nil {
			t.Fatal("old key still resolves")
		}
		if _, err := e.st.LiveInputs().GetByStreamKeyHash(ctx, HashSecret(nk)); err != nil {
			t.Fatal("new key does not resolve")
		}
		// complete: 409 when idle; kick: 404 for an unknown session.
		// The kicked publisher may come back: the broadcast goes on until completed.
		e.do("POST", "/v1/live_inputs/"+id+"/complete", e.admin, nil).want(t, 200, "")
		if e.rt.Status(id) != StatusIdle {
			t.Fatal("complete did not end the broadcast")
		}
		e.do("POST", "/v1/live_inputs/"+id+"/complete", e.admin, nil).want(t, 409, CodeNoPublisher)
		e.do("DELETE", "/v1/sessions/ses_nope", e.admin, nil).want(t, 404, CodeNotFound)
		e.rt.connect(id, "ses_ghi")
		kicked := e.bus.Subscribe(events.SubscribeOptions{Match: events.Filter([]events.Type{events.SessionKicked}, "")})
		defer kicked.Close()
		e.do("DELETE", "/v1/sessions/ses_ghi", e.admin, nil).want(t, 204, "")
		// session.kicked carries the session as the API lists it
		if ev := <-kicked.C(); ev.LiveInputID != id || ev.Data.(SessionObject).ID != "ses_ghi" || ev.Data.(SessionObject).Protocol != "rtmp" {
			t.Fatalf("session.kicked %+v", ev)
		}
	})
}

func TestStaticLiveInputIsReadOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		li := &store.LiveInput{ID: "main", Name: "Main", Enabled: true, StreamKey: "sk_static_key_1234", StreamKeyHash: HashSecret("sk_static_key_1234"),
			Static: true, Meta: map[string]any{}, AllowedOrigins: []string{}, Recording: store.Recording{Mode: "off"}, Version: 1}
		li.CreatedAt = e.srv.now().UTC()
		li.UpdatedAt = li.CreatedAt
		if err := e.st.LiveInputs().Create(ctx, li); err != nil {
			t.Fatal(err)
		}
		if d := e.do("GET", "/v1/live_inputs/main", e.admin, nil).want(t, 200, "").data(); d["static"] != true {
			t.Fatalf("%v", d)
		}
		e.do("PATCH", "/v1/live_inputs/main", e.admin, `{"name":"x"}`).want(t, 409, CodeStaticLiveInput)
		e.do("DELETE", "/v1/live_inputs/main", e.admin, nil).want(t, 409, CodeStaticLiveInput)
		e.do("POST", "/v1/live_inputs/main/rotate_key", e.admin, nil).want(t, 409, CodeStaticLiveInput)
	})
}

func TestIdempotencyKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		body := `{"name":"once"}`
		a := e.do("POST", "/v1/live_inputs", e.admin, body, "Idempotency-Key", "k1").want(t, 201, "")
		b := e.do("POST", "/v1/live_inputs", e.admin, body, "Idempotency-Key", "k1").want(t, 201, "")
		if a.data()["id"] != b.data()["id"] || b.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry created another input: %v vs %v", a.data()["id"], b.data()["id"])
		}
		e.do("POST", "/v1/live_inputs", e.admin, `{"name":"twice"}`, "Idempotency-Key", "k1").want(t, 422, CodeIdempotencyMismatch)
		// Another token has its own key space.
		other := e.token(ScopeLiveInputsWrite)
		c := e.do("POST", "/v1/live_inputs", other, body, "Idempotency-Key", "k1").want(t, 201, "")
		if c.data()["id"] == a.data()["id"] {
			t.Fatal("idempotency keys shared between tokens")
		}
		// A refused request is replayed as refused.
		e.do("POST", "/v1/live_inputs", e.admin, `{"name":1}`, "Idempotency-Key", "k2").want(t, 400, CodeValidation)
		e.do("POST", "/v1/live_inputs", e.admin, `{"name":1}`, "Idempotency-Key", "k2").want(t, 400, CodeValidation)
		e.do("POST", "/v1/live_inputs", e.admin, body, "Idempotency-Key", strings.Repeat("k", 300)).want(t, 400, CodeInvalidParameter)
		n := len(e.do("GET", "/v1/live_inputs", e.admin, nil).list())
		if n != 2 {
			t.Fatalf("%d live inputs, want 2", n)
		}
	})
}

func TestPagination(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		const total = 120
		for i := 0; i < total; i++ {
			e.create(map[string]any{"name": fmt.Sprintf("in %03d", i)})
		}
		seen := map[string]bool{}
		cursor, pages, prev := "", 0, ""
		for {
			r := e.do("GET", "/v1/live_inputs?limit=50&cursor="+cursor, e.admin, nil).want(t, 200, "")
			pages++
			for _, it := range r.list() {
				id := it.(map[string]any)["id"].(string)
				if seen[id] || id <= prev {
					t.Fatalf("id %s repeated or out of order", id)
				}
				seen[id], prev = true, id
			}
			c, _ := r.JSON["next_cursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
		if len(seen) != total || pages != 3 {
			t.Fatalf("saw %d in %d pages", len(seen), pages)
		}
		first := e.do("GET", "/v1/live_inputs?limit=10", e.admin, nil).JSON["next_cursor"].(string)
		e.do("GET", "/v1/live_inputs?limit=10&name=x&cursor="+first, e.admin, nil).want(t, 400, CodeInvalidCursor)
		e.do("GET", "/v1/tokens?cursor="+first, e.admin, nil).want(t, 400, CodeInvalidCursor)
		tampered := []byte(first)
		tampered[5] ^= 1
		e.do("GET", "/v1/live_inputs?cursor="+string(tampered), e.admin, nil).want(t, 400, CodeInvalidCursor)
		// A status filter scans pages and keeps the cursor bound to it.
		e.rt.connect(prev, "ses_x")
		r := e.do("GET", "/v1/live_inputs?status=connected&limit=5", e.admin, nil).want(t, 200, "")
		if len(r.list()) != 1 {
			t.Fatalf("status=connected: %s", r.Body)
		}
	})
}

func TestBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
		big := `{"name":"` + strings.Repeat("x", 10<<20) + `"}`
		tests := []struct {
			name, method, path, body string
			hdr                      []string
			status                   int
			code                     string
		}{
			{"malformed", "POST", "/v1/live_inputs", `{"name":`, nil, 400, CodeInvalidJSON},
			{"not an object", "POST", "/v1/live_inputs", `[1,2]`, nil, 400, CodeInvalidJSON},
			{"trailing data", "POST", "/v1/live_inputs", `{"name":"a"} {}`, nil, 400, CodeInvalidJSON},
			{"10 MB", "POST", "/v1/live_inputs", big, nil, 413, CodeBodyTooLarge},
			{"deep", "POST", "/v1/live_inputs", `{"meta":` + deep + `}`, nil, 400, CodeInvalidJSON},
			{"wrong type", "POST", "/v1/live_inputs", `{"enabled":"yes"}`, nil, 400, CodeValidation},
			{"unknown field", "POST", "/v1/live_inputs", `{"nam":"a"}`, nil, 400, CodeUnknownField},
			{"nested unknown", "POST", "/v1/live_inputs", `{"recording":{"x":1}}`, nil, 400, CodeUnknownField},
			{"bad origin", "POST", "/v1/live_inputs", `{"allowed_origins":["javascript:x"]}`, nil, 400, CodeValidation},
			{"long name", "POST", "/v1/live_inputs", `{"name":"` + strings.Repeat("é", 300) + `"}`, nil, 400, CodeValidation},
			{"control char", "POST", "/v1/live_inputs", `{"name":"a\u0000b"}`, nil, 400, CodeValidation},
			{"negative window", "POST", "/v1/live_inputs", `{"reconnect_window_seconds":-1}`, nil, 400, CodeValidation},
			{"float", "POST", "/v1/live_inputs", `{"reconnect_window_seconds":1.5}`, nil, 400, CodeValidation},
			{"huge number", "POST", "/v1/live_inputs", `{"reconnect_window_seconds":1e400}`, nil, 400, ""},
			{"meta too big", "POST", "/v1/live_inputs", `{"meta":{"a":"` + strings.Repeat("x", 20000) + `"}}`, nil, 400, CodeValidation},
			{"content type", "POST", "/v1/live_inputs", `{}`, []string{"Content-Type", "text/plain"}, 415, CodeUnsupportedMediaType},
			{"bad cursor", "GET", "/v1/live_inputs?cursor=%%%", "", nil, 400, ""},
			{"garbage cursor", "GET", "/v1/live_inputs?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", nil, 400, CodeInvalidCursor},
			{"bad limit", "GET", "/v1/live_inputs?limit=5000", "", nil, 400, CodeInvalidParameter},
			{"bad status", "GET", "/v1/live_inputs?status=x", "", nil, 400, CodeInvalidParameter},
			{"bad id", "GET", "/v1/live_inputs/..%2f..", "", nil, 404, ""},
			{"patch empty", "PATCH", "/v1/live_inputs/nope", ``, nil, 400, CodeInvalidJSON},
			{"token no scopes", "POST", "/v1/tokens", `{"name":"x","scopes":[]}`, nil, 400, CodeValidation},
			{"token bad scope", "POST", "/v1/tokens", `{"name":"x","scopes":["root"]}`, nil, 400, CodeValidation},
			{"method", "PUT", "/v1/live_inputs", `{}`, nil, 405, CodeMethodNotAllowed},
			{"unknown path", "GET", "/v1/nothing", "", nil, 404, CodeNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var body any
				if tt.body != "" {
					body = tt.body
				}
				r := e.do(tt.method, tt.path, e.admin, body, tt.hdr...)
				if r.Status != tt.status || (tt.code != "" && r.code() != tt.code) {
					t.Fatalf("HTTP %d %s, want %d %s: %.300s", r.Status, r.code(), tt.status, tt.code, r.Body)
				}
				if r.Status != http.StatusNotFound || tt.code != "" {
					if msg, _ := r.JSON["error"].(map[string]any)["message"].(string); msg == "" && tt.code != "" {
						t.Fatalf("no message: %s", r.Body)
					}
				}
			})
		}
		if n := len(e.do("GET", "/v1/live_inputs", e.admin, nil).want(t, 200, "").list()); n != 0 {
			t.Fatalf("%d live inputs stored by bad requests", n)
		}
		if r := e.do("PUT", "/v1/live_inputs", e.admin, `{}`); r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
	})
}
