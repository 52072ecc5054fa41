package api

import (
	"strconv"
	"strings"

	"github.com/mpegflow/mpegflow/internal/playback"
)

// The rules every resource follows (docs/api.md states them for people;
// TestOpenAPIRules checks the document against them).

// apiRulesDoc is the OpenAPI document's description: the rules in short.
func apiRulesDoc() string {
	return strings.Join([]string{
		"Live inputs, videos, webhooks, API tokens, signing keys, sessions and events.",
		"Names: snake_case for every field and parameter. Timestamps: RFC 3339, UTC, milliseconds (2025-01-02T15:04:05.123Z).",
		"Ids: a type prefix and 26 lowercase Crockford base32 characters (time-sortable); static live inputs keep the id of the configuration file.",
		"Success: {\"data\": ...}; lists {\"data\": [...], \"next_cursor\"} with ?limit= (1-1000, default 50) and ?cursor= (400 invalid_cursor when it is not one this server issued for the same list and filters).",
		"Errors: {\"error\": {code, message, details}}; every validation error is 400; 422 only for idempotency_key_reused; 405 with Allow on any path with a method it does not have (components.responses.MethodNotAllowed).",
		"Status: 201 with Location for a created resource, 200 for reads, changes and actions, 202 for actions that start work that ends later, 204 for deletions.",
		"Every mutable resource sends an ETag; PATCH and DELETE honour If-Match (412 precondition_failed when stale). Every POST honours Idempotency-Key.",
		"Playback (/live/..., /videos/...) refusals answer {\"error\": {code, message}} with the codes of the PlaybackRefusal schema.",
	}, " ")
}

func errorCodeNames() []string {
	cs := errorCodes()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.code
	}
	return out
}

// errorCodesDoc lists every code with its status and meaning.
func errorCodesDoc() string {
	var b strings.Builder
	b.WriteString("Stable; switch on it, never on the message.")
	for _, c := range errorCodes() {
		b.WriteString(" `" + c.code + "` (" + strconv.Itoa(c.status) + "): " + c.meaning + ".")
	}
	return b.String()
}

// contractSchemas are the component schemas of the rules: the playback
// refusal.
func contractSchemas() obj {
	var codes []string
	doc := "Why a playback request (/live/ID_OR_TOKEN/..., /videos/ID_OR_TOKEN/...) was refused."
	for _, r := range playback.Reasons() {
		codes = append(codes, string(r))
		doc += " `" + string(r) + "` (" + strconv.Itoa(r.Status()) + "): " + r.Message() + "."
	}
	return obj{
		"PlaybackRefusal": object(obj{"error": object(obj{
			"code":    obj{"type": "string", "enum": codes, "description": doc},
			"message": str("For people; may change."),
		}, "code", "message")}, "error"),
	}
}
