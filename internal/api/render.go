package api

import (
	"net/http"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Renderer renders the resources events carry exactly as the API returns
// them: one rendering shared by API responses, the WebSocket event stream
// and webhook bodies. It needs only the endpoints, so the components that
// emit events (the live runtime, the recorder) are built with it before the
// API exists.
type Renderer struct{ ep Endpoints }

// NewRenderer returns the Renderer of the API whose Endpoints are ep.
func NewRenderer(ep Endpoints) *Renderer { return &Renderer{ep: ep} }

// eventRequest stands for the request an event does not have: URLs use the
// configured listen addresses, a wildcard host ("" or 0.0.0.0, e.g.
// ":1935") named "localhost".
var eventRequest = http.Request{Host: "localhost"}

// LiveInput is the data of the live_input.* events: li as GET
// /v1/live_inputs/ID returns it to a token without live_inputs:write (no
// stream key, no SRT passphrase), with status (StatusDisabled when li is
// disabled).
func (r *Renderer) LiveInput(li *store.LiveInput, status string) LiveInputObject {
	if !li.Enabled {
		status = StatusDisabled
	}
	req := eventRequest
	return LiveInputObject(liveInputObject(r.ep, li, &req, false, status))
}

// LiveInputError is the data of live_input.errored: LiveInput and "error":
// {code, message}.
func (r *Renderer) LiveInputError(li *store.LiveInput, status, code, message string) LiveInputErrorObject {
	return LiveInputErrorObject{LiveInputObject: r.LiveInput(li, status), Error: events.ErrorData{Code: code, Message: message}}
}

// Video is the data of the recording.started and video.* events: v as GET
// /v1/videos/ID returns it, as the change that emits the event stored it
// (video.ready of a recording recovered after a crash has recovered: true;
// video.deleted carries the video as it was). A video holds no secret.
func (r *Renderer) Video(v *store.Video) VideoObject {
	req := eventRequest
	return VideoObject(videoObject(r.ep, v, &req))
}

// LiveInputObject is the API's live input object as events carry it.
type LiveInputObject liveInputJSON

// LiveInputErrorObject is the data of live_input.errored.
type LiveInputErrorObject struct {
	LiveInputObject
	Error events.ErrorData `json:"error"`
}

// VideoObject is the API's video object as events carry it.
type VideoObject videoJSON

// VideoData is Video as the recorder's Config.Render takes it.
func (r *Renderer) VideoData(v *store.Video) events.Payload { return r.Video(v) }

// SessionObject is the data of session.kicked: the session as GET
// /v1/live_inputs/ID/sessions lists it, or only its id when the runtime
// cannot look it up.
type SessionObject struct {
	*Session
	SessionID string `json:"session_id,omitempty"`
}

// EventPayload implements events.Payload.
func (LiveInputObject) EventPayload() {}

// EventPayload implements events.Payload.
func (LiveInputErrorObject) EventPayload() {}

// EventPayload implements events.Payload.
func (VideoObject) EventPayload() {}

// EventPayload implements events.Payload.
func (SessionObject) EventPayload() {}
