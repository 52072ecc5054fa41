// Package httperr is the JSON error body every HTTP surface of MpegFlow
// answers: the REST API (internal/api, which also picks the status and
// code), playback refusals, WHIP and WHEP. One shape, so a client parses
// every error alike:
//
//	{"error": {"code": "not_found", "message": "...", "details": {...}}}
//
// code is stable (switch on it), message is for people, details is
// optional.
package httperr

import (
	"encoding/json"
	"net/http"
)

// Envelope is the error body.
type Envelope struct {
	Error Body `json:"error"`
}

// Body is the error of an Envelope.
type Body struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Write answers status with the envelope of code and message, not cached
// and not sniffed.
func Write(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, Envelope{Error: Body{Code: code, Message: message}})
}

// WriteJSON answers status with v as JSON (one line), not cached and not
// sniffed: the one writer of every JSON body of the HTTP surfaces, errors
// and the REST API's objects alike. A v that does not marshal is answered
// 500 with the internal error's envelope.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
