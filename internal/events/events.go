// Package events is MpegFlow's in-process event bus: typed events about live
// inputs and sessions, published by the control API and the stream hub, and
// consumed by WebSocket clients (GET /v1/events) and, later, webhooks.
//
// Publishing never blocks: every subscriber has its own bounded queue, and a
// subscriber whose queue is full is cut off (its Done channel closes and Err
// returns ErrSlow) instead of slowing the publisher or other subscribers.
package events

import (
	"encoding/json"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/jsontime"
)

// Type names an event. The set is stable: clients and webhooks filter on it.
type Type string

// Event types.
const (
	// LiveInputCreated: a live input was created over the API.
	LiveInputCreated Type = "live_input.created"
	// LiveInputUpdated: a live input was changed (PATCH, rotate_key).
	LiveInputUpdated Type = "live_input.updated"
	// LiveInputDeleted: a live input was deleted.
	LiveInputDeleted Type = "live_input.deleted"
	// LiveInputConnected: a publisher connected and was accepted.
	LiveInputConnected Type = "live_input.connected"
	// LiveInputDisconnected: the publisher left; the reconnect window runs.
	LiveInputDisconnected Type = "live_input.disconnected"
	// LiveInputIdle: the broadcast ended (reconnect window passed, completed,
	// or the daemon stopped).
	LiveInputIdle Type = "live_input.idle"
	// LiveInputErrored: a publisher was refused or cut; Data carries a code
	// such as unsupported_codec or key_rotated.
	LiveInputErrored Type = "live_input.errored"
	// SessionKicked: a publisher session was ended over the API.
	SessionKicked Type = "session.kicked"
)

// Event types of recordings. Data is the video as GET
// /v1/videos/ID returns it, as the change that caused the event stored it
// (api.Server.VideoData), and LiveInputID its live input.
const (
	// RecordingStarted: a broadcast of a live input with recording on
	// started; its video is live_recording.
	RecordingStarted Type = "recording.started"
	// VideoReady: a video plays as VOD (a recording ended, or a clip was
	// cut); the video's recovered is true when it was finalized after a
	// crash of the daemon.
	VideoReady Type = "video.ready"
	// VideoErrored: a recording failed; the video's error says why.
	VideoErrored Type = "video.errored"
	// VideoDeleted: a video was deleted (API or retention); Data is the
	// video as it was. Its files are deleted right after.
	VideoDeleted Type = "video.deleted"
	// VideoDownloadReady: the MP4 download of a video was built.
	VideoDownloadReady Type = "video.download.ready"
)

// Event types of uploads (internal/upload): videos made from a file. Data
// is the video as GET /v1/videos/ID returns it; LiveInputID is "".
const (
	// VideoUploadCreated: a video waiting for its file was created (a
	// direct upload URL, a plain upload or a copy from a URL).
	VideoUploadCreated Type = "video.upload.created"
	// VideoUploadCompleted: the video's whole file arrived; it is queued
	// for processing.
	VideoUploadCompleted Type = "video.upload.completed"
	// VideoProcessing: a node started processing the video's file. On the
	// event stream (not webhooks) it repeats while processing, with Data
	// {"video_id", "status", "pct_complete"}.
	VideoProcessing Type = "video.processing"
)

// Event types of restream outputs. LiveInputID is the output's live
// input; Data is the output as GET /v1/live_inputs/ID/outputs/OID returns
// it (stream key masked), with its status of the moment.
const (
	// OutputConnected: an output's target accepted the publish.
	OutputConnected Type = "live_input.output.connected"
	// OutputDisconnected: a broadcasting output lost its target (it
	// retries while the input is live) or stopped.
	OutputDisconnected Type = "live_input.output.disconnected"
	// OutputErrored: an output gave up; status.last_error says why.
	OutputErrored Type = "live_input.output.errored"
)

// Pipeline events: Data is the API's pipeline status (api.PipelineStatus)
// for applied, the node's status (api.PipelineNodeEvent) for
// node.state_changed, whose LiveInputID is the live input whose graph
// runs the node.
const (
	// PipelineApplied: a generation of a pipeline was stored and taken in
	// by the runtime (the graphs of its live inputs that are live run it).
	PipelineApplied Type = "pipeline.applied"
	// PipelineNodeStateChanged: a node of a pipeline's graph changed state
	// (pending, running, retrying, errored, stopped).
	PipelineNodeStateChanged Type = "pipeline.node.state_changed"
)

// Types lists every event type, in documentation order.
func Types() []Type {
	return []Type{LiveInputCreated, LiveInputUpdated, LiveInputDeleted, LiveInputConnected,
		LiveInputDisconnected, LiveInputIdle, LiveInputErrored, SessionKicked,
		RecordingStarted, VideoReady, VideoErrored, VideoDeleted, VideoDownloadReady,
		VideoUploadCreated, VideoUploadCompleted, VideoProcessing,
		OutputConnected, OutputDisconnected, OutputErrored,
		PipelineApplied, PipelineNodeStateChanged}
}

// Known reports whether t is one of Types.
func Known(t Type) bool {
	for _, k := range Types() {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one thing that happened. It is immutable once published: Data is
// shared by every subscriber and must not be modified.
type Event struct {
	ID          string    `json:"id"`            // "evt_" + 26 characters (package ids); unique
	Type        Type      `json:"type"`          //
	Time        time.Time `json:"time"`          // UTC
	LiveInputID string    `json:"live_input_id"` // "" when the event is about no live input
	// Data is the event's payload, marshalled as JSON: for live_input.*
	// events the API's live input object as a token without
	// live_inputs:write sees it (no stream key), with the status of the
	// moment, and for errored its "error" (ErrorData) besides; for
	// recording.started and video.* the API's video object. nil: none.
	Data Payload `json:"data,omitempty"`
}

// Payload is the data of an event: a concrete struct that marshals as
// JSON, rendered once by the package that owns the resource (the API's
// objects through api.Renderer, shared by API responses, the WebSocket
// event stream and webhook bodies). The marker method keeps arbitrary
// values (maps, strings) out of events.
type Payload interface {
	EventPayload()
}

// MarshalJSON renders e with its time in the API's one timestamp format
// (jsontime: RFC 3339, UTC, milliseconds).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		Time jsontime.Time `json:"time"`
	}{plain(e), jsontime.Of(e.Time)})
}

// New returns an event of type t about live input id, stamped now with a
// fresh id.
func New(t Type, liveInputID string, data Payload) Event {
	now := time.Now().UTC()
	return Event{ID: ids.New("evt", now), Type: t, Time: now, LiveInputID: liveInputID, Data: data}
}

// ErrorData is the "error" of live_input.errored's data (alone when the
// live input is unknown).
type ErrorData struct {
	Code    string `json:"code"` // e.g. unsupported_codec, key_rotated, disabled
	Message string `json:"message,omitempty"`
}

// EventPayload implements Payload.
func (ErrorData) EventPayload() {}

// envelope is the JSON of Envelope.
type envelope struct {
	ID          string          `json:"id"`
	Type        Type            `json:"type"`
	CreatedAt   jsontime.Time   `json:"created_at"`
	LiveInputID string          `json:"live_input_id,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// Envelope renders e as the body of its webhook deliveries:
// {"id", "type", "created_at", "live_input_id" (omitted when ""), "data"},
// data {} when e has none. The body is rendered once, when the event is
// written to the outbox, and sent as is by every attempt.
func (e Event) Envelope() ([]byte, error) {
	data := json.RawMessage("{}")
	if e.Data != nil {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return nil, err
		}
		if string(b) != "null" {
			data = b
		}
	}
	return json.Marshal(envelope{ID: e.ID, Type: e.Type, CreatedAt: jsontime.Of(e.Time), LiveInputID: e.LiveInputID, Data: data})
}

// RawData is the data of an event decoded from JSON (by a client of the
// event stream): its bytes as they were sent.
type RawData json.RawMessage

// EventPayload implements Payload.
func (RawData) EventPayload() {}

// MarshalJSON returns the bytes as they were received.
func (r RawData) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON decodes an event as Envelope or the event stream renders
// it; its data becomes RawData (nil when absent or null).
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var v struct {
		plain
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Event(v.plain)
	if len(v.Data) > 0 && string(v.Data) != "null" {
		e.Data = RawData(v.Data)
	}
	return nil
}
