package upload

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	xslog "golang.org/x/exp/slog"

	"github.com/mpegflow/mpegflow/internal/store"
)

// tusServer serves the one-time tus 1.0 URLs of direct uploads
// (https://tus.io/protocols/resumable-upload, extensions creation,
// creation-with-upload, termination, expiration) with tusd's
// UnroutedHandler over a file store in Config.Dir/tus, which keeps
// offsets across a restart of the daemon.
//
// The URL /uploads/VIDEO_ID.SECRET is the capability: no API token, the
// secret (256 random bits, compared in constant time with its stored
// SHA-256) opens that one upload. The client POSTs (creation) to it, and
// the upload's location is the same URL (HEAD, PATCH, DELETE). The
// upload's allowed_origins are its CORS origins (none = any).
type tusServer struct {
	s     *Service
	h     *tusd.UnroutedHandler
	files string // the file store's directory
}

// tusVideoKey carries the video id of a request into tusd's hooks.
type tusVideoKey struct{}

func newTusServer(s *Service) (*tusServer, error) {
	t := &tusServer{s: s, files: filepath.Join(s.cfg.Dir, "tus")}
	fs := filestore.New(t.files)
	composer := tusd.NewStoreComposer()
	fs.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer: composer, BasePath: "/uploads/", MaxSize: s.cfg.MaxSize,
		DisableDownload: true, DisableConcatenation: true,
		Cors:                       &tusd.CorsConfig{Disable: true}, // per upload, in ServeHTTP
		Logger:                     xslog.New(xslog.NewTextHandler(io.Discard, nil)),
		PreUploadCreateCallback:    t.preCreate,
		PreFinishResponseCallback:  t.preFinish,
		PreUploadTerminateCallback: t.preTerminate,
	})
	if err != nil {
		return nil, err
	}
	t.h = h
	return t, nil
}

// TusHandler serves the direct upload URLs; mount it at "/uploads/".
func (s *Service) TusHandler() http.Handler { return s.tus }

// tusError answers a tus request with a plain text error.
func tusError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// open returns the direct upload the path's capability opens.
func (t *tusServer) open(ctx context.Context, capability string) (*store.Video, *store.Upload, bool) {
	id, secret, ok := strings.Cut(capability, ".")
	if !ok || !strings.HasPrefix(id, "vid_") || len(id) > 64 || secret == "" || len(secret) > 128 {
		return nil, nil, false
	}
	v, u, err := t.s.Get(ctx, id)
	if err != nil || u.Kind != store.UploadDirect || len(u.SecretHash) != sha256.Size {
		return nil, nil, false
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], u.SecretHash) != 1 {
		return nil, nil, false
	}
	return v, u, true
}

// cors applies the upload's allowed origins; false when the request's
// Origin is not one of them (answered 403).
func cors(w http.ResponseWriter, r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(allowed) > 0 && !slices.Contains(allowed, origin) && !slices.Contains(allowed, "*") {
		tusError(w, http.StatusForbidden, "origin not allowed for this upload")
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, Upload-Metadata, Upload-Expires")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, HEAD, PATCH, OPTIONS, DELETE")
		h.Set("Access-Control-Allow-Headers", "Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, Content-Type, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, Upload-Defer-Length, Upload-Concat")
		h.Set("Access-Control-Max-Age", "86400")
	}
	return true
}

func (t *tusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	capability, ok := strings.CutPrefix(r.URL.Path, "/uploads/")
	if !ok || strings.Contains(capability, "/") {
		tusError(w, http.StatusNotFound, "no such upload")
		return
	}
	v, u, ok := t.open(r.Context(), capability)
	if !ok {
		tusError(w, http.StatusNotFound, "no such upload")
		return
	}
	if !cors(w, r, v.AllowedOrigins) {
		return
	}
	method := r.Method
	if o := r.Header.Get("X-HTTP-Method-Override"); o != "" && method == http.MethodPost {
		method = o
	}
	waiting := v.Status == store.VideoPendingUpload || v.Status == store.VideoUploading
	if waiting && u.ExpiresAt != nil && !t.s.cfg.Now().Before(*u.ExpiresAt) {
		tusError(w, http.StatusGone, "the upload URL expired")
		return
	}
	h := w.Header()
	if u.ExpiresAt != nil && waiting {
		h.Set("Upload-Expires", u.ExpiresAt.UTC().Format(http.TimeFormat)) // tus expiration extension
	}
	// tusd sees the upload's id as the path (its ids are paths under
	// BasePath); the Location it answers is this same URL
	r2 := r.Clone(context.WithValue(r.Context(), tusVideoKey{}, v.ID))
	r2.URL.Path = "/" + v.ID
	var next http.HandlerFunc
	switch method {
	case http.MethodOptions:
		next = nil
	case http.MethodGet:
		serveStatus(w, v, u)
		return
	case http.MethodPost:
		if v.Status != store.VideoPendingUpload {
			tusError(w, http.StatusConflict, "this one-time upload URL was used already; resume with HEAD and PATCH")
			return
		}
		if r.Header.Get("Upload-Defer-Length") != "" {
			tusError(w, http.StatusBadRequest, "Upload-Length is required (no deferred length)")
			return
		}
		if n, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64); err == nil && n > u.MaxSizeBytes {
			tusError(w, http.StatusRequestEntityTooLarge, "Upload-Length is over this upload's limit of "+strconv.FormatInt(u.MaxSizeBytes, 10)+" bytes")
			return
		}
		r2.URL.Path = "/"
		next = t.h.PostFile
	case http.MethodHead:
		if v.Status == store.VideoPendingUpload {
			tusError(w, http.StatusNotFound, "no upload yet: POST to create it")
			return
		}
		if v.Status != store.VideoUploading { // complete: the file moved on to processing
			h.Set("Tus-Resumable", "1.0.0")
			h.Set("Cache-Control", "no-store")
			h.Set("Upload-Offset", strconv.FormatInt(u.SizeBytes, 10))
			h.Set("Upload-Length", strconv.FormatInt(u.SizeBytes, 10))
			w.WriteHeader(http.StatusOK)
			return
		}
		next = t.h.HeadFile
	case http.MethodPatch:
		if v.Status == store.VideoPendingUpload {
			tusError(w, http.StatusNotFound, "no upload yet: POST to create it")
			return
		}
		if v.Status != store.VideoUploading {
			tusError(w, http.StatusForbidden, "the upload is complete")
			return
		}
		next = t.patch(u)
	case http.MethodDelete:
		if v.Status != store.VideoUploading {
			tusError(w, http.StatusNotFound, "no upload in progress")
			return
		}
		next = t.h.DelFile
	default:
		h.Set("Allow", "GET, POST, HEAD, PATCH, DELETE, OPTIONS")
		tusError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if next == nil {
		next = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	}
	t.h.Middleware(next).ServeHTTP(&tusWriter{ResponseWriter: w, location: requestURL(r)}, r2)
}

// UploadStatus is what GET on a direct upload's URL answers (not part of
// tus): where the video it makes stands, for the uploading page to follow
// its processing without an API token (the URL is the credential).
type UploadStatus struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	PctComplete  float64 `json:"pct_complete"`
	ErrorCode    string  `json:"err_reason_code,omitempty"`
	ErrorMessage string  `json:"err_reason_text,omitempty"`
	// Player is the path of the video's player page once ready.
	Player string `json:"player,omitempty"`
}

// serveStatus answers GET on a direct upload's URL with its UploadStatus.
func serveStatus(w http.ResponseWriter, v *store.Video, u *store.Upload) {
	st := UploadStatus{ID: v.ID, Status: v.Status, PctComplete: u.PctComplete, ErrorCode: v.ErrorCode, ErrorMessage: v.ErrorMessage}
	if v.Status == store.VideoReady {
		st.Player = "/videos/" + v.ID + "/"
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(st)
}

// patch is tusd's PATCH, recording the bytes received about every second.
func (t *tusServer) patch(u *store.Upload) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		cr := &countingReader{r: r.Body}
		r.Body = cr
		done := make(chan struct{})
		go func() {
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-done:
					return
				case <-tk.C:
					_ = t.s.cfg.Uploads.Progress(r.Context(), u.VideoID, off+cr.n.Load(), 0, t.s.cfg.Now().UTC())
				}
			}
		}()
		t.h.PatchFile(w, r)
		close(done)
	}
}

type countingReader struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// requestURL is the absolute URL of r as the client addressed it.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// tusWriter makes tusd's Location the capability URL, and advertises the
// expiration extension.
type tusWriter struct {
	http.ResponseWriter
	location string
	wrote    bool
}

func (w *tusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if h.Get("Location") != "" {
			h.Set("Location", w.location)
		}
		if ext := h.Get("Tus-Extension"); ext != "" && !strings.Contains(ext, "expiration") {
			h.Set("Tus-Extension", ext+",expiration")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (tusd sets
// read deadlines through it).
func (w *tusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errUploadState is the tusd error of a request the video's state refuses.
var errUploadState = tusd.NewError("ERR_UPLOAD_STATE", "the upload is not in a state that allows this", http.StatusConflict)

// preCreate names the tus upload after its video, checks its size, and
// moves the video to uploading.
func (t *tusServer) preCreate(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	id, _ := hook.Context.Value(tusVideoKey{}).(string)
	if id == "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusd.ErrNotFound
	}
	u, err := t.s.cfg.Uploads.Get(hook.Context, id)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusd.ErrNotFound
	}
	if hook.Upload.SizeIsDeferred || hook.Upload.Size > u.MaxSizeBytes {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusd.ErrMaxSizeExceeded
	}
	if hook.Upload.Size == 0 {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusd.NewError("ERR_EMPTY", "a 0-byte file is not a video", http.StatusBadRequest)
	}
	_ = os.Remove(filepath.Join(t.files, id)) // a terminated attempt's
	c := store.UploadChange{From: []string{store.VideoPendingUpload}, Status: store.VideoUploading, SizeBytes: hook.Upload.Size, At: t.s.cfg.Now().UTC()}
	if err := t.s.cfg.Uploads.Transition(hook.Context, id, c, nil); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, errUploadState
		}
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	meta := tusd.MetaData{}
	for _, k := range []string{"name", "filename", "type", "filetype"} { // tus-js-client sends filename and filetype
		if v, ok := hook.Upload.MetaData[k]; ok && len(v) <= 255 {
			meta[k] = v
		}
	}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{ID: id, MetaData: meta}, nil
}

// preFinish queues the complete file: it moves into the blob store.
func (t *tusServer) preFinish(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	id := hook.Upload.ID
	bin, info := hook.Upload.Storage[filestore.StorageKeyPath], hook.Upload.Storage[filestore.StorageKeyInfoPath]
	if err := t.s.enqueue(context.WithoutCancel(hook.Context), id, bin, hook.Upload.Size, store.VideoUploading); err != nil {
		t.s.log.Error("cannot queue a complete tus upload", "video", id, "error", err)
		return tusd.HTTPResponse{}, err
	}
	_ = os.Remove(info)
	return tusd.HTTPResponse{}, nil
}

// preTerminate lets the client start over (the URL works again until it
// expires).
func (t *tusServer) preTerminate(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	c := store.UploadChange{From: []string{store.VideoUploading}, Status: store.VideoPendingUpload, At: t.s.cfg.Now().UTC()}
	if err := t.s.cfg.Uploads.Transition(hook.Context, hook.Upload.ID, c, nil); err != nil {
		return tusd.HTTPResponse{}, errUploadState
	}
	return tusd.HTTPResponse{}, nil
}

// removeTusFiles deletes what the file store holds of upload id.
func (t *tusServer) removeTusFiles(id string) {
	_ = os.Remove(filepath.Join(t.files, id))
	_ = os.Remove(filepath.Join(t.files, id+".info"))
}

// maxTusAge: a file in the tus directory older than this belongs to no
// upload URL that still works (they last at most 6 hours).
const maxTusAge = 7 * time.Hour

// sweep deletes what no upload needs any more: tus files past maxTusAge
// (their video was deleted, or the daemon died before they expired), and
// uploaded files of videos deleted before they were processed.
func (s *Service) sweep(ctx context.Context) {
	es, _ := os.ReadDir(s.tus.files)
	for _, e := range es {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > maxTusAge {
			_ = os.Remove(filepath.Join(s.tus.files, e.Name()))
		}
	}
	objs, err := s.cfg.Blobs.List(ctx, "uploads/")
	if err != nil {
		return
	}
	for _, o := range objs {
		if time.Since(o.ModTime) < time.Hour {
			continue // a plain upload stores its file just before its row
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(o.Key, "uploads/"), "/")
		if _, err := s.cfg.Uploads.Get(ctx, id); errors.Is(err, store.ErrNotFound) {
			_ = s.cfg.Blobs.Delete(ctx, o.Key)
		}
	}
}

// expirer errors the direct uploads whose URL expired unfinished and
// deletes their partial files, every minute until ctx is done, and sweeps
// what no upload needs every hour.
func (s *Service) expirer(ctx context.Context) {
	tk := time.NewTicker(time.Minute)
	defer tk.Stop()
	for i := 0; ; i++ {
		if i%60 == 0 {
			s.sweep(ctx)
		}
		ups, err := s.cfg.Uploads.Expired(ctx, s.cfg.Now(), 100)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("listing expired uploads", "error", err)
		}
		for _, u := range ups {
			s.fail(ctx, u.VideoID, "", CodeUploadExpired, "the upload URL expired before the file was complete",
				store.VideoPendingUpload, store.VideoUploading)
			s.tus.removeTusFiles(u.VideoID)
		}
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}
