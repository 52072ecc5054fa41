package api

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0) of the
// API, served at GET /v1/openapi.json. TestOpenAPIMatchesRoutes checks that
// it lists exactly the operations the server registers.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(desc string) obj  { return obj{"type": "string", "description": desc} }
func boolean(d string) obj { return obj{"type": "boolean", "description": d} }
func integer(d string) obj { return obj{"type": "integer", "description": d} }
func nullable(t string, d string) obj {
	return obj{"type": []string{t, "null"}, "description": d}
}
func dateTime(d string) obj { return obj{"type": "string", "format": "date-time", "description": d} }
func nullDateTime(d string) obj {
	return obj{"type": []string{"string", "null"}, "format": "date-time", "description": d}
}
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
func arrayOf(items obj) obj { return obj{"type": "array", "items": items} }

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

func dataOf(schema obj) obj {
	return object(obj{"data": schema}, "data")
}

func listOf(schema obj) obj {
	return object(obj{"data": arrayOf(schema), "next_cursor": str("Opaque; pass as ?cursor= for the next page. Absent on the last page.")}, "data")
}

// errResp documents an error status: its error codes and their meaning.
func errResp(status int) obj {
	desc := http.StatusText(status) + ". Codes:"
	for _, c := range errorCodes() {
		if c.status == status {
			desc += " `" + c.code + "` (" + c.meaning + ");"
		}
	}
	return obj{"description": strings.TrimSuffix(desc, ";") + ".", "content": jsonContent(ref("Error"))}
}

// operation describes one operation: status → description or schema.
type operation struct {
	id, summary, scope string
	params             []obj
	body               obj // request schema, nil = none
	ok                 int
	okSchema           obj // nil = no body
	errs               []int
	extraHeaders       obj
	anyToken           bool     // scope "" but authenticated: any valid token
	bodyTypes          []string // media types of body; nil: JSON and merge-patch JSON
}

func param(name, in, desc string, schema obj, required bool) obj {
	return obj{"name": name, "in": in, "description": desc, "schema": schema, "required": required}
}

func (o operation) render() obj {
	out := obj{"operationId": o.id, "summary": o.summary}
	if o.scope != "" {
		out["security"] = []obj{{"bearer": []string{}}}
		out["description"] = "Requires the scope `" + o.scope + "` (or a scope implying it)."
	} else if o.anyToken {
		out["security"] = []obj{{"bearer": []string{}}}
		out["description"] = "Any valid token."
	} else {
		out["security"] = []obj{}
	}
	if len(o.params) > 0 {
		out["parameters"] = o.params
	}
	errs := o.errs
	if o.body != nil {
		errs = append(errs, 400, 413, 415) // every body: invalid_json, body_too_large, unsupported_media_type
		types := o.bodyTypes
		if types == nil {
			types = []string{"application/json", "application/merge-patch+json"}
		}
		content := obj{}
		for _, t := range types {
			content[t] = obj{"schema": o.body}
		}
		out["requestBody"] = obj{"required": true, "content": content}
	}
	resps := obj{}
	okr := obj{"description": http.StatusText(o.ok)}
	if o.okSchema != nil {
		okr["content"] = jsonContent(o.okSchema)
	}
	hdrs := obj{}
	for k, v := range o.extraHeaders {
		hdrs[k] = v
	}
	if o.ok == http.StatusCreated {
		hdrs["Location"] = obj{"description": "The path of the created resource.", "schema": obj{"type": "string"}}
	}
	for _, p := range o.params {
		if p["name"] == "Idempotency-Key" {
			errs = append(errs, 409, 422) // idempotency_in_flight, idempotency_key_reused
		}
	}
	if len(hdrs) > 0 {
		okr["headers"] = hdrs
	}
	resps[itoa(o.ok)] = okr
	if o.scope != "" {
		errs = append([]int{401, 403, 429}, errs...)
	} else if o.anyToken {
		errs = append([]int{401, 429}, errs...)
	}
	errs = append(errs, 500)
	for _, c := range errs {
		resps[itoa(c)] = errResp(c)
	}
	out["responses"] = resps
	return out
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// openAPIOperations maps "METHOD /path" to its description.
func openAPIOperations() map[string]operation {
	idP := param("id", "path", "The resource id.", obj{"type": "string"}, true)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page; opaque, bound to the same filters.", obj{"type": "string"}, false)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h, header Idempotent-Replayed: true); with another body, 422. Secrets are never kept: a replay of a response that showed one (token, stream key, passphrase, webhook secret, private key) returns the resource without it, with the header Secret-Omitted: true and the field secret_omitted: true.", obj{"type": "string", "maxLength": 255}, false)
	ifMatch := param("If-Match", "header", "The ETag of the version the change is based on; 412 when it changed.", obj{"type": "string"}, false)
	etagH := obj{"ETag": obj{"description": "The live input's version.", "schema": obj{"type": "string"}}}
	li := ref("LiveInput")
	return map[string]operation{
		"GET /v1/openapi.json": {id: "getOpenAPI", summary: "This document.", ok: 200, okSchema: obj{"type": "object"}},
		"GET /v1/live_inputs": {id: "listLiveInputs", summary: "List live inputs by id (creation order).", scope: ScopeLiveInputsRead,
			params: []obj{limit, cursor,
				param("status", "query", "Keep live inputs with this status.", obj{"type": "string", "enum": []string{StatusIdle, StatusConnected, StatusReconnecting, StatusDisabled}}, false),
				param("name", "query", "Keep live inputs whose name contains this (case-insensitive).", obj{"type": "string"}, false)},
			ok: 200, okSchema: listOf(li), errs: []int{400}},
		"POST /v1/live_inputs": {id: "createLiveInput", summary: "Create a live input; its stream key is returned.", scope: ScopeLiveInputsWrite,
			params: []obj{idem}, body: ref("LiveInputCreate"), ok: 201, okSchema: dataOf(li), extraHeaders: etagH, errs: []int{400, 409, 413, 415, 422}},
		"GET /v1/live_inputs/{id}": {id: "getLiveInput", summary: "Get a live input.", scope: ScopeLiveInputsRead,
			params: []obj{idP}, ok: 200, okSchema: dataOf(li), extraHeaders: etagH, errs: []int{404}},
		"PATCH /v1/live_inputs/{id}": {id: "updateLiveInput", summary: "Change a live input (JSON merge patch, RFC 7396). enabled=false disconnects and refuses its publisher.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, ifMatch}, body: ref("LiveInputCreate"), ok: 200, okSchema: dataOf(li), extraHeaders: etagH, errs: []int{400, 404, 409, 412, 413, 415}},
		"DELETE /v1/live_inputs/{id}": {id: "deleteLiveInput", summary: "Delete a live input; a running broadcast ends.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, ifMatch}, ok: 204, errs: []int{404, 409, 412}},
		"POST /v1/live_inputs/{id}/rotate_key": {id: "rotateLiveInputKey", summary: "New stream key and SRT passphrase; the running publisher is disconnected.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, ifMatch, idem}, ok: 200, okSchema: dataOf(li), extraHeaders: etagH, errs: []int{404, 409, 412, 422}},
		"POST /v1/live_inputs/{id}/complete": {id: "completeLiveInput", summary: "End the current broadcast now.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, idem}, ok: 200, okSchema: dataOf(li), errs: []int{404, 409, 422, 501}},
		"GET /v1/live_inputs/{id}/sessions": {id: "listLiveInputSessions", summary: "The live publisher sessions of a live input, by id.", scope: ScopeLiveInputsRead,
			params: []obj{idP, limit, cursor}, ok: 200, okSchema: listOf(ref("Session")), errs: []int{400, 404}},
		"GET /v1/sessions/{id}": {id: "getSession", summary: "Get a live publisher session.", scope: ScopeLiveInputsRead,
			params: []obj{idP}, ok: 200, okSchema: dataOf(ref("Session")), errs: []int{404, 501}},
		"DELETE /v1/sessions/{id}": {id: "kickSession", summary: "Disconnect a publisher (it may reconnect).", scope: ScopeLiveInputsWrite,
			params: []obj{idP}, ok: 204, errs: []int{404, 501}},
		"GET /v1/tokens": {id: "listTokens", summary: "List API tokens (metadata only).", scope: ScopeTokensRead,
			params: []obj{limit, cursor}, ok: 200, okSchema: listOf(ref("Token")), errs: []int{400}},
		"POST /v1/tokens": {id: "createToken", summary: "Create an API token; the secret is in this response only. A token grants only scopes its creator holds.", scope: ScopeTokensWrite,
			params: []obj{idem}, body: ref("TokenCreate"), ok: 201, okSchema: dataOf(ref("Token")), errs: []int{400, 413, 415, 422}},
		"GET /v1/tokens/{id}": {id: "getToken", summary: "Get an API token's metadata.", scope: ScopeTokensRead,
			params: []obj{idP}, ok: 200, okSchema: dataOf(ref("Token")), errs: []int{404}},
		"DELETE /v1/tokens/{id}": {id: "revokeToken", summary: "Revoke an API token (idempotent). A token revokes only tokens whose scopes it holds (only admin revokes admin: 403 otherwise); the last admin token cannot be revoked (409).", scope: ScopeTokensWrite,
			params: []obj{idP}, ok: 204, errs: []int{403, 404, 409}},
		"GET /v1/events": {id: "streamEvents", summary: "WebSocket (RFC 6455): one JSON Event per text message. A client too slow to keep up is closed with 1008.", scope: ScopeEventsRead,
			params: []obj{
				param("type", "query", "Event types to keep; repeated or comma-separated.", obj{"type": "string"}, false),
				param("live_input_id", "query", "Keep events of this live input.", obj{"type": "string"}, false),
				param("access_token", "query", "The API token, for browsers (they cannot set headers on a WebSocket); accepted on WebSocket upgrades only. Prefer the subprotocol pair below, which keeps the token out of URLs and logs.", obj{"type": "string"}, false),
				param("Sec-WebSocket-Protocol", "header", "Browsers may offer \"mpegflow.events.v1, bearer.TOKEN\" instead of Authorization; the server selects mpegflow.events.v1.", obj{"type": "string"}, false)},
			ok: 101, errs: []int{400}},
	}
}

func openAPISchemas() obj {
	recording := object(obj{
		"mode":              obj{"type": "string", "enum": []string{"off", "automatic"}, "default": "off"},
		"delete_after_days": obj{"type": "integer", "minimum": 0, "maximum": maxDeleteAfter, "description": "0 = keep"},
	})
	recordingIn := object(obj{
		"mode":              obj{"type": []string{"string", "null"}, "enum": []any{"off", "automatic", nil}},
		"delete_after_days": obj{"type": []string{"integer", "null"}, "minimum": 0, "maximum": maxDeleteAfter},
	})
	types := knownEventTypes()
	return obj{
		"Error": object(obj{"error": object(obj{
			"code":    obj{"type": "string", "enum": errorCodeNames(), "description": errorCodesDoc()},
			"message": str("For people; may change."),
			"details": obj{"type": "object", "description": "e.g. field, parameter, required_scope, etag"},
		}, "code", "message")}, "error"),
		"LiveInput": object(obj{
			"id":                       idStr("li"),
			"name":                     str(""),
			"meta":                     obj{"type": "object", "description": "Free JSON object (16 KiB)."},
			"enabled":                  boolean("false refuses publishers."),
			"static":                   boolean("Declared in the configuration file: read-only here."),
			"status":                   obj{"type": "string", "enum": []string{StatusIdle, StatusConnected, StatusReconnecting, StatusDisabled}},
			"created_at":               dateTime(""),
			"updated_at":               dateTime(""),
			"last_connected_at":        nullDateTime(""),
			"keys_rotated_at":          nullDateTime(""),
			"reconnect_window_seconds": integer("0 = the daemon's default."),
			"recording":                recording,
			"transcode":                ref("TranscodeSetting"),
			"require_signed_urls":      boolean(""),
			"allowed_origins":          arrayOf(obj{"type": "string"}),
			"version":                  integer("Incremented by every change; the ETag."),
			"rtmp": obj{"type": []string{"object", "null"}, "properties": obj{
				"url": str("OBS Server."), "stream_key": str("OBS Stream Key; only for tokens with live_inputs:write.")}},
			"srt": obj{"type": []string{"object", "null"}, "properties": obj{
				"url": str("With streamid and passphrase for tokens with live_inputs:write."), "stream_id": str(""), "passphrase": str("")}},
			"whip": obj{"type": []string{"object", "null"}, "properties": obj{"url": str("WHIP endpoint (RFC 9725); bearer token: the stream key.")}},
			"playback": object(obj{"hls": str("Multivariant playlist. For a live input with require_signed_urls, read by a token with live_inputs:write: with a fresh playback token (1 h) in place of the id."),
				"player": str("Player page (with the token likewise)."), "token_expires_at": dateTime("Set when the URLs carry a token.")}, "hls", "player"),
			"webrtc_playback": obj{"type": []string{"object", "null"}, "properties": obj{"url": str(
				"WHEP endpoint (draft-ietf-wish-whep): POST an SDP offer; a playback token in ?token= or as a bearer token. For a signed live input read by a token with live_inputs:write: with a fresh token in ?token=.")}},
			"rtsp":   obj{"type": []string{"object", "null"}, "properties": obj{"url": str("RTSP publish URL (ANNOUNCE/RECORD); ends with the stream key for tokens with live_inputs:write.")}},
			"source": sourceSchema(),
		}, "id", "name", "meta", "enabled", "static", "status", "created_at", "updated_at", "version"),
		"LiveInputCreate": object(obj{
			"name":                     nullable("string", "Up to 256 characters."),
			"meta":                     obj{"type": []string{"object", "null"}},
			"enabled":                  obj{"type": "boolean", "default": true},
			"reconnect_window_seconds": obj{"type": []string{"integer", "null"}, "minimum": 0, "maximum": maxReconnectSecs},
			"recording":                recordingIn,
			"transcode":                ref("TranscodeSetting"),
			"require_signed_urls":      obj{"type": "boolean"},
			"allowed_origins":          obj{"type": []string{"array", "null"}, "items": obj{"type": "string"}, "maxItems": maxAllowedOrigins},
			"srt": obj{"type": []string{"object", "null"}, "additionalProperties": false, "description": "At creation only (rotate_key replaces it).",
				"properties": obj{"passphrase": obj{"type": "string", "description": "SRT encryption passphrase, 10-79 characters; \"\" = unencrypted; absent = generated."}}},
			"source": sourceInSchema(),
		}),
		"Token": object(obj{
			"id": idStr("tok"), "name": str(""), "prefix": str("At most four characters of the secret (\"…\" and its last four), to tell tokens apart."),
			"scopes":       arrayOf(obj{"type": "string", "enum": Scopes()}),
			"created_at":   dateTime(""),
			"last_used_at": nullDateTime("Updated at most once a minute."),
			"revoked_at":   nullDateTime(""),
			"token":        str("The secret: in the creation response only."),
		}, "id", "name", "prefix", "scopes", "created_at"),
		"TokenCreate": object(obj{
			"name":   str(""),
			"scopes": arrayOf(obj{"type": "string", "enum": Scopes()}),
		}, "name", "scopes"),
		"Session": object(obj{
			"id": idStr("ses"), "live_input_id": str(""), "protocol": obj{"type": "string", "enum": []string{"rtmp", "rtmps", "srt", "whip", "rtsp", "rtsps"}},
			"remote": str(""), "started_at": dateTime(""), "bitrate_bps": integer(""),
			"codecs": arrayOf(obj{"type": "string"}), "viewers": integer(""),
			"rtp": object(obj{
				"packets_received": integer("RTP packets received so far."),
				"packets_lost":     integer("RTP packets missing (sequence number gaps)."),
				"video_jitter_ms":  obj{"type": "number", "description": "Interarrival jitter of the video track (RFC 3550 §6.4.1), milliseconds."},
				"audio_jitter_ms":  obj{"type": "number", "description": "Interarrival jitter of the audio track, milliseconds."},
				"bitrate_bps":      integer("RTP payload rate over the last sample interval."),
			}),
		}),
		"Event": object(obj{
			"id": idStr("evt"), "type": obj{"type": "string", "enum": types}, "time": dateTime(""),
			"live_input_id": str(""), "data": obj{"description": "live_input.created/updated/deleted: the LiveInput without secrets; pipeline.applied: the PipelineStatus; pipeline.node.state_changed: the PipelineNodeEvent; connected/disconnected/idle: the same LiveInput, with its status of the moment; errored: the same LiveInput plus error: {code, message}; session.kicked: the Session; recording.started, video.ready, video.errored, video.download.ready, video.deleted: the Video as the change stored it (recovered: true on the video.ready of a recording finalized after a crash; video.deleted: the Video as it was). Webhooks carry the same data."},
		}),
	}
}

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() ([]byte, error) {
	paths := obj{}
	ops := openAPIOperations()
	for _, ext := range []map[string]operation{signingOperations(), webhooksOperations(), videosOperations(), uploadsOperations(), systemOperations(), whoamiOperations(), outputsOperations(), pipelinesOperations(), pipelinesPlanOperations()} {
		for k, o := range ext {
			ops[k] = o
		}
	}
	for key, o := range ops {
		method, path, _ := strings.Cut(key, " ")
		item, _ := paths[path].(obj)
		if item == nil {
			item = obj{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = o.render()
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{"title": "MpegFlow control API", "version": "1",
			"description": apiRulesDoc()},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"schemas": allSchemas(),
			"responses": obj{"MethodNotAllowed": obj{
				"description": "405 on any path with a method it does not have (code method_not_allowed); the Allow header lists the methods it has.",
				"headers":     obj{"Allow": obj{"description": "The methods of the path.", "schema": obj{"type": "string"}}},
				"content":     jsonContent(ref("Error"))}},
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "An API token (mf_...) or api.admin_token."}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	b, err := OpenAPI()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// allSchemas merges the core schemas with the features'.
func allSchemas() obj {
	all := openAPISchemas()
	for _, ext := range []obj{signingSchemas(), webhooksSchemas(), videosSchemas(), uploadsSchemas(), systemSchemas(), whoamiSchemas(), outputsSchemas(), pipelinesSchemas(), pipelineStatusSchemas(), contractSchemas()} {
		for k, v := range ext {
			all[k] = v
		}
	}
	return all
}
