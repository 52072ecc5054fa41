package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// recordedUploads is an UploadService that keeps what it was asked, over
// a real store: its videos are created as the upload service creates
// them, so that GET /v1/videos/ID/upload reads them back.
type recordedUploads struct {
	st      store.Store
	last    UploadOptions
	body    []byte
	limit   int64
	copyURL string
	n       int
}

func (r *recordedUploads) create(ctx context.Context, o UploadOptions, kind, status string) (*store.Video, error) {
	r.last = o
	r.n++
	now := time.Now().UTC().Truncate(time.Microsecond)
	v := &store.Video{ID: fmt.Sprintf("vid_%026d", r.n), Status: status, CreatedAt: now, StartedAt: now, UpdatedAt: now,
		Meta: o.Meta, AllowedOrigins: o.AllowedOrigins, Tracks: []store.VideoTrack{}, DownloadStatus: store.DownloadNone}
	exp := now.Add(o.Expiry)
	u := &store.Upload{VideoID: v.ID, Kind: kind, MaxSizeBytes: o.MaxSizeBytes, ExpiresAt: &exp, Creator: o.Creator, CreatedAt: now, UpdatedAt: now}
	return v, r.st.Uploads().Create(ctx, v, u, nil)
}

func (r *recordedUploads) CreateDirect(ctx context.Context, o UploadOptions) (*store.Video, string, error) {
	v, err := r.create(ctx, o, store.UploadDirect, store.VideoPendingUpload)
	return v, "/uploads/" + v.ID + ".secret", err
}

func (r *recordedUploads) CreatePlain(ctx context.Context, body io.Reader, o UploadOptions) (*store.Video, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > r.limit {
		return nil, ErrUploadTooLarge
	}
	r.body = b
	return r.create(ctx, o, store.UploadPlain, store.VideoQueued)
}

func (r *recordedUploads) CreateCopy(ctx context.Context, url string, o UploadOptions) (*store.Video, error) {
	if strings.Contains(url, "127.0.0.1") {
		return nil, ErrUploadSourceRefused
	}
	r.copyURL = url
	return r.create(ctx, o, store.UploadCopy, store.VideoDownloading)
}

func (r *recordedUploads) PlainMaxSize() int64 { return r.limit }

func uploadsEnv(t *testing.T, with bool) (*env, *recordedUploads) {
	t.Helper()
	st := openSQLite(t)
	e := newEnv(t, st)
	ru := &recordedUploads{st: st, limit: 1000}
	cfg := Config{Store: st, Bus: e.bus, Endpoints: Endpoints{HTTP: "127.0.0.1:8080"}}
	if with {
		cfg.Uploads = UploadsDeps{Uploads: ru}
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hs.Close()
	e.srv, e.hs = srv, httptest.NewServer(srv.Handler())
	t.Cleanup(func() { e.hs.Close(); _ = srv.Close() })
	return e, ru
}

func TestDirectUploadValidation(t *testing.T) {
	e, ru := uploadsEnv(t, true)
	soon := time.Now().Add(time.Minute).Format(time.RFC3339)
	late := time.Now().Add(7 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"expiry": "` + soon + `"}`, "expiry"},
		{`{"expiry": "` + late + `"}`, "expiry"},
		{`{"allowed_origins": ["ftp://x"]}`, "allowed_origins[0]"},
		{`{"max_duration_seconds": -1}`, "max_duration_seconds"},
		{`{"max_size_bytes": -5}`, "max_size_bytes"},
		{`{"creator": "` + strings.Repeat("x", 65) + `"}`, "creator"},
	} {
		r := e.do("POST", "/v1/videos/direct_upload", e.admin, tc.body).want(t, 400, "")
		if f, _ := r.JSON["error"].(map[string]any)["details"].(map[string]any)["field"]; f != tc.field {
			t.Errorf("%s: field %v, want %s", tc.body, f, tc.field)
		}
	}
	e.do("POST", "/v1/videos/direct_upload", e.admin, `{"bogus": 1}`).want(t, 400, CodeUnknownField)
	r := e.do("POST", "/v1/videos/direct_upload", e.admin, `{"max_duration_seconds": 60, "meta": {"k": "v"}, "creator": "c"}`).want(t, 200, "")
	d := r.data()
	if !strings.HasPrefix(d["upload_url"].(string), "http://127.0.0.1:8080/uploads/vid_") || d["id"] == "" {
		t.Fatalf("response %v", d)
	}
	if ru.last.Expiry != DefaultUploadExpiry || ru.last.MaxDurationSeconds != 60 || ru.last.Creator != "c" {
		t.Fatalf("options %+v", ru.last)
	}
	up := e.do("GET", "/v1/videos/"+d["id"].(string)+"/upload", e.admin, nil).want(t, 200, "").data()
	if up["kind"] != "direct" || up["status"] != "pendingupload" || up["creator"] != "c" {
		t.Fatalf("upload %v", up)
	}
	// GET on a POST-only path under /v1/videos/ is 405, not a video lookup
	e.do("GET", "/v1/videos/direct_upload", e.admin, nil).want(t, 405, CodeMethodNotAllowed)
	// a token without videos:write
	e.do("POST", "/v1/videos/direct_upload", e.token(ScopeVideosRead), `{}`).want(t, 403, CodeForbidden)
}

func TestPlainUploadAndCopyAPI(t *testing.T) {
	e, ru := uploadsEnv(t, true)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("meta", `{"name":"x"}`)
	fw, _ := mw.CreateFormFile("file", "a.mp4")
	fw.Write([]byte("file bytes"))
	mw.Close()
	e.do("POST", "/v1/videos/upload", e.admin, b.Bytes(), "Content-Type", mw.FormDataContentType()).want(t, 202, "")
	if string(ru.body) != "file bytes" || ru.last.Name != "a.mp4" || ru.last.Meta["name"] != "x" {
		t.Fatalf("got %q %+v", ru.body, ru.last)
	}
	e.do("POST", "/v1/videos/upload", e.admin, []byte("raw bytes"), "Content-Type", "video/mp4").want(t, 202, "")
	if string(ru.body) != "raw bytes" {
		t.Fatalf("raw body %q", ru.body)
	}
	e.do("POST", "/v1/videos/upload", e.admin, bytes.Repeat([]byte{1}, 1001), "Content-Type", "video/mp4").want(t, 413, CodeBodyTooLarge)
	e.do("POST", "/v1/videos/upload", e.admin, []byte("--x\r\nContent-Disposition: form-data; name=\"nope\"\r\n\r\nv\r\n--x--\r\n"),
		"Content-Type", "multipart/form-data; boundary=x").want(t, 400, CodeUnknownField)
	e.do("POST", "/v1/videos/copy", e.admin, `{"url": "https://example.com/a.mp4", "meta": {"k": 1}}`).want(t, 202, "")
	if ru.copyURL != "https://example.com/a.mp4" {
		t.Fatalf("copy url %q", ru.copyURL)
	}
	e.do("POST", "/v1/videos/copy", e.admin, `{"url": "http://127.0.0.1/a.mp4"}`).want(t, 400, CodeValidation)
	e.do("POST", "/v1/videos/copy", e.admin, `{}`).want(t, 400, CodeValidation)
}

func TestUploadsWithoutService(t *testing.T) {
	e, _ := uploadsEnv(t, false)
	for _, p := range []string{"/v1/videos/direct_upload", "/v1/videos/copy"} {
		e.do("POST", p, e.admin, `{"url": "https://example.com/"}`).want(t, http.StatusNotImplemented, CodeNotSupported)
	}
}
