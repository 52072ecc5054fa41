package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/mpegflow/mpegflow/internal/events"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/output/restream"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Restream outputs of a live input: /v1/live_inputs/{id}/outputs.

// MaxOutputs is the most outputs one live input may have.
const MaxOutputs = 50

// CodeLimitReached (409): the live input already has MaxOutputs outputs.
const CodeLimitReached = "limit_reached"

// Limits of output fields.
const (
	maxOutputURLLen = 2048
	maxStreamKeyLen = 1024
	// RenditionSource is the rendition of an output that pushes the
	// stream as published.
	RenditionSource = "source"
)

// OutputsRuntime is the restream runtime as the API needs it.
type OutputsRuntime interface {
	// OutputStatus returns the status of output id while it runs; false
	// when it does not (the input is not live, or the output is disabled).
	Status(liveInputID, id string) (restream.Status, bool)
	// OutputsChanged makes the running outputs of a live input follow the
	// store after a change; it returns without waiting for connections.
	Changed(liveInputID string)
}

// OutputsDeps are the dependencies of the outputs routes; without a
// Runtime, outputs are stored and report idle.
type OutputsDeps struct {
	Runtime OutputsRuntime
}

// outputJSON is an output as the API returns it: the stream key masked,
// secrets of the URL (an SRT passphrase, a password) masked.
type outputJSON struct {
	ID            string           `json:"id"`
	LiveInputID   string           `json:"live_input_id"`
	Name          string           `json:"name"`
	URL           string           `json:"url"`
	StreamKey     string           `json:"stream_key"`
	Rendition     string           `json:"rendition"`
	Enabled       bool             `json:"enabled"`
	TLSSkipVerify bool             `json:"tls_skip_verify"`
	CreatedAt     jsontime.Time    `json:"created_at"`
	UpdatedAt     jsontime.Time    `json:"updated_at"`
	Status        outputStatusJSON `json:"status"`
}

// outputStatusJSON is restream.Status with its timestamps in the API's
// one format (jsontime).
type outputStatusJSON struct {
	State         restream.State   `json:"state"`
	ConnectedAt   *jsontime.Time   `json:"connected_at"`
	LastError     *outputErrorJSON `json:"last_error"`
	Attempts      int              `json:"attempts"`
	NextRetryAt   *jsontime.Time   `json:"next_retry_at"`
	BytesSent     uint64           `json:"bytes_sent"`
	BitrateBPS    int64            `json:"bitrate"`
	DroppedFrames uint64           `json:"dropped_frames"`
}

type outputErrorJSON struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	At      jsontime.Time `json:"at"`
}

func renderOutputStatus(st restream.Status) outputStatusJSON {
	out := outputStatusJSON{State: st.State, ConnectedAt: jsontime.Ptr(st.ConnectedAt), Attempts: st.Attempts,
		NextRetryAt: jsontime.Ptr(st.NextRetryAt), BytesSent: st.BytesSent, BitrateBPS: st.BitrateBPS, DroppedFrames: st.DroppedFrames}
	if e := st.LastError; e != nil {
		out.LastError = &outputErrorJSON{Code: e.Code, Message: e.Message, At: jsontime.Of(e.At)}
	}
	return out
}

// EventPayload implements events.Payload: the events of outputs carry
// the output as the API returns it (stream key masked).
func (outputJSON) EventPayload() {}

// OutputNotifier is the restream.Notifier of the daemon: it turns the
// events of outputs into live_input.output.* events, published through
// Events (the webhook outbox, then the bus).
type OutputNotifier struct {
	Events interface{ Publish(events.Event) }
}

// OutputEvent implements restream.Notifier.
func (n OutputNotifier) OutputEvent(_ context.Context, ev restream.Event, o *store.LiveInputOutput) {
	var t events.Type
	switch ev.Kind {
	case restream.EventConnected:
		t = events.OutputConnected
	case restream.EventDisconnected:
		t = events.OutputDisconnected
	case restream.EventErrored:
		t = events.OutputErrored
	default:
		return
	}
	n.Events.Publish(events.New(t, ev.LiveInputID, renderOutput(o, ev.Status)))
}

func renderOutput(o *store.LiveInputOutput, st restream.Status) outputJSON {
	return outputJSON{ID: o.ID, LiveInputID: o.LiveInputID, Name: o.Name, URL: maskOutputURL(o),
		StreamKey: maskKey(o.StreamKey), Rendition: o.Rendition, Enabled: o.Enabled, TLSSkipVerify: o.TLSSkipVerify,
		CreatedAt: jsontime.Of(o.CreatedAt), UpdatedAt: jsontime.Of(o.UpdatedAt), Status: renderOutputStatus(st)}
}

// maskOutputURL is o's URL without its secrets (see restream.MaskTarget).
func maskOutputURL(o *store.LiveInputOutput) string {
	return restream.MaskTarget(restream.Target{URL: o.URL, StreamKey: o.StreamKey})
}

// maskKey shows that a key is set, and its last characters when it is
// long enough for them to give nothing away.
func maskKey(k string) string {
	switch {
	case k == "":
		return ""
	case len(k) >= 16:
		return "****" + k[len(k)-4:]
	}
	return "****"
}

func (s *Server) outputStatus(o *store.LiveInputOutput) restream.Status {
	if rt := s.outputs.Runtime; rt != nil && o.Enabled {
		if st, ok := rt.Status(o.LiveInputID, o.ID); ok {
			return st
		}
	}
	if !o.Enabled {
		return restream.Status{State: restream.StateDisabled}
	}
	return restream.Status{State: restream.StateIdle}
}

func (s *Server) outputsChanged(liveInputID string) {
	if rt := s.outputs.Runtime; rt != nil {
		rt.Changed(liveInputID)
	}
}

func (s *Server) outputsRoutes(handle routeFunc) {
	handle("GET", "/v1/live_inputs/{id}/outputs", ScopeLiveInputsRead, s.listOutputs)
	handle("POST", "/v1/live_inputs/{id}/outputs", ScopeLiveInputsWrite, s.createOutput)
	handle("GET", "/v1/live_inputs/{id}/outputs/{oid}", ScopeLiveInputsRead, s.getOutput)
	handle("PATCH", "/v1/live_inputs/{id}/outputs/{oid}", ScopeLiveInputsWrite, s.patchOutput)
	handle("DELETE", "/v1/live_inputs/{id}/outputs/{oid}", ScopeLiveInputsWrite, s.deleteOutput)
}

// outputWrite is the body of POST and PATCH; absent fields keep their
// value (PATCH) or default (POST: enabled true, rendition source).
type outputWrite struct {
	Name          *string `json:"name"`
	URL           *string `json:"url"`
	StreamKey     *string `json:"stream_key"`
	Rendition     *string `json:"rendition"`
	Enabled       *bool   `json:"enabled"`
	TLSSkipVerify *bool   `json:"tls_skip_verify"`
}

func (w outputWrite) apply(o *store.LiveInputOutput) {
	if w.Name != nil {
		o.Name = *w.Name
	}
	if w.URL != nil {
		o.URL = strings.TrimSpace(*w.URL)
	}
	if w.StreamKey != nil {
		o.StreamKey = *w.StreamKey
	}
	if w.Rendition != nil {
		o.Rendition = *w.Rendition
	}
	if w.Enabled != nil {
		o.Enabled = *w.Enabled
	}
	if w.TLSSkipVerify != nil {
		o.TLSSkipVerify = *w.TLSSkipVerify
	}
}

// validateOutput checks the fields of o; the error names the field and
// never repeats a secret.
func (s *Server) validateOutput(o *store.LiveInputOutput) error {
	if n := utf8.RuneCountInString(o.Name); n > maxNameLen || !utf8.ValidString(o.Name) || strings.IndexFunc(o.Name, unicode.IsControl) >= 0 {
		return fieldErr(CodeValidation, "name", fmt.Sprintf("name must be at most %d characters, without control characters", maxNameLen))
	}
	if o.URL == "" {
		return fieldErr(CodeValidation, "url", "url is required: rtmp://, rtmps:// or srt://")
	}
	if len(o.URL) > maxOutputURLLen {
		return fieldErr(CodeValidation, "url", fmt.Sprintf("url is longer than %d bytes", maxOutputURLLen))
	}
	if err := restream.ValidateURL(o.URL); err != nil {
		return fieldErr(CodeValidation, "url", err.Error())
	}
	if len(o.StreamKey) > maxStreamKeyLen || strings.IndexFunc(o.StreamKey, unicode.IsControl) >= 0 {
		return fieldErr(CodeValidation, "stream_key", fmt.Sprintf("stream_key must be at most %d bytes, without control characters", maxStreamKeyLen))
	}
	if o.StreamKey == "" && !strings.HasPrefix(strings.ToLower(o.URL), "srt:") {
		if err := restream.ValidateTarget(restream.Target{URL: o.URL}); err != nil {
			return fieldErr(CodeValidation, "stream_key", "stream_key is required unless the url ends with the stream name")
		}
	}
	if o.Rendition != RenditionSource && !slices.Contains(s.profiles, o.Rendition) {
		return fieldErr(CodeValidation, "rendition", "rendition must be \"source\" or a name of transcode.profiles")
	}
	return nil
}

func (s *Server) listOutputs(w http.ResponseWriter, r *http.Request, _ *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	scope := "outputs\x00" + li.ID
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, err := s.st.Outputs().List(r.Context(), li.ID)
	if err != nil {
		return storeErr(err, "outputs")
	}
	slices.SortFunc(rows, func(a, b *store.LiveInputOutput) int { return strings.Compare(a.ID, b.ID) })
	out := make([]outputJSON, 0, min(limit, len(rows)))
	last := ""
	for _, o := range rows {
		if after != "" && o.ID <= after {
			continue
		}
		if len(out) == limit {
			writeJSON(w, http.StatusOK, listResponse{Data: out, NextCursor: s.cursors.encode(scope, last)})
			return nil
		}
		out = append(out, renderOutput(o, s.outputStatus(o)))
		last = o.ID
	}
	writeJSON(w, http.StatusOK, listResponse{Data: out})
	return nil
}

// outputETag is a digest of the output's settings as GET shows them
// (secrets masked), without its status, which changes every second while
// it broadcasts and is not something a client edits.
func outputETag(o *store.LiveInputOutput) string {
	return digestETag(renderOutput(o, restream.Status{}))
}

func (s *Server) createOutput(w http.ResponseWriter, r *http.Request, p *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req outputWrite
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	o := &store.LiveInputOutput{ID: ids.New("out", now), LiveInputID: li.ID, Rendition: RenditionSource, Enabled: true, CreatedAt: now, UpdatedAt: now}
	req.apply(o)
	if err := s.validateOutput(o); err != nil {
		return err
	}
	if err := s.st.Outputs().Create(r.Context(), o, MaxOutputs); err != nil {
		if errors.Is(err, store.ErrLimit) {
			return apiErr(http.StatusConflict, CodeLimitReached, fmt.Sprintf("live input %s already has %d outputs, the most allowed", li.ID, MaxOutputs))
		}
		return storeErr(err, "output")
	}
	s.log.Info("output created", "live_input", li.ID, "output", o.ID, "target", maskOutputURL(o), "token", p.tok.ID)
	s.outputsChanged(li.ID)
	w.Header().Set("Location", "/v1/live_inputs/"+li.ID+"/outputs/"+o.ID)
	w.Header().Set("ETag", outputETag(o))
	writeJSON(w, http.StatusCreated, dataResponse{Data: renderOutput(o, s.outputStatus(o))})
	return nil
}

func (s *Server) getOutputRow(r *http.Request) (*store.LiveInputOutput, error) {
	id, oid := r.PathValue("id"), r.PathValue("oid")
	if !validID(id) || !validID(oid) {
		return nil, notFound("output")
	}
	o, err := s.st.Outputs().Get(r.Context(), id, oid)
	if err != nil {
		return nil, storeErr(err, "output")
	}
	return o, nil
}

func (s *Server) getOutput(w http.ResponseWriter, r *http.Request, _ *principal) error {
	o, err := s.getOutputRow(r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", outputETag(o))
	writeJSON(w, http.StatusOK, dataResponse{Data: renderOutput(o, s.outputStatus(o))})
	return nil
}

func (s *Server) patchOutput(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req outputWrite
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	o, err := s.getOutputRow(r)
	if err != nil {
		return err
	}
	if err := checkETag(r, outputETag(o), "output"); err != nil {
		return err
	}
	req.apply(o)
	if err := s.validateOutput(o); err != nil {
		return err
	}
	o.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err := s.st.Outputs().Update(r.Context(), o); err != nil {
		return storeErr(err, "output")
	}
	s.log.Info("output updated", "live_input", o.LiveInputID, "output", o.ID, "target", maskOutputURL(o), "token", p.tok.ID)
	s.outputsChanged(o.LiveInputID)
	w.Header().Set("ETag", outputETag(o))
	writeJSON(w, http.StatusOK, dataResponse{Data: renderOutput(o, s.outputStatus(o))})
	return nil
}

func (s *Server) deleteOutput(w http.ResponseWriter, r *http.Request, p *principal) error {
	o, err := s.getOutputRow(r)
	if err != nil {
		return err
	}
	if err := checkETag(r, outputETag(o), "output"); err != nil {
		return err
	}
	if err := s.st.Outputs().Delete(r.Context(), o.LiveInputID, o.ID); err != nil {
		return storeErr(err, "output")
	}
	s.log.Info("output deleted", "live_input", o.LiveInputID, "output", o.ID, "token", p.tok.ID)
	s.outputsChanged(o.LiveInputID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func outputsOperations() map[string]operation {
	idP := param("id", "path", "The live input id.", obj{"type": "string"}, true)
	oidP := param("oid", "path", "The output id.", obj{"type": "string"}, true)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page.", obj{"type": "string"}, false)
	out := ref("Output")
	return map[string]operation{
		"GET /v1/live_inputs/{id}/outputs": {id: "listOutputs", summary: "The restream outputs of a live input, with their status.", scope: ScopeLiveInputsRead,
			params: []obj{idP, limit, cursor}, ok: 200, okSchema: listOf(out), errs: []int{400, 404}},
		"POST /v1/live_inputs/{id}/outputs": {id: "createOutput", summary: "Add a restream output (at most 50 per live input); while the input is live it starts at the next key frame.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, idem}, body: ref("OutputWrite"), ok: 201, okSchema: dataOf(out), errs: []int{400, 404, 409, 413, 415, 422}},
		"GET /v1/live_inputs/{id}/outputs/{oid}": {id: "getOutput", summary: "Get a restream output and its status.", scope: ScopeLiveInputsRead,
			params: []obj{idP, oidP}, ok: 200, okSchema: dataOf(out), extraHeaders: etagHeader(), errs: []int{404}},
		"PATCH /v1/live_inputs/{id}/outputs/{oid}": {id: "updateOutput", summary: "Change a restream output; while live only this output reconnects.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, oidP, ifMatchParam()}, body: ref("OutputWrite"), ok: 200, okSchema: dataOf(out), extraHeaders: etagHeader(), errs: []int{400, 404, 412, 413, 415}},
		"DELETE /v1/live_inputs/{id}/outputs/{oid}": {id: "deleteOutput", summary: "Remove a restream output; while live only this output stops.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, oidP, ifMatchParam()}, ok: 204, errs: []int{404, 412}},
	}
}

func outputsSchemas() obj {
	states := []string{string(restream.StateIdle), string(restream.StateConnecting), string(restream.StateBroadcasting),
		string(restream.StateRetrying), string(restream.StateErrored), string(restream.StateDisabled)}
	lastErr := obj{"type": []string{"object", "null"}, "description": "The latest failure.", "additionalProperties": false,
		"properties": obj{"code": str("connect_failed, refused, disconnected, stalled, write_failed, unsupported_codec, rendition_unavailable, invalid_url, forbidden_target."),
			"message": str("For people; names no secret."), "at": dateTime("When.")}}
	return obj{
		"Output": object(obj{
			"id":              idStr("out"),
			"live_input_id":   str("The live input pushed."),
			"name":            str("Free text."),
			"url":             str("rtmp://, rtmps:// or srt:// (caller; streamid and passphrase as query parameters); secrets masked."),
			"stream_key":      str("Write-only: masked (\"****\" and at most its last 4 characters)."),
			"rendition":       str("\"source\" or a name of transcode.profiles."),
			"enabled":         boolean("Disabled outputs are kept but not pushed."),
			"tls_skip_verify": boolean("rtmps without certificate verification."),
			"created_at":      dateTime("Creation time."),
			"updated_at":      dateTime("Last change."),
			"status": object(obj{
				"state":          obj{"type": "string", "enum": states},
				"connected_at":   nullDateTime("When the current or last connection was accepted."),
				"last_error":     lastErr,
				"attempts":       integer("Connection attempts since it last broadcast."),
				"next_retry_at":  nullDateTime("When retrying: the next attempt."),
				"bytes_sent":     integer("Bytes written to the target while the input is live."),
				"bitrate":        integer("Bits per second sent over the last second."),
				"dropped_frames": integer("Units dropped because the target was too slow (resumed at a key frame)."),
			}, "state"),
		}, "id", "live_input_id", "url", "stream_key", "rendition", "enabled", "status"),
		"OutputWrite": object(obj{
			"name":            str("Free text, up to 256 characters."),
			"url":             str("Required on create: rtmp://host[:port]/app, rtmps://..., srt://host:port?streamid=...&passphrase=..."),
			"stream_key":      str("The RTMP publishing name (or the SRT stream id when the url names none). Write-only."),
			"rendition":       str("Default \"source\"."),
			"enabled":         boolean("Default true."),
			"tls_skip_verify": boolean("Default false; only for targets whose certificate cannot be verified."),
		}),
	}
}
