package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mpegflow/mpegflow/internal/httperr"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Error codes of the error envelope {"error": {"code", "message", "details"}}.
// The set is stable: clients switch on the code, never on the message.
const (
	CodeInvalidJSON          = "invalid_json"           // 400: malformed, too deep, trailing data, wrong type
	CodeUnknownField         = "unknown_field"          // 400: details.field names it
	CodeValidation           = "validation_failed"      // 400: details.field names it
	CodeInvalidCursor        = "invalid_cursor"         // 400
	CodeInvalidParameter     = "invalid_parameter"      // 400: a query parameter; details.parameter
	CodeUnauthorized         = "unauthorized"           // 401: missing, unknown or malformed token
	CodeTokenRevoked         = "token_revoked"          // 401
	CodeForbidden            = "forbidden"              // 403: details.required_scope
	CodeNotFound             = "not_found"              // 404
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeConflict             = "conflict"               // 409
	CodeStaticLiveInput      = "static_live_input"      // 409: declared in the config file, read-only here
	CodeNoPublisher          = "no_publisher"           // 409: the live input has no publisher
	CodeIdempotencyInFlight  = "idempotency_in_flight"  // 409: the first request with this key still runs
	CodePreconditionFailed   = "precondition_failed"    // 412: If-Match does not match
	CodeBodyTooLarge         = "body_too_large"         // 413
	CodeUnsupportedMediaType = "unsupported_media_type" // 415
	CodeIdempotencyMismatch  = "idempotency_key_reused" // 422: same key, different body
	CodeRateLimited          = "rate_limited"           // 429: Retry-After says when to try again
	CodeInternal             = "internal"               // 500
	CodeNotSupported         = "not_supported"          // 501: the runtime cannot do it
)

// errorCode is one row of the table of error codes: the code, the one
// HTTP status it is answered with, and its meaning for the documentation.
type errorCode struct {
	code    string
	status  int
	meaning string
}

// errorCodes is the table of every error code, in the order of the
// constants above; the OpenAPI document and docs/api.md list it. Every
// validation error is 400 (invalid_json, unknown_field, validation_failed,
// invalid_parameter, invalid_cursor); 422 is only idempotency_key_reused
// (draft-ietf-httpapi-idempotency-key-header §2.7).
func errorCodes() []errorCode {
	return []errorCode{
		{CodeInvalidJSON, 400, "the body is not one JSON object: malformed, too deep, trailing data"},
		{CodeUnknownField, 400, "the body has a field the resource does not have; details.field names it"},
		{CodeValidation, 400, "a field has a value out of its range or of the wrong type; details.field names it"},
		{CodeInvalidCursor, 400, "cursor is not a next_cursor this server issued for this list and these filters"},
		{CodeInvalidParameter, 400, "a query parameter is out of its range; details.parameter names it"},
		{CodeUnauthorized, 401, "no token, or an unknown or malformed one"},
		{CodeTokenRevoked, 401, "the token was revoked"},
		{CodeForbidden, 403, "the token lacks the scope; details.required_scope names it"},
		{CodeNotFound, 404, "no such resource (or path)"},
		{CodeMethodNotAllowed, 405, "the path exists, the method does not; the Allow header lists the methods"},
		{CodeConflict, 409, "the change conflicts with the resource's state (e.g. a video still recording)"},
		{CodeStaticLiveInput, 409, "the live input is declared in the configuration file: read-only over the API"},
		{CodeNoPublisher, 409, "the live input has no publisher"},
		{CodeIdempotencyInFlight, 409, "the first request with this Idempotency-Key still runs"},
		{CodePreconditionFailed, 412, "If-Match does not match the ETag; details.etag is the current one"},
		{CodeBodyTooLarge, 413, "the body is larger than 1 MiB"},
		{CodeUnsupportedMediaType, 415, "the body is not application/json (or application/merge-patch+json)"},
		{CodeIdempotencyMismatch, 422, "the Idempotency-Key was used with another body"},
		{CodeRateLimited, 429, "too many failed authentications; Retry-After says when to try again"},
		{CodeInternal, 500, "an internal error; logged on the server"},
		{CodeNotSupported, 501, "this daemon cannot do it (a feature not running here)"},
	}
}

// codesOf returns the error codes answered with status.
func codesOf(status int) []string {
	var out []string
	for _, c := range errorCodes() {
		if c.status == status {
			out = append(out, c.code)
		}
	}
	return out
}

// Error is an API error: the code, the HTTP status and a message meant for
// people. Handlers return it; writeError renders the envelope.
type Error struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter time.Duration
	// Allow, when set, is sent as the Allow header (405).
	Allow string
	err   error
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.err }

func apiErr(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

func fieldErr(code, field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg, Details: map[string]any{"field": field}}
}

func paramErr(param, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Message: msg, Details: map[string]any{"parameter": param}}
}

func notFound(what string) *Error {
	return apiErr(http.StatusNotFound, CodeNotFound, what+" not found")
}

// storeErr maps a store error onto the API's codes; unknown errors are 500.
func storeErr(err error, what string) *Error {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return notFound(what)
	case errors.Is(err, store.ErrPrecondition):
		return &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed, Message: what + " changed since it was read; GET it again", err: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: what + " conflicts with an existing one", err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", err: err}
}

// envelope is the error body of every HTTP surface (internal/httperr).
type envelope = httperr.Envelope

type errorBody = httperr.Body

// writeError renders err as the error envelope. Errors that are not *Error
// are internal: logged, and answered with a message that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", err: err}
	}
	if ae.Status >= 500 {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "code", ae.Code, "error", err)
	} else {
		s.log.Debug("api request refused", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "code", ae.Code)
	}
	WriteError(w, ae)
}

// writeJSON writes v with status; v must marshal (API types always do).
// httperr.WriteJSON is the one writer of every HTTP surface's JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { httperr.WriteJSON(w, status, v) }

// dataResponse is the success envelope of one object.
type dataResponse struct {
	Data any `json:"data"`
}

// listResponse is the success envelope of a list page.
type listResponse struct {
	Data       any    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}
