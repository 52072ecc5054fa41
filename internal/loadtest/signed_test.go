package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeControlAPI answers POST /v1/live_inputs and POST
// /v1/live_inputs/ID/token as the daemon does, for one admin token.
type fakeControlAPI struct {
	admin string
	mu    sync.Mutex
	n     int
	bad   string // path to answer 500
	seen  []string
	// record: live inputs need not require signed URLs
	record bool
}

func (f *fakeControlAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+f.admin {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == f.bad {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/live_inputs":
		if body["require_signed_urls"] != true && !f.record {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mode := "off"
		if rec, ok := body["recording"].(map[string]any); ok {
			mode, _ = rec["mode"].(string)
		}
		tmode := "off"
		if tc, ok := body["transcode"].(map[string]any); ok {
			if ladder, _ := tc["ladder"].([]any); len(ladder) > 0 {
				tmode, _ = tc["mode"].(string)
			}
		}
		f.n++
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"id": "li_" + string(rune('a'+f.n-1)), "require_signed_urls": body["require_signed_urls"] == true,
			"rtmp":      map[string]any{"url": "rtmp://x/live", "stream_key": "sk_" + string(rune('a'+f.n-1))},
			"recording": map[string]any{"mode": mode, "delete_after_days": 0},
			"transcode": map[string]any{"mode": tmode},
		}})
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/token"):
		if ttl, _ := body["ttl_seconds"].(float64); ttl < 3600 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/live_inputs/"), "/token")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"token": "tok." + id, "expires_at": time.Now().Add(time.Hour)}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestCreateSignedInputs(t *testing.T) {
	f := &fakeControlAPI{admin: "adm_0123456789abcdef"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ins, err := CreateSignedInputs(context.Background(), srv.Client(), srv.URL+"/", f.admin, 2, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{{ID: "li_a", Key: "sk_a", Token: "tok.li_a"}, {ID: "li_b", Key: "sk_b", Token: "tok.li_b"}}
	if len(ins) != 2 || ins[0] != want[0] || ins[1] != want[1] {
		t.Errorf("inputs %+v, want %+v", ins, want)
	}
	if got := strings.Join(f.seen, ","); got != "POST /v1/live_inputs,POST /v1/live_inputs/li_a/token,POST /v1/live_inputs,POST /v1/live_inputs/li_b/token" {
		t.Errorf("calls %s", got)
	}
	if _, err := CreateSignedInputs(context.Background(), srv.Client(), srv.URL, "wrong-admin-token", 1, time.Hour); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong admin token: err %v", err)
	}
	f.bad = "/v1/live_inputs/li_c/token"
	if _, err := CreateSignedInputs(context.Background(), srv.Client(), srv.URL, f.admin, 1, time.Hour); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("failing mint: err %v", err)
	}
}

func TestPlaybackURL(t *testing.T) {
	for _, inPath := range []bool{false, true} {
		if got, want := playbackURL("http://h:1/", Input{ID: "load1"}, inPath), "http://h:1/live/load1/index.m3u8"; got != want {
			t.Errorf("unsigned %q, want %q", got, want)
		}
	}
	if got, want := playbackURL("http://h:1", Input{ID: "li_1", Token: "a.b+c"}, false), "http://h:1/live/li_1/index.m3u8?token=a.b%2Bc"; got != want {
		t.Errorf("signed %q, want %q", got, want)
	}
	if got, want := playbackURL("http://h:1", Input{ID: "li_1", Token: "a.b-c"}, true), "http://h:1/live/a.b-c/index.m3u8"; got != want {
		t.Errorf("signed in the path %q, want %q", got, want)
	}
}

func TestRunSignedNeedsDaemon(t *testing.T) {
	_, err := Run(context.Background(), Config{Readers: 1, Duration: time.Second, HTTPURL: "http://127.0.0.1:1",
		Inputs: []Input{{ID: "x", Key: "k"}}, Signed: true})
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "signed") {
		t.Errorf("err = %v, want ErrSetup about signed", err)
	}
}

// A reader starts from the multivariant playlist with ?token= (the
// daemon carries it onto the URIs its playlists list; the fake here does
// not, so only the first request is checked).
func TestRunSignedReaderToken(t *testing.T) {
	f := &fakeLLHLS{
		t0:      time.Now().Add(-2 * time.Second).Truncate(time.Millisecond),
		partDur: 100 * time.Millisecond, perSeg: 5, lag: 2 * time.Millisecond, parts: true,
		requests: map[string]int{},
	}
	var once sync.Once
	first := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { first <- r.URL.RequestURI() })
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), Config{
		Readers: 1, Duration: 800 * time.Millisecond, Warmup: 300 * time.Millisecond,
		HTTPURL: srv.URL, Inputs: []Input{{ID: "x", Key: "k", Token: "T1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-first; got != "/live/x/index.m3u8?token=T1" {
		t.Errorf("first request %q", got)
	}
	if rep.PartsFetched == 0 || len(rep.Errors) != 0 {
		t.Errorf("parts %d errors %v", rep.PartsFetched, rep.Errors)
	}
}

func TestCreateRecordingInputs(t *testing.T) {
	f := &fakeControlAPI{admin: "adm_0123456789abcdef", record: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ins, err := CreateInputs(context.Background(), srv.Client(), srv.URL, f.admin, 2, InputOptions{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{{ID: "li_a", Key: "sk_a"}, {ID: "li_b", Key: "sk_b"}}
	if len(ins) != 2 || ins[0] != want[0] || ins[1] != want[1] {
		t.Errorf("inputs %+v, want %+v", ins, want)
	}
	if got := strings.Join(f.seen, ","); got != "POST /v1/live_inputs,POST /v1/live_inputs" {
		t.Errorf("calls %s (no tokens without signed)", got)
	}
	// a daemon that does not record what it was asked to is an error
	f2 := &fakeControlAPI{admin: "adm_0123456789abcdef", record: true}
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/v1/live_inputs" {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"data":{"id":"li_a","rtmp":{"stream_key":"k"},"recording":{"mode":"off"}}}`))
			return
		}
		f2.ServeHTTP(w, r)
	}))
	defer srv2.Close()
	if _, err := CreateInputs(context.Background(), srv2.Client(), srv2.URL, f2.admin, 1, InputOptions{Record: true}); err == nil || !strings.Contains(err.Error(), "recording.mode") {
		t.Fatalf("recording off in the answer: %v", err)
	}
}

func TestMintTokens(t *testing.T) {
	f := &fakeControlAPI{admin: "adm_0123456789abcdef"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	toks, err := MintTokens(context.Background(), srv.Client(), srv.URL, f.admin, "li_x", 3, 2*time.Hour)
	if err != nil || len(toks) != 3 || toks[2] != "tok.li_x" {
		t.Fatalf("%v %v", toks, err)
	}
	if got := len(f.seen); got != 3 {
		t.Errorf("%d calls", got)
	}
	f.bad = "/v1/live_inputs/li_x/token"
	if _, err := MintTokens(context.Background(), srv.Client(), srv.URL, f.admin, "li_x", 1, time.Hour); err == nil {
		t.Error("failing mint: no error")
	}
}

func TestCreateTranscodedInputs(t *testing.T) {
	f := &fakeControlAPI{admin: "adm_0123456789abcdef", record: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ins, err := CreateInputs(context.Background(), srv.Client(), srv.URL, f.admin, 2, InputOptions{Transcode: []string{"480p", "360p"}})
	if err != nil || len(ins) != 2 {
		t.Fatalf("%v %v", ins, err)
	}
	// no ladder: no transcode asked, and "off" in the answer is no error
	if _, err := CreateInputs(context.Background(), srv.Client(), srv.URL, f.admin, 1, InputOptions{Transcode: []string{}}); err != nil {
		t.Fatalf("no transcode asked: %v", err)
	}
}
