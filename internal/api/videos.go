package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Errors a VideoService returns for the API to map (wrapped or bare).
var (
	// ErrVideoRecording: the video is still being recorded (409).
	ErrVideoRecording = errors.New("video is still recording")
	// ErrVideoNotReady: the video errored; no download (409).
	ErrVideoNotReady = errors.New("video is not ready")
	// ErrVideoUnavailable: the server cannot do it (no ffmpeg) (501).
	ErrVideoUnavailable = errors.New("not available on this server")
	// ErrVideoRange: a clip range outside the video (400).
	ErrVideoRange = errors.New("range out of the video")
)

// ClipRange is the range a clip covers: the requested one, and the one
// actually cut, at the nearest part boundaries of the recorded segments.
type ClipRange struct {
	RequestedStart, RequestedEnd time.Duration
	Start, End                   time.Duration
	// PartBoundaries: cut at part boundaries; false: at segment
	// boundaries (a recording without a part layout).
	PartBoundaries bool
	// StartMoved: the boundary nearest the requested start is not on a key
	// frame; Start is the nearest one that is.
	StartMoved bool
}

// VideoService is what the videos API needs of the recorder; the
// composition root implements it over internal/record.
type VideoService interface {
	// Delete deletes a video, its segment index and its files, and
	// publishes video.deleted. store.ErrNotFound, ErrVideoRecording.
	Delete(ctx context.Context, id string) error
	// RequestDownload starts building the video's MP4 (status pending, then
	// ready) and returns the video. store.ErrNotFound, ErrVideoRecording,
	// ErrVideoNotReady, ErrVideoUnavailable.
	RequestDownload(ctx context.Context, id string) (*store.Video, error)
	// Clip creates a ready video of the range [start, end) of video id
	// that shares its files. store.ErrNotFound, ErrVideoRecording,
	// ErrVideoNotReady, ErrVideoRange.
	Clip(ctx context.Context, id string, start, end time.Duration, name string) (*store.Video, ClipRange, error)
}

// VideosDeps is what the recording and videos API needs beyond
// the store. Without Videos the read routes work and DELETE and downloads
// answer 501.
type VideosDeps struct {
	Videos VideoService
}

// video list filters
const videoStatusesDoc = "live_recording, processing, ready, errored, pendingupload, uploading, downloading, queued, inprogress"

// videosRoutes registers the recording and videos routes.
func (s *Server) videosRoutes(handle routeFunc) {
	handle("GET", "/v1/videos", ScopeVideosRead, s.listVideos)
	handle("GET", "/v1/videos/{id}", ScopeVideosRead, s.getVideo)
	handle("PATCH", "/v1/videos/{id}", ScopeVideosWrite, s.patchVideo)
	handle("DELETE", "/v1/videos/{id}", ScopeVideosWrite, s.deleteVideo)
	handle("POST", "/v1/videos/{id}/downloads", ScopeVideosWrite, s.createDownload)
	handle("POST", "/v1/videos/{id}/clips", ScopeVideosWrite, s.createClip)
	handle("GET", "/v1/live_inputs/{id}/videos", ScopeVideosRead, s.listLiveInputVideos)
}

// videoJSON is the API's video object.
type videoJSON struct {
	ID                string             `json:"id"`
	LiveInputID       string             `json:"live_input_id"`
	Status            string             `json:"status"`
	Error             *videoErrorJSON    `json:"error"`
	Recovered         bool               `json:"recovered"`
	CreatedAt         jsontime.Time      `json:"created_at"`
	UpdatedAt         jsontime.Time      `json:"updated_at"`
	StartedAt         jsontime.Time      `json:"started_at"`
	EndedAt           *jsontime.Time     `json:"ended_at"`
	DurationSeconds   float64            `json:"duration_seconds"`
	SizeBytes         int64              `json:"size_bytes"`
	Tracks            []store.VideoTrack `json:"tracks"`
	Playback          playbackJSON       `json:"playback"`
	Thumbnail         string             `json:"thumbnail"`
	Download          downloadJSON       `json:"download"`
	ScheduledDeletion *jsontime.Time     `json:"scheduled_deletion"`
	Meta              map[string]any     `json:"meta"`
	RequireSignedURLs bool               `json:"require_signed_urls"`
	AllowedOrigins    []string           `json:"allowed_origins"`
	Clip              *clipJSON          `json:"clip,omitempty"` // in the response that created a clip
}

// clipJSON says which range a new clip covers: the requested one
// (start_seconds, end_seconds, as in the request) and the one cut.
type clipJSON struct {
	SourceVideoID      string  `json:"source_video_id"`
	StartSeconds       float64 `json:"start_seconds"`
	EndSeconds         float64 `json:"end_seconds"`
	ActualStartSeconds float64 `json:"actual_start_seconds"`
	ActualEndSeconds   float64 `json:"actual_end_seconds"`
	CutAt              string  `json:"cut_at"` // parts | segments
	Note               string  `json:"note"`
}

// clipNote explains the range a clip was cut to.
func clipNote(cr ClipRange) (cutAt, note string) {
	cutAt, note = "parts", "a clip shares its source's segments: it is cut at the nearest part boundaries"
	if !cr.PartBoundaries {
		cutAt, note = "segments", "a clip shares its source's segments: this recording has no part layout, so it is cut at the nearest segment boundaries"
	}
	if cr.StartMoved {
		note += "; the boundary nearest start_seconds is not on a key frame, so the clip starts at the nearest one that is"
	}
	return cutAt, fmt.Sprintf("%s (%.3f s to %.3f s for %.3f s to %.3f s requested)", note,
		cr.Start.Seconds(), cr.End.Seconds(), cr.RequestedStart.Seconds(), cr.RequestedEnd.Seconds())
}

// clipCreate is the body of POST /v1/videos/{id}/clips.
type clipCreate struct {
	StartSeconds *float64 `json:"start_seconds"`
	EndSeconds   *float64 `json:"end_seconds"`
	Name         string   `json:"name"`
}

type videoErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type downloadJSON struct {
	URL    string `json:"url"`
	Status string `json:"status"` // none | pending | ready | errored
}

// httpBase is the scheme://host of the playback listener as the client
// reaches it.
func (s *Server) httpBase(r *http.Request) string { return httpBase(s.ep, r) }

// httpBase is the scheme and host of the playback URLs: ep.HTTP with a
// wildcard host replaced by the request's.
func httpBase(ep Endpoints, r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if ep.HTTP != "" {
		host = publicHost(ep.HTTP, r)
	}
	return scheme + "://" + host
}

// playbackURLs returns the HLS and player URLs of key (an id or a playback
// token) under prefix ("/live/" or "/videos/").
func (s *Server) playbackURLs(r *http.Request, prefix, key string) playbackJSON {
	return playbackURLs(s.ep, r, prefix, key)
}

// playbackURLs are the player page and playlist of key under prefix
// ("/live/", "/videos/"), built from ep and the request's host.
func playbackURLs(ep Endpoints, r *http.Request, prefix, key string) playbackJSON {
	base := httpBase(ep, r) + prefix + url.PathEscape(key) + "/"
	return playbackJSON{HLS: base + "index.m3u8", Player: base}
}

// videoETag is the ETag of a video: a digest of what a client may edit and
// of updated_at, which every other change of the stored row moves.
func videoETag(v *store.Video) string {
	return digestETag([]any{v.Status, v.UpdatedAt.UnixMicro(), v.Meta, jsontime.Ptr(v.ScheduledDeletion), v.RequireSignedURLs, v.AllowedOrigins, v.DownloadStatus})
}

func (s *Server) videoToJSON(v *store.Video, r *http.Request) videoJSON {
	return videoObject(s.ep, v, r)
}

// videoObject renders v as the API returns it, its URLs built from ep.
func videoObject(ep Endpoints, v *store.Video, r *http.Request) videoJSON {
	base := httpBase(ep, r) + "/videos/" + url.PathEscape(v.ID) + "/"
	out := videoJSON{
		ID: v.ID, LiveInputID: v.LiveInputID, Status: v.Status, Recovered: v.Recovered,
		CreatedAt: jsontime.Of(v.CreatedAt), UpdatedAt: jsontime.Of(v.UpdatedAt), StartedAt: jsontime.Of(v.StartedAt), EndedAt: jsontime.Ptr(v.EndedAt),
		DurationSeconds: v.Duration.Seconds(), SizeBytes: v.SizeBytes, Tracks: v.Tracks,
		Playback:          playbackURLs(ep, r, "/videos/", v.ID),
		Thumbnail:         base + "thumbnail.jpg",
		Download:          downloadJSON{URL: base + "download.mp4", Status: v.DownloadStatus},
		ScheduledDeletion: jsontime.Ptr(v.ScheduledDeletion), Meta: v.Meta,
		RequireSignedURLs: v.RequireSignedURLs, AllowedOrigins: v.AllowedOrigins,
	}
	if v.ErrorCode != "" {
		out.Error = &videoErrorJSON{Code: v.ErrorCode, Message: v.ErrorMessage}
	}
	if out.Tracks == nil {
		out.Tracks = []store.VideoTrack{}
	}
	if out.Meta == nil {
		out.Meta = map[string]any{}
	}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if out.Download.Status == "" {
		out.Download.Status = store.DownloadNone
	}
	return out
}

func (s *Server) getVideoRow(ctx context.Context, id string) (*store.Video, error) {
	if !validID(id) {
		return nil, notFound("video")
	}
	v, err := s.st.Videos().Get(ctx, id)
	if err != nil {
		return nil, storeErr(err, "video")
	}
	return v, nil
}

func (s *Server) getVideo(w http.ResponseWriter, r *http.Request, _ *principal) error {
	v, err := s.getVideoRow(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", videoETag(v))
	writeJSON(w, http.StatusOK, dataResponse{Data: s.videoToJSON(v, r)})
	return nil
}

func (s *Server) listVideos(w http.ResponseWriter, r *http.Request, _ *principal) error {
	q := r.URL.Query()
	li := q.Get("live_input_id")
	if li != "" && !validID(li) {
		return paramErr("live_input_id", "live_input_id is not a valid id")
	}
	return s.writeVideoList(w, r, li, false)
}

func (s *Server) listLiveInputVideos(w http.ResponseWriter, r *http.Request, _ *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeVideoList(w, r, li.ID, true)
}

// writeVideoList answers a list of videos: oldest first (/v1/videos) or
// newest first (a live input's recordings).
func (s *Server) writeVideoList(w http.ResponseWriter, r *http.Request, liveInput string, newest bool) error {
	q := r.URL.Query()
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	opts := store.VideoListOptions{Limit: limit, LiveInputID: liveInput, Newest: newest}
	switch st := q.Get("status"); st {
	case "", store.VideoLiveRecording, store.VideoProcessing, store.VideoReady, store.VideoErrored,
		store.VideoPendingUpload, store.VideoUploading, store.VideoDownloading, store.VideoQueued, store.VideoInProgress:
		opts.Status = st
	default:
		return paramErr("status", "status must be one of "+videoStatusesDoc)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"created_before", &opts.CreatedBefore}, {"created_after", &opts.CreatedAfter}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return paramErr(f.name, f.name+" must be an RFC 3339 date-time, e.g. 2025-01-02T15:04:05Z")
			}
			*f.dst = t
		}
	}
	scope := fmt.Sprintf("videos\x00%s\x00%s\x00%s\x00%s\x00%v", liveInput, opts.Status, q.Get("created_before"), q.Get("created_after"), newest)
	if opts.After, err = s.cursors.decode(scope, q.Get("cursor")); err != nil {
		return err
	}
	rows, more, err := s.st.Videos().List(r.Context(), opts)
	if err != nil {
		return storeErr(err, "videos")
	}
	out := make([]videoJSON, 0, len(rows))
	for _, v := range rows {
		out = append(out, s.videoToJSON(v, r))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// patchVideo applies a JSON merge patch (RFC 7396) of meta,
// scheduled_deletion, require_signed_urls and allowed_origins.
func (s *Server) patchVideo(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.getVideoRow(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := checkETag(r, videoETag(v), "video"); err != nil {
		return err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	if err := applyVideoPatch(v, body); err != nil {
		return err
	}
	v.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	// only the edited fields: a recording finishing meanwhile keeps its end
	if err := s.st.Videos().UpdateSettings(r.Context(), v); err != nil {
		return storeErr(err, "video")
	}
	s.log.Info("video updated", "video", v.ID, "token", p.tok.ID)
	w.Header().Set("ETag", videoETag(v))
	writeJSON(w, http.StatusOK, dataResponse{Data: s.videoToJSON(v, r)})
	return nil
}

// applyVideoPatch applies a JSON merge patch (RFC 7396) of the editable
// fields to v and validates the result; errors are *Error.
func applyVideoPatch(v *store.Video, body []byte) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil {
		return jsonErr(err)
	}
	for k, raw := range patch {
		null := string(raw) == "null"
		dec := func(dst any) error {
			if err := decodeValue(raw, dst); err != nil {
				return fieldErr(CodeValidation, k, err.Error())
			}
			return nil
		}
		switch k {
		case "meta":
			if null {
				v.Meta = map[string]any{}
				continue
			}
			var m map[string]any
			if err := dec(&m); err != nil {
				return err
			}
			if v.Meta == nil {
				v.Meta = map[string]any{}
			}
			v.Meta = mergeObject(v.Meta, m)
		case "scheduled_deletion":
			if null {
				v.ScheduledDeletion = nil
				continue
			}
			var t time.Time
			if err := dec(&t); err != nil {
				return fieldErr(CodeValidation, k, "scheduled_deletion must be an RFC 3339 date-time or null")
			}
			t = t.UTC().Truncate(time.Microsecond)
			v.ScheduledDeletion = &t
		case "require_signed_urls":
			if err := dec(&v.RequireSignedURLs); err != nil || null {
				return fieldErr(CodeValidation, k, "require_signed_urls must be true or false")
			}
		case "allowed_origins":
			v.AllowedOrigins = []string{}
			if !null {
				if err := dec(&v.AllowedOrigins); err != nil {
					return err
				}
			}
		default:
			return fieldErr(CodeUnknownField, k, "unknown or read-only field "+k)
		}
	}
	if b, err := json.Marshal(v.Meta); err != nil || len(b) > maxMetaBytes {
		return fieldErr(CodeValidation, "meta", fmt.Sprintf("meta is larger than %d bytes as JSON", maxMetaBytes))
	}
	if len(v.AllowedOrigins) > maxAllowedOrigins {
		return fieldErr(CodeValidation, "allowed_origins", fmt.Sprintf("allowed_origins lists more than %d origins", maxAllowedOrigins))
	}
	for i, o := range v.AllowedOrigins {
		if !validOrigin(o) {
			return fieldErr(CodeValidation, fmt.Sprintf("allowed_origins[%d]", i), `each allowed origin must be "*" or scheme://host[:port]`)
		}
	}
	return nil
}

// videoErr maps a VideoService error.
func videoErr(err error) error {
	switch {
	case errors.Is(err, ErrVideoRecording):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the video is still being recorded; try when it is ready", err: err}
	case errors.Is(err, ErrVideoNotReady):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the video is not ready (errored)", err: err}
	case errors.Is(err, ErrVideoRange):
		return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: "the clip range is outside the video: " + err.Error(),
			Details: map[string]any{"field": "end_seconds"}, err: err}
	case errors.Is(err, ErrVideoUnavailable):
		return &Error{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "not available on this server: " + err.Error(), err: err}
	}
	return storeErr(err, "video")
}

func (s *Server) deleteVideo(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	v, err := s.getVideoRow(r.Context(), id)
	if err != nil {
		return err
	}
	if err := checkETag(r, videoETag(v), "video"); err != nil {
		return err
	}
	if s.videos.Videos == nil {
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "recording is not enabled on this server")
	}
	if err := s.videos.Videos.Delete(r.Context(), id); err != nil {
		return videoErr(err)
	}
	s.log.Info("video deleted", "video", id, "token", p.tok.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createDownload(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id := r.PathValue("id")
	if _, err := s.getVideoRow(r.Context(), id); err != nil {
		return err
	}
	if _, err := readBody(w, r, true); err != nil {
		return err
	}
	if s.videos.Videos == nil {
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "recording is not enabled on this server")
	}
	v, err := s.videos.Videos.RequestDownload(r.Context(), id)
	if err != nil {
		return videoErr(err)
	}
	writeJSON(w, http.StatusAccepted, dataResponse{Data: s.videoToJSON(v, r).Download})
	return nil
}

func (s *Server) createClip(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	if _, err := s.getVideoRow(r.Context(), id); err != nil {
		return err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req clipCreate
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.StartSeconds == nil || *req.StartSeconds < 0 || *req.StartSeconds > 1e7 {
		return fieldErr(CodeValidation, "start_seconds", "start_seconds is required: seconds from the video's start, 0 or more")
	}
	if req.EndSeconds == nil || *req.EndSeconds <= *req.StartSeconds || *req.EndSeconds > 1e7 {
		return fieldErr(CodeValidation, "end_seconds", "end_seconds is required and must be after start_seconds")
	}
	if n := utf8.RuneCountInString(req.Name); n > maxNameLen || !nameCharsOK(req.Name) {
		return fieldErr(CodeValidation, "name", fmt.Sprintf("name must be at most %d characters, without control or bidirectional override characters", maxNameLen))
	}
	if s.videos.Videos == nil {
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "recording is not enabled on this server")
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	c, cr, err := s.videos.Videos.Clip(r.Context(), id, sec(*req.StartSeconds), sec(*req.EndSeconds), req.Name)
	if err != nil {
		return videoErr(err)
	}
	s.log.Info("clip created", "video", c.ID, "clip_of", id, "token", p.tok.ID)
	out := s.videoToJSON(c, r)
	cutAt, note := clipNote(cr)
	out.Clip = &clipJSON{SourceVideoID: id, StartSeconds: cr.RequestedStart.Seconds(), EndSeconds: cr.RequestedEnd.Seconds(),
		ActualStartSeconds: cr.Start.Seconds(), ActualEndSeconds: cr.End.Seconds(), CutAt: cutAt, Note: note}
	w.Header().Set("Location", "/v1/videos/"+c.ID)
	writeJSON(w, http.StatusCreated, dataResponse{Data: out})
	return nil
}

// videosOperations documents the recording and videos routes in the OpenAPI document.
func videosOperations() map[string]operation {
	idP := param("id", "path", "The resource id.", obj{"type": "string"}, true)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page; opaque, bound to the same filters.", obj{"type": "string"}, false)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	status := param("status", "query", "Keep videos with this status.", obj{"type": "string", "enum": append([]string{store.VideoLiveRecording, store.VideoProcessing, store.VideoReady, store.VideoErrored}, uploadStatuses()...)}, false)
	before := param("created_before", "query", "Keep videos created before this time (RFC 3339).", obj{"type": "string", "format": "date-time"}, false)
	after := param("created_after", "query", "Keep videos created after this time (RFC 3339).", obj{"type": "string", "format": "date-time"}, false)
	v := ref("Video")
	return map[string]operation{
		"GET /v1/videos": {id: "listVideos", summary: "List videos (recordings of broadcasts), oldest first.", scope: ScopeVideosRead,
			params: []obj{limit, cursor, status, before, after,
				param("live_input_id", "query", "Keep the videos of this live input.", obj{"type": "string"}, false)},
			ok: 200, okSchema: listOf(v), errs: []int{400}},
		"GET /v1/videos/{id}": {id: "getVideo", summary: "Get a video.", scope: ScopeVideosRead,
			params: []obj{idP}, ok: 200, okSchema: dataOf(v), extraHeaders: etagHeader(), errs: []int{404}},
		"PATCH /v1/videos/{id}": {id: "updateVideo", summary: "Change meta, scheduled_deletion, require_signed_urls or allowed_origins (JSON merge patch, RFC 7396).", scope: ScopeVideosWrite,
			params: []obj{idP, ifMatchParam()}, body: ref("VideoUpdate"), ok: 200, okSchema: dataOf(v), extraHeaders: etagHeader(), errs: []int{400, 404, 412, 413, 415}},
		"DELETE /v1/videos/{id}": {id: "deleteVideo", summary: "Delete a video and its files; 409 while it is recording.", scope: ScopeVideosWrite,
			params: []obj{idP, ifMatchParam()}, ok: 204, errs: []int{404, 409, 412, 501}},
		"POST /v1/videos/{id}/downloads": {id: "createVideoDownload", summary: "Build the progressive MP4 (faststart, no re-encoding) of a ready video; its status goes pending then ready (video.download.ready). GET /videos/ID/download.mp4 serves it.", scope: ScopeVideosWrite,
			params: []obj{idP, idem}, ok: 202, okSchema: dataOf(ref("VideoDownload")), errs: []int{404, 409, 413, 415, 422, 501}},
		"POST /v1/videos/{id}/clips": {id: "createVideoClip", summary: "Create a video of a range of a ready video, instantly: it shares the source's segments, so it is cut at the nearest part boundaries, starting on a key frame (segment boundaries for recordings without a part layout); the response's clip says where.", scope: ScopeVideosWrite,
			params: []obj{idP, idem}, body: ref("ClipCreate"), ok: 201, okSchema: dataOf(v), errs: []int{400, 404, 409, 413, 415, 422, 501}},
		"GET /v1/live_inputs/{id}/videos": {id: "listLiveInputVideos", summary: "The recordings of a live input, newest first, the one in progress included.", scope: ScopeVideosRead,
			params: []obj{idP, limit, cursor, status, before, after}, ok: 200, okSchema: listOf(v), errs: []int{400, 404}},
	}
}

// videosSchemas are the recording and videos OpenAPI component schemas.
func videosSchemas() obj {
	origins := obj{"type": "array", "items": obj{"type": "string"}, "maxItems": maxAllowedOrigins}
	return obj{
		"Video": object(obj{
			"id":            idStr("vid"),
			"live_input_id": str("The live input whose broadcast this records."),
			"status":        obj{"type": "string", "enum": append([]string{store.VideoLiveRecording, store.VideoProcessing, store.VideoReady, store.VideoErrored}, uploadStatuses()...)},
			"error": obj{"type": []string{"object", "null"}, "properties": obj{"code": str("e.g. no_media"), "message": str("")},
				"description": "Why the video errored; null otherwise."},
			"recovered":        boolean("Finalized after a crash of the daemon, from the fragments already stored."),
			"created_at":       dateTime(""),
			"updated_at":       dateTime(""),
			"started_at":       dateTime("The broadcast's start."),
			"ended_at":         nullDateTime("The broadcast's end; null while recording."),
			"duration_seconds": obj{"type": "number", "description": "Duration recorded so far."},
			"size_bytes":       integer("Bytes of media stored."),
			"tracks": arrayOf(object(obj{"kind": obj{"type": "string", "enum": []string{"video", "audio"}}, "codec": str(""),
				"width": integer(""), "height": integer(""), "bitrate_bps": integer("Average over the video.")}, "kind", "codec")),
			"playback":            object(obj{"hls": str("HLS playlist: VOD when ready, EVENT while recording."), "player": str("Player page.")}, "hls", "player"),
			"thumbnail":           str("JPEG; ?time=SECONDS&width=PIXELS for another frame."),
			"download":            ref("VideoDownload"),
			"scheduled_deletion":  nullDateTime("When retention deletes the video; null = keep."),
			"meta":                obj{"type": "object"},
			"require_signed_urls": boolean("Inherited from the live input at start."),
			"allowed_origins":     origins,
			"clip":                obj{"type": "object", "description": "Only in the response that created a clip: source_video_id, start_seconds and end_seconds (requested), actual_start_seconds and actual_end_seconds (cut), cut_at (parts or segments), note."},
		}, "id", "live_input_id", "status", "created_at", "duration_seconds", "playback"),
		"VideoDownload": object(obj{
			"url":    str("GET it once status is ready; byte ranges."),
			"status": obj{"type": "string", "enum": []string{store.DownloadNone, store.DownloadPending, store.DownloadReady, store.DownloadErrored}},
		}, "url", "status"),
		"ClipCreate": object(obj{
			"start_seconds": obj{"type": "number", "minimum": 0},
			"end_seconds":   obj{"type": "number", "description": "After start_seconds, at most the video's duration."},
			"name":          str("Stored in the clip's meta.name."),
		}, "start_seconds", "end_seconds"),
		"VideoUpdate": object(obj{
			"meta":                obj{"type": []string{"object", "null"}},
			"scheduled_deletion":  obj{"type": []string{"string", "null"}, "format": "date-time"},
			"require_signed_urls": boolean(""),
			"allowed_origins":     obj{"type": []string{"array", "null"}, "items": obj{"type": "string"}},
		}),
	}
}
