package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/internal/output/restream"
)

// fakeOutputs is an OutputsRuntime that reports one output broadcasting
// and records the changes it is told about.
type fakeOutputs struct {
	mu      sync.Mutex
	live    string // output id reported broadcasting
	changed []string
}

func (f *fakeOutputs) Status(_, id string) (restream.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == f.live {
		return restream.Status{State: restream.StateBroadcasting, BytesSent: 42}, true
	}
	return restream.Status{}, false
}

func (f *fakeOutputs) Changed(id string) {
	f.mu.Lock()
	f.changed = append(f.changed, id)
	f.mu.Unlock()
}

func TestOutputsLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		rt := &fakeOutputs{}
		e.srv.outputs.Runtime = rt
		li := e.create(map[string]any{"name": "src"})["id"].(string)
		base := "/v1/live_inputs/" + li + "/outputs"
		const key = "live_0123456789abcdefSECRET"
		r := e.do("POST", base, e.admin, map[string]any{"name": "yt", "url": "rtmp://a.rtmp.youtube.com/live2", "stream_key": key}).want(t, 201, "")
		o := r.data()
		id := o["id"].(string)
		if !strings.HasPrefix(id, "out_") || r.Header.Get("Location") != base+"/"+id {
			t.Fatalf("id %q location %q", id, r.Header.Get("Location"))
		}
		if o["stream_key"] != "****CRET" || o["rendition"] != "source" || o["enabled"] != true || o["status"].(map[string]any)["state"] != "idle" {
			t.Fatalf("created %v", o)
		}
		if strings.Contains(string(r.Body), key) {
			t.Fatal("the stream key is in the response")
		}
		srt := e.do("POST", base, e.admin, map[string]any{"url": "srt://t.example:9000?streamid=publish:k&passphrase=supersecret123", "enabled": false}).want(t, 201, "").data()
		if strings.Contains(fmt.Sprint(srt), "supersecret123") || srt["status"].(map[string]any)["state"] != "disabled" {
			t.Fatalf("srt output %v", srt)
		}

		rt.mu.Lock()
		rt.live = id
		rt.mu.Unlock()
		g := e.do("GET", base+"/"+id, e.token(ScopeLiveInputsRead), nil).want(t, 200, "").data()
		if st := g["status"].(map[string]any); st["state"] != "broadcasting" || st["bytes_sent"] != float64(42) {
			t.Fatalf("status %v", st)
		}
		if list := e.do("GET", base, e.admin, nil).want(t, 200, "").list(); len(list) != 2 {
			t.Fatalf("list %v", list)
		}

		p := e.do("PATCH", base+"/"+id, e.admin, map[string]any{"enabled": false, "name": "renamed"}).want(t, 200, "").data()
		if p["enabled"] != false || p["name"] != "renamed" || p["stream_key"] != "****CRET" || p["url"] != "rtmp://a.rtmp.youtube.com/live2" {
			t.Fatalf("patched %v", p)
		}
		e.do("DELETE", base+"/"+id, e.admin, nil).want(t, 204, "")
		e.do("GET", base+"/"+id, e.admin, nil).want(t, 404, CodeNotFound)
		rt.mu.Lock()
		n := len(rt.changed)
		rt.mu.Unlock()
		if n != 4 { // two creates, a patch, a delete
			t.Fatalf("runtime told of %d changes, want 4", n)
		}
		// another input's outputs are not reachable through this one
		other := e.create(map[string]any{"name": "other"})["id"].(string)
		e.do("GET", "/v1/live_inputs/"+other+"/outputs/"+srt["id"].(string), e.admin, nil).want(t, 404, CodeNotFound)
		e.do("GET", "/v1/live_inputs/li_nope/outputs", e.admin, nil).want(t, 404, CodeNotFound)
	})
}

func TestOutputsValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		li := e.create(map[string]any{"name": "src"})["id"].(string)
		base := "/v1/live_inputs/" + li + "/outputs"
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{}, "url"},
			{map[string]any{"url": "http://x.example/live", "stream_key": "k"}, "url"},
			{map[string]any{"url": "rtmp:///live", "stream_key": "k"}, "url"},
			{map[string]any{"url": "srt://x.example", "stream_key": "k"}, "url"},
			{map[string]any{"url": "srt://x.example:1?passphrase=short"}, "url"},
			{map[string]any{"url": "rtmp://x.example/live"}, "stream_key"},
			{map[string]any{"url": "rtmp://x.example/live", "stream_key": "k", "rendition": "4k"}, "rendition"},
			{map[string]any{"url": "rtmp://x.example/live", "stream_key": "a\nb"}, "stream_key"},
		} {
			r := e.do("POST", base, e.admin, tc.body).want(t, 400, CodeValidation)
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("%v: %s, want field %s", tc.body, r.Body, tc.field)
			}
		}
		e.do("POST", base, e.admin, map[string]any{"url": "rtmp://x.example/live", "stream_key": "k", "bogus": 1}).want(t, 400, CodeUnknownField)
		// the stream name may end the URL instead of stream_key
		e.do("POST", base, e.admin, map[string]any{"url": "rtmp://x.example/live/name"}).want(t, 201, "")
		ro := e.token(ScopeLiveInputsRead)
		e.do("POST", base, ro, map[string]any{"url": "rtmp://x.example/live/name"}).want(t, 403, CodeForbidden)
	})
}

func TestOutputsLimit(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	li := e.create(map[string]any{"name": "src"})["id"].(string)
	base := "/v1/live_inputs/" + li + "/outputs"
	for i := range MaxOutputs {
		e.do("POST", base, e.admin, map[string]any{"url": fmt.Sprintf("rtmp://t%d.example/live", i), "stream_key": "k"}).want(t, 201, "")
	}
	r := e.do("POST", base, e.admin, map[string]any{"url": "rtmp://x.example/live", "stream_key": "k"}).want(t, 409, CodeLimitReached)
	if !strings.Contains(string(r.Body), "50") {
		t.Fatalf("limit message %s", r.Body)
	}
}

// Outputs follow the contract of every other resource: the list pages
// with limit and cursor, and PATCH and DELETE honour If-Match against an
// ETag that a broadcasting output's changing status does not move.
func TestOutputsPagingAndETag(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	rt := &fakeOutputs{}
	e.srv.outputs.Runtime = rt
	li := e.create(map[string]any{"name": "src"})["id"].(string)
	base := "/v1/live_inputs/" + li + "/outputs"
	for i := range 3 {
		e.do("POST", base, e.admin, map[string]any{"url": fmt.Sprintf("rtmp://t%d.example/live", i), "stream_key": "k"}).want(t, 201, "")
	}
	p1 := e.do("GET", base+"?limit=2", e.admin, nil).want(t, 200, "")
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(p1.Body, &page); err != nil || len(page.Data) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %s", p1.Body)
	}
	first := page.Data[0].ID
	p2 := e.do("GET", base+"?limit=2&cursor="+page.NextCursor, e.admin, nil).want(t, 200, "")
	page.NextCursor = ""
	if err := json.Unmarshal(p2.Body, &page); err != nil || len(page.Data) != 1 || page.NextCursor != "" || page.Data[0].ID == first {
		t.Fatalf("second page: %s", p2.Body)
	}
	e.do("GET", base+"?cursor=garbage", e.admin, nil).want(t, 400, CodeInvalidCursor)
	checkTimestamps(t, "outputs", p1.JSON)

	id := page.Data[0].ID
	g := e.do("GET", base+"/"+id, e.admin, nil).want(t, 200, "")
	tag := g.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on an output")
	}
	rt.mu.Lock()
	rt.live = id
	rt.mu.Unlock()
	if again := e.do("GET", base+"/"+id, e.admin, nil).want(t, 200, "").Header.Get("ETag"); again != tag {
		t.Fatalf("ETag moved with the status: %s then %s", tag, again)
	}
	p := e.do("PATCH", base+"/"+id, e.admin, map[string]any{"name": "renamed"}, "If-Match", tag).want(t, 200, "")
	if p.Header.Get("ETag") == tag || p.Header.Get("ETag") == "" {
		t.Fatalf("ETag after a change: %q (was %q)", p.Header.Get("ETag"), tag)
	}
	e.do("PATCH", base+"/"+id, e.admin, map[string]any{"name": "stale"}, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	e.do("DELETE", base+"/"+id, e.admin, nil, "If-Match", tag).want(t, 412, CodePreconditionFailed)
	e.do("DELETE", base+"/"+id, e.admin, nil, "If-Match", p.Header.Get("ETag")).want(t, 204, "")
}
