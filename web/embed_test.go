package web

import (
	"bytes"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFSHasPlayerAndStatic(t *testing.T) {
	for _, p := range []string{PlayerPath, "static/README.txt"} {
		if _, err := fs.Stat(FS(), p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	page, err := fs.ReadFile(FS(), PlayerPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`src="` + DefaultHLSJSURL + `"`, "lowLatencyMode: true", "index.m3u8", "application/vnd.apple.mpegurl", "playingDate"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("player.html lacks %q", want)
		}
	}
}

func TestPlayerPageURL(t *testing.T) {
	if got := PlayerPage(""); !bytes.Contains(got, []byte(`src="`+DefaultHLSJSURL+`"`)) {
		t.Error("default page does not load the default hls.js URL")
	}
	got := PlayerPage(`https://cdn.example/hls.min.js?a=1&b="x"`)
	if !bytes.Contains(got, []byte(`<script src="https://cdn.example/hls.min.js?a=1&amp;b=&#34;x&#34;">`)) {
		t.Errorf("custom URL not substituted and escaped")
	}
	if bytes.Contains(got, []byte(DefaultHLSJSURL)) {
		t.Error("default URL still present")
	}
}

func TestConsoleHandler(t *testing.T) {
	h := ConsoleHandler()
	get := func(p string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		return rec
	}
	if !HasConsole() {
		// a checkout without make build: a clear 503, never a broken page
		if rec := get("/"); rec.Code != 503 || !strings.Contains(rec.Body.String(), "make build") {
			t.Fatalf("unbuilt console: %d %q", rec.Code, rec.Body.String())
		}
		return
	}
	tests := []struct {
		path, ctype string
		code        int
	}{
		{"/", "text/html", 200},
		{"/app.js", "text/javascript", 200},
		{"/app.css", "text/css", 200},
		{"/README.txt", "", 404},
		{"/nope.js", "", 404},
	}
	for _, tc := range tests {
		rec := get(tc.path)
		if rec.Code != tc.code || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %d %s, want %d %s", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.ctype)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
	}
	if !strings.Contains(get("/").Body.String(), `src="app.js"`) {
		t.Error("index.html does not load app.js")
	}
}
