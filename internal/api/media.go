package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
)

// Codes of media serving (/live/, /videos/) beyond the API's.
const (
	CodeNotReady    = "not_ready"    // 409: the video is still recording, or errored
	CodeOutOfRange  = "out_of_range" // 400: a time past the end of the video
	CodeBusy        = "busy"         // 503: at ffmpeg capacity; Retry-After
	CodeUnavailable = "unavailable"  // 503: ffmpeg is not installed
)

// MediaError maps an error of serving a video's files (record's errors)
// onto the error table; nil for a cancelled request (nothing to answer).
// Unknown errors are 500.
func MediaError(err error) *Error {
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, record.ErrNotFound), errors.Is(err, record.ErrEmpty):
		return apiErr(http.StatusNotFound, CodeNotFound, "video not found")
	case errors.Is(err, record.ErrRecording), errors.Is(err, record.ErrNotReady):
		return &Error{Status: http.StatusConflict, Code: CodeNotReady, Message: "the video is not ready: " + err.Error(), err: err}
	case errors.Is(err, record.ErrOutOfRange):
		return &Error{Status: http.StatusBadRequest, Code: CodeOutOfRange, Message: "time is past the end of the video", err: err}
	case errors.Is(err, record.ErrBadQuery):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Message: err.Error(), err: err}
	case errors.Is(err, record.ErrBusy):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeBusy, Message: "the server is busy making other thumbnails, retry later",
			RetryAfter: record.BusyRetryAfter, err: err}
	case errors.Is(err, record.ErrNoFFmpeg):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "ffmpeg is not installed on the server", err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", err: err}
}

// PlaybackRefusal maps a refusal of a playback gate (playback.Gate.Check)
// onto the error table: 401 for a missing or invalid token, 403 for a
// valid one that does not grant the request (another resource, an access
// rule, the origin, the admission hook), 503 when the keys cannot be
// read. The code is the refusal's reason; the message says what went
// wrong, never a detail that helps forge a token.
func PlaybackRefusal(err error) *Error {
	reason := playback.ReasonOf(err)
	msg := reason.Message()
	if m := playback.HookReason(err); m != "" {
		msg = m
	}
	return &Error{Status: reason.Status(), Code: string(reason), Message: msg, err: err}
}

// WriteError answers e as the error envelope {"error": {code, message,
// details}}, with Retry-After and Allow when e has them.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	writeJSON(w, e.Status, envelope{Error: errorBody{Code: e.Code, Message: e.Message, Details: e.Details}})
}
