package upload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// tusReq sends one tus request.
func tusReq(t *testing.T, method, url string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestTusDirectUpload(t *testing.T) {
	f := newFixture(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/uploads/", f.svc.TusHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	file, err := os.ReadFile(media(t, 5, "160x120", "libx264", true, "mp4"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.CreateDirect(t.Context(), Options{Expiry: 30 * time.Minute, MaxSizeBytes: int64(len(file)) + 10,
		AllowedOrigins: []string{"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	u := srv.URL + TusPath(d.Video.ID, d.Secret)
	size := strconv.Itoa(len(file))
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("clip.mp4")) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("video/mp4"))

	// a wrong secret opens nothing; a foreign origin is refused
	if r := tusReq(t, "POST", srv.URL+TusPath(d.Video.ID, d.Secret+"x"), map[string]string{"Upload-Length": size}, nil); r.StatusCode != 404 {
		t.Fatalf("wrong secret: %d", r.StatusCode)
	}
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": size, "Origin": "https://evil.example"}, nil); r.StatusCode != 403 {
		t.Fatalf("foreign origin: %d", r.StatusCode)
	}
	// 413 from Upload-Length, before a byte
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": strconv.Itoa(len(file) + 11)}, nil); r.StatusCode != 413 {
		t.Fatalf("over the limit: %d", r.StatusCode)
	}
	// preflight from the allowed origin
	r := tusReq(t, "OPTIONS", u, map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, nil)
	if r.StatusCode/100 != 2 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	// creation with the first 1000 bytes (creation-with-upload)
	r = tusReq(t, "POST", u, map[string]string{"Upload-Length": size, "Upload-Metadata": meta, "Origin": "https://app.example"}, file[:1000])
	if r.StatusCode != 201 || r.Header.Get("Location") != u || r.Header.Get("Upload-Offset") != "1000" || r.Header.Get("Upload-Expires") == "" {
		t.Fatalf("create: %d %v", r.StatusCode, r.Header)
	}
	// one-time: a second creation is refused
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": size}, nil); r.StatusCode != 409 {
		t.Fatalf("second creation: %d", r.StatusCode)
	}
	// a PATCH at the wrong offset: 409
	if r := tusReq(t, "PATCH", u, map[string]string{"Upload-Offset": "5"}, file[5:100]); r.StatusCode != 409 {
		t.Fatalf("wrong offset: %d", r.StatusCode)
	}
	if v, _ := f.st.Videos().Get(t.Context(), d.Video.ID); v.Status != store.VideoUploading {
		t.Fatalf("status %s, want uploading", v.Status)
	}
	// resume: HEAD says where, PATCH the rest in two pieces
	r = tusReq(t, "HEAD", u, nil, nil)
	if r.StatusCode != 200 || r.Header.Get("Upload-Offset") != "1000" || r.Header.Get("Upload-Length") != size {
		t.Fatalf("head: %d %v", r.StatusCode, r.Header)
	}
	half := len(file) / 2
	if r := tusReq(t, "PATCH", u, map[string]string{"Upload-Offset": "1000"}, file[1000:half]); r.StatusCode != 204 {
		t.Fatalf("patch 1: %d", r.StatusCode)
	}
	if r := tusReq(t, "PATCH", u, map[string]string{"Upload-Offset": strconv.Itoa(half)}, file[half:]); r.StatusCode != 204 {
		t.Fatalf("patch 2: %d", r.StatusCode)
	}
	// complete: HEAD still answers, PATCH is refused
	if r := tusReq(t, "HEAD", u, nil, nil); r.StatusCode != 200 || r.Header.Get("Upload-Offset") != size {
		t.Fatalf("head after: %d %v", r.StatusCode, r.Header)
	}
	got := f.waitStatus(t, d.Video.ID, 60*time.Second)
	if got.Status != store.VideoReady {
		t.Fatalf("status %s %s %s", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	f.checkPlays(t, got, 4*time.Second)
	// GET on the URL: the video's status, for the uploading page
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	var us UploadStatus
	err = json.NewDecoder(res.Body).Decode(&us)
	res.Body.Close()
	if err != nil || us.ID != d.Video.ID || us.Status != store.VideoReady || us.PctComplete != 100 || us.Player != "/videos/"+d.Video.ID+"/" {
		t.Fatalf("status: %+v %v", us, err)
	}
	if res, err := http.Get(srv.URL + TusPath(d.Video.ID, d.Secret+"x")); err != nil || res.StatusCode != 404 {
		t.Fatalf("status with a wrong secret: %v %v", res, err)
	}
	if es, _ := os.ReadDir(f.svc.tus.files); len(es) != 0 {
		t.Errorf("tus files left: %d", len(es))
	}
}

func TestTusTerminateAndExpire(t *testing.T) {
	var nowMu sync.Mutex // the service's workers read the clock
	now := time.Now()
	clock := func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }
	f := newFixture(t, func(c *Config) { c.Now = func() time.Time { return clock() } })
	srv := httptest.NewServer(f.svc.TusHandler())
	defer srv.Close()
	d, err := f.svc.CreateDirect(t.Context(), Options{Expiry: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	u := srv.URL + TusPath(d.Video.ID, d.Secret)
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": "0"}, nil); r.StatusCode != 400 {
		t.Fatalf("0-byte upload: %d", r.StatusCode)
	}
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": "100"}, []byte("0123456789")); r.StatusCode != 201 {
		t.Fatalf("create: %d", r.StatusCode)
	}
	// termination: the URL can be used again
	if r := tusReq(t, "DELETE", u, nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if v, _ := f.st.Videos().Get(t.Context(), d.Video.ID); v.Status != store.VideoPendingUpload {
		t.Fatalf("after termination: %s", v.Status)
	}
	if r := tusReq(t, "POST", u, map[string]string{"Upload-Length": "100"}, []byte("0123456789")); r.StatusCode != 201 {
		t.Fatalf("create again: %d", r.StatusCode)
	}
	// expired: 410, then the expirer errors the video
	nowMu.Lock()
	now = now.Add(3 * time.Minute)
	nowMu.Unlock()
	if r := tusReq(t, "PATCH", u, map[string]string{"Upload-Offset": "10"}, []byte("x")); r.StatusCode != 410 {
		t.Fatalf("expired: %d", r.StatusCode)
	}
	f.svc.Close() // the expirer runs at start: run a second service over the same store
	s2, err := New(f.svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2.cfg.FFmpeg = ""
	done := make(chan struct{})
	go func() { defer close(done); _ = s2.Run(t.Context()) }()
	got := f.waitStatus(t, d.Video.ID, 10*time.Second)
	s2.Close()
	<-done
	if got.Status != store.VideoErrored || got.ErrorCode != CodeUploadExpired {
		t.Fatalf("expired upload: %s %s", got.Status, got.ErrorCode)
	}
	if es, _ := os.ReadDir(f.svc.tus.files); len(es) != 0 {
		t.Errorf("tus files left: %d", len(es))
	}
}

func TestUnfinishedPerToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxUnfinished = 2 })
	for i := range 2 {
		if _, err := f.svc.CreateDirect(t.Context(), Options{Expiry: time.Hour, TokenID: "tok_a"}); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	if _, err := f.svc.CreateDirect(t.Context(), Options{Expiry: time.Hour, TokenID: "tok_a"}); !errors.Is(err, ErrTooManyUnfinished) {
		t.Fatalf("third direct upload: %v", err)
	}
	if _, err := f.svc.CreateCopy(t.Context(), "http://example.invalid/a.mp4", Options{TokenID: "tok_a"}); !errors.Is(err, ErrTooManyUnfinished) {
		t.Fatalf("copy past the limit: %v", err)
	}
	if _, err := f.svc.CreateDirect(t.Context(), Options{Expiry: time.Hour, TokenID: "tok_b"}); err != nil {
		t.Fatalf("another token: %v", err)
	}
}
