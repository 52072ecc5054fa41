package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Errors an UploadService returns for the API to map (wrapped or bare).
var (
	// ErrUploadTooLarge: the file is over the limit (413).
	ErrUploadTooLarge = errors.New("file too large")
	// ErrUploadEmpty: a 0-byte file, or a body that ended before the
	// file did (400).
	ErrUploadEmpty = errors.New("empty or incomplete file")
	// ErrUploadLimit: the token has too many uploads waiting for their
	// file (429).
	ErrUploadLimit = errors.New("too many unfinished uploads")
	// ErrUploadSourceRefused: a copy's URL is malformed or reaches a
	// forbidden address (400).
	ErrUploadSourceRefused = errors.New("source URL refused")
)

// Limits of the upload requests.
const (
	// DefaultUploadExpiry, MinUploadExpiry and MaxUploadExpiry bound how
	// long a direct upload URL works (Cloudflare Stream's values).
	DefaultUploadExpiry = 30 * time.Minute
	MinUploadExpiry     = 2 * time.Minute
	MaxUploadExpiry     = 6 * time.Hour
	maxCreatorLen       = 64
	maxSourceURLLen     = 2048
	maxUploadDuration   = 7 * 24 * 3600 // seconds
)

// UploadOptions are what a new upload's video is created with.
type UploadOptions struct {
	Meta               map[string]any
	Creator            string
	RequireSignedURLs  bool
	AllowedOrigins     []string
	MaxDurationSeconds int64
	MaxSizeBytes       int64
	Expiry             time.Duration // direct uploads
	Name               string        // the file's name, when known
	TokenID            string        // the API token creating it
}

// UploadService is what the uploads API needs; the composition root
// implements it over internal/upload.
type UploadService interface {
	// CreateDirect makes a video waiting for a tus upload and returns it
	// with the path of its one-time upload URL on the HTTP listener.
	CreateDirect(ctx context.Context, o UploadOptions) (*store.Video, string, error)
	// CreatePlain makes a video of the file body yields. ErrUploadTooLarge,
	// ErrUploadEmpty.
	CreatePlain(ctx context.Context, body io.Reader, o UploadOptions) (*store.Video, error)
	// CreateCopy makes a video the server downloads from url.
	// ErrUploadSourceRefused.
	CreateCopy(ctx context.Context, url string, o UploadOptions) (*store.Video, error)
	// PlainMaxSize is the largest plain upload body.
	PlainMaxSize() int64
}

// UploadsDeps is what the uploads API needs beyond the store. Without
// Uploads the routes answer 501.
type UploadsDeps struct {
	Uploads UploadService
}

// uploadsRoutes registers the upload routes.
func (s *Server) uploadsRoutes(handle routeFunc) {
	handle("POST", "/v1/videos/direct_upload", ScopeVideosWrite, s.createDirectUpload)
	handle("POST", "/v1/videos/upload", ScopeVideosWrite, s.createPlainUpload)
	handle("POST", "/v1/videos/copy", ScopeVideosWrite, s.createCopy)
	handle("GET", "/v1/videos/{id}/upload", ScopeVideosRead, s.getUpload)
}

// uploadCommon are the fields every upload request may set.
type uploadCommon struct {
	Meta               map[string]any `json:"meta"`
	Creator            string         `json:"creator"`
	RequireSignedURLs  bool           `json:"require_signed_urls"`
	AllowedOrigins     []string       `json:"allowed_origins"`
	MaxDurationSeconds int64          `json:"max_duration_seconds"`
	MaxSizeBytes       int64          `json:"max_size_bytes"`
}

// options validates c; the error names the field.
func (c *uploadCommon) options() (UploadOptions, error) {
	o := UploadOptions{Meta: c.Meta, Creator: c.Creator, RequireSignedURLs: c.RequireSignedURLs,
		AllowedOrigins: c.AllowedOrigins, MaxDurationSeconds: c.MaxDurationSeconds, MaxSizeBytes: c.MaxSizeBytes}
	if o.Meta == nil {
		o.Meta = map[string]any{}
	}
	if b, err := json.Marshal(o.Meta); err != nil || len(b) > maxMetaBytes {
		return o, fieldErr(CodeValidation, "meta", fmt.Sprintf("meta is larger than %d bytes as JSON", maxMetaBytes))
	}
	if n := utf8.RuneCountInString(o.Creator); n > maxCreatorLen || !utf8.ValidString(o.Creator) || strings.IndexFunc(o.Creator, unicode.IsControl) >= 0 {
		return o, fieldErr(CodeValidation, "creator", fmt.Sprintf("creator must be at most %d printable characters", maxCreatorLen))
	}
	if len(o.AllowedOrigins) > maxAllowedOrigins {
		return o, fieldErr(CodeValidation, "allowed_origins", fmt.Sprintf("allowed_origins lists more than %d origins", maxAllowedOrigins))
	}
	for i, or := range o.AllowedOrigins {
		if !validOrigin(or) {
			return o, fieldErr(CodeValidation, fmt.Sprintf("allowed_origins[%d]", i), `each allowed origin must be "*" or scheme://host[:port]`)
		}
	}
	if o.MaxDurationSeconds < 0 || o.MaxDurationSeconds > maxUploadDuration {
		return o, fieldErr(CodeValidation, "max_duration_seconds", fmt.Sprintf("max_duration_seconds must be 0 (no limit) to %d", maxUploadDuration))
	}
	if o.MaxSizeBytes < 0 {
		return o, fieldErr(CodeValidation, "max_size_bytes", "max_size_bytes must be 0 (the server's limit) or more")
	}
	return o, nil
}

// directUploadCreate is the body of POST /v1/videos/direct_upload.
type directUploadCreate struct {
	uploadCommon
	// Expiry is when the upload URL stops working (RFC 3339), 2 minutes
	// to 6 hours from now; default 30 minutes from now.
	Expiry *time.Time `json:"expiry"`
}

// copyCreate is the body of POST /v1/videos/copy.
type copyCreate struct {
	uploadCommon
	URL  string `json:"url"`
	Name string `json:"name"`
}

// uploadJSON is the API's upload object: how the file of a video arrives
// and is processed.
type uploadJSON struct {
	VideoID            string          `json:"video_id"`
	Kind               string          `json:"kind"`   // direct | upload | copy
	Status             string          `json:"status"` // the video's
	PctComplete        float64         `json:"pct_complete"`
	SizeBytes          int64           `json:"size_bytes"`
	ReceivedBytes      int64           `json:"received_bytes"`
	MaxSizeBytes       int64           `json:"max_size_bytes"`
	MaxDurationSeconds int64           `json:"max_duration_seconds"`
	Expiry             *jsontime.Time  `json:"expiry"`
	Creator            string          `json:"creator"`
	Name               string          `json:"name"`
	Attempts           int             `json:"attempts"`
	Error              *videoErrorJSON `json:"error"`
}

// directUploadJSON is the response of POST /v1/videos/direct_upload.
type directUploadJSON struct {
	ID        string        `json:"id"`
	UploadURL string        `json:"upload_url"`
	Expiry    jsontime.Time `json:"expiry"`
	Video     videoJSON     `json:"video"`
}

func (s *Server) uploadService() (UploadService, error) {
	if s.uploads.Uploads == nil {
		return nil, apiErr(http.StatusNotImplemented, CodeNotSupported, "uploads are not enabled on this server")
	}
	return s.uploads.Uploads, nil
}

// uploadErr maps an UploadService error.
func uploadErr(err error) error {
	switch {
	case errors.Is(err, ErrUploadTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge, Message: "the file is larger than the limit: " + err.Error(), err: err}
	case errors.Is(err, ErrUploadEmpty):
		return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: "the file is empty or incomplete: " + err.Error(), Details: map[string]any{"field": "file"}, err: err}
	case errors.Is(err, ErrUploadLimit):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Message: err.Error() + "; finish or let some expire first",
			RetryAfter: time.Minute, err: err}
	case errors.Is(err, ErrUploadSourceRefused):
		return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: "url refused: " + err.Error(), Details: map[string]any{"field": "url"}, err: err}
	}
	return storeErr(err, "video")
}

func (s *Server) createDirectUpload(w http.ResponseWriter, r *http.Request, p *principal) error {
	us, err := s.uploadService()
	if err != nil {
		return err
	}
	body, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var req directUploadCreate
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	o, err := req.options()
	if err != nil {
		return err
	}
	o.Expiry, o.TokenID = DefaultUploadExpiry, p.tok.ID
	if req.Expiry != nil {
		o.Expiry = req.Expiry.Sub(s.now())
		if o.Expiry < MinUploadExpiry || o.Expiry > MaxUploadExpiry {
			return fieldErr(CodeValidation, "expiry", "expiry must be 2 minutes to 6 hours from now")
		}
	}
	v, path, err := us.CreateDirect(r.Context(), o)
	if err != nil {
		return uploadErr(err)
	}
	s.log.Info("direct upload created", "video", v.ID, "token", p.tok.ID)
	w.Header().Set("Location", "/v1/videos/"+v.ID)
	writeJSON(w, http.StatusOK, dataResponse{Data: directUploadJSON{ID: v.ID, UploadURL: s.httpBase(r) + path,
		Expiry: jsontime.Of(v.CreatedAt.Add(o.Expiry)), Video: s.videoToJSON(v, r)}})
	return nil
}

// createPlainUpload takes the file as the body: multipart/form-data (its
// part "file", with optional parts "meta" (a JSON object),
// "max_duration_seconds", "creator") or the raw bytes of any other type.
func (s *Server) createPlainUpload(w http.ResponseWriter, r *http.Request, p *principal) error {
	us, err := s.uploadService()
	if err != nil {
		return err
	}
	limit := us.PlainMaxSize()
	if r.ContentLength > limit+1<<20 { // 1 MiB for the multipart envelope
		return uploadErr(fmt.Errorf("%w: the body is %d bytes; at most %d", ErrUploadTooLarge, r.ContentLength, limit))
	}
	body := http.MaxBytesReader(w, r.Body, limit+1<<20)
	var (
		c    uploadCommon
		file io.Reader = body
		name string
	)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		file = nil
		mr := multipart.NewReader(body, params["boundary"])
		for file == nil {
			part, err := mr.NextPart()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return fieldErr(CodeValidation, "file", `the multipart body has no part "file"`)
				}
				return tooLargeOr(err, fieldErr(CodeValidation, "file", "the multipart body is malformed"))
			}
			switch part.FormName() {
			case "file":
				file, name = part, part.FileName()
			case "meta":
				b, err := io.ReadAll(io.LimitReader(part, maxMetaBytes+1))
				if err != nil {
					return tooLargeOr(err, fieldErr(CodeValidation, "meta", "cannot read meta"))
				}
				if err := json.Unmarshal(b, &c.Meta); err != nil {
					return fieldErr(CodeValidation, "meta", "meta must be a JSON object")
				}
			case "max_duration_seconds":
				b, _ := io.ReadAll(io.LimitReader(part, 32))
				if _, err := fmt.Sscan(string(b), &c.MaxDurationSeconds); err != nil {
					return fieldErr(CodeValidation, "max_duration_seconds", "max_duration_seconds must be an integer")
				}
			case "creator":
				b, _ := io.ReadAll(io.LimitReader(part, 4*maxCreatorLen))
				c.Creator = string(b)
			default:
				return fieldErr(CodeUnknownField, part.FormName(), "unknown part "+part.FormName())
			}
		}
	}
	o, err := c.options()
	if err != nil {
		return err
	}
	if len(name) > 255 || !utf8.ValidString(name) {
		name = ""
	}
	o.Name, o.TokenID = name, p.tok.ID
	v, err := us.CreatePlain(r.Context(), file, o)
	if err != nil {
		return tooLargeOr(err, uploadErr(err))
	}
	s.log.Info("plain upload received", "video", v.ID, "token", p.tok.ID)
	w.Header().Set("Location", "/v1/videos/"+v.ID)
	writeJSON(w, http.StatusAccepted, dataResponse{Data: s.videoToJSON(v, r)})
	return nil
}

// tooLargeOr is 413 when err is the body limit's, else other.
func tooLargeOr(err error, other error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge, Message: "the file is larger than the limit", err: err}
	}
	return other
}

func (s *Server) createCopy(w http.ResponseWriter, r *http.Request, p *principal) error {
	us, err := s.uploadService()
	if err != nil {
		return err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req copyCreate
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.URL == "" || len(req.URL) > maxSourceURLLen {
		return fieldErr(CodeValidation, "url", fmt.Sprintf("url is required: an http or https URL of at most %d bytes", maxSourceURLLen))
	}
	o, err := req.options()
	if err != nil {
		return err
	}
	if len(req.Name) > 255 || !utf8.ValidString(req.Name) {
		return fieldErr(CodeValidation, "name", "name must be at most 255 bytes of UTF-8")
	}
	o.Name, o.TokenID = req.Name, p.tok.ID
	v, err := us.CreateCopy(r.Context(), req.URL, o)
	if err != nil {
		return uploadErr(err)
	}
	s.log.Info("copy from a URL started", "video", v.ID, "token", p.tok.ID)
	w.Header().Set("Location", "/v1/videos/"+v.ID)
	writeJSON(w, http.StatusAccepted, dataResponse{Data: s.videoToJSON(v, r)})
	return nil
}

func (s *Server) getUpload(w http.ResponseWriter, r *http.Request, _ *principal) error {
	v, err := s.getVideoRow(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	u, err := s.st.Uploads().Get(r.Context(), v.ID)
	if err != nil {
		return storeErr(err, "upload of the video")
	}
	out := uploadJSON{VideoID: v.ID, Kind: u.Kind, Status: v.Status, PctComplete: u.PctComplete, SizeBytes: u.SizeBytes,
		ReceivedBytes: u.ReceivedBytes, MaxSizeBytes: u.MaxSizeBytes, MaxDurationSeconds: u.MaxDurationSeconds,
		Expiry: jsontime.Ptr(u.ExpiresAt), Creator: u.Creator, Name: u.Name, Attempts: u.Attempts}
	if v.ErrorCode != "" {
		out.Error = &videoErrorJSON{Code: v.ErrorCode, Message: v.ErrorMessage}
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

// uploadStatuses are the statuses of a video made from a file, besides
// ready and errored.
func uploadStatuses() []string {
	return []string{store.VideoPendingUpload, store.VideoUploading, store.VideoDownloading, store.VideoQueued, store.VideoInProgress}
}

// uploadsOperations documents the upload routes in the OpenAPI document.
func uploadsOperations() map[string]operation {
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	v := ref("Video")
	return map[string]operation{
		"POST /v1/videos/direct_upload": {id: "createDirectUpload", summary: "Create a video waiting for its file and a one-time tus 1.0 upload URL (creation, creation-with-upload, termination, expiration) a browser uploads to without a token: POST to upload_url with Upload-Length (413 over max_size_bytes) and Upload-Metadata (filename, filetype), then PATCH the Location. Status pendingupload, uploading, queued, inprogress, then ready or errored.", scope: ScopeVideosWrite,
			params: []obj{idem}, body: ref("DirectUploadCreate"), ok: 200, okSchema: dataOf(ref("DirectUpload")), errs: []int{400, 413, 415, 422, 429, 501}},
		"POST /v1/videos/upload": {id: "uploadVideo", summary: "Upload a file in one request (for curl): multipart/form-data with the part file (and optional parts meta, a JSON object, max_duration_seconds and creator), or the raw bytes with any other Content-Type; up to the configured size (uploads.plain_max_size, default 200 MB), else 413. 202: the video is queued for processing.", scope: ScopeVideosWrite,
			params: []obj{param("Idempotency-Key", "header", "As on every POST, but a keyed body is limited to 1 MiB (413 past it): send large files without it.", obj{"type": "string", "maxLength": 255}, false)},
			ok:     202, okSchema: dataOf(v), errs: []int{400, 413, 429, 501}},
		"POST /v1/videos/copy": {id: "copyVideo", summary: "Create a video the server downloads from an http(s) URL (status downloading, then queued); URLs reaching loopback, private or link-local addresses are refused, at every redirect too.", scope: ScopeVideosWrite,
			params: []obj{idem}, body: ref("VideoCopy"), ok: 202, okSchema: dataOf(v), errs: []int{400, 413, 415, 422, 429, 501}},
		"GET /v1/videos/{id}/upload": {id: "getVideoUpload", summary: "How the file of a video arrives and is processed: kind, status, bytes received, pct_complete.", scope: ScopeVideosRead,
			params: []obj{param("id", "path", "The resource id.", obj{"type": "string"}, true)}, ok: 200, okSchema: dataOf(ref("Upload")), errs: []int{404}},
	}
}

// uploadsSchemas are the upload OpenAPI component schemas.
func uploadsSchemas() obj {
	common := obj{
		"meta":                 obj{"type": "object"},
		"creator":              str("Who uploads, for your records (at most 64 characters)."),
		"require_signed_urls":  boolean(""),
		"allowed_origins":      obj{"type": "array", "items": obj{"type": "string"}, "maxItems": maxAllowedOrigins, "description": "Playback origins, and the CORS origins of the upload URL (none = any)."},
		"max_duration_seconds": integer("Longer files make the video errored (duration_exceeded); 0 = no limit."),
		"max_size_bytes":       integer("Larger files are refused (413); 0 = the server's limit."),
	}
	with := func(extra obj) obj {
		out := obj{}
		for k, v := range common {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	return obj{
		"DirectUploadCreate": object(with(obj{"expiry": obj{"type": "string", "format": "date-time", "description": "When the upload URL stops working: 2 minutes to 6 hours from now; default 30 minutes."}})),
		"DirectUpload": object(obj{"id": idStr("vid"), "upload_url": str("The one-time tus endpoint; its secret is the credential."),
			"expiry": dateTime(""), "video": ref("Video")}, "id", "upload_url"),
		"VideoCopy": object(with(obj{"url": str("http or https."), "name": str("The file's name.")}), "url"),
		"Upload": object(obj{
			"video_id": str(""), "kind": obj{"type": "string", "enum": []string{store.UploadDirect, store.UploadPlain, store.UploadCopy}},
			"status":       obj{"type": "string", "enum": append(uploadStatuses(), store.VideoReady, store.VideoErrored)},
			"pct_complete": obj{"type": "number", "description": "Processing progress, 0-100."},
			"size_bytes":   integer(""), "received_bytes": integer(""), "max_size_bytes": integer(""), "max_duration_seconds": integer(""),
			"expiry": nullDateTime("When a direct upload URL stops working."), "creator": str(""), "name": str(""), "attempts": integer("Processing jobs started."),
			"error": obj{"type": []string{"object", "null"}, "description": "not_a_video, duration_exceeded, codec_unsupported, download_failed, too_large, too_many_tracks, processing_failed, upload_expired."},
		}, "video_id", "kind", "status"),
	}
}
