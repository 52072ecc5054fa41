package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// The run-time side of pipelines: what the graphs of the bound live
// inputs run (GET /v1/pipelines/{name} status, GET
// /v1/live_inputs/ID/pipeline) and the pipeline.* events.

// Node states of a pipeline's status.
const (
	NodePending         = "pending"           // built, not running yet
	NodeRunning         = "running"           //
	NodeWaitingForInput = "waiting_for_input" // its live input is not live
	NodeRetrying        = "retrying"          // its work restarts (an ffmpeg process) after a failure
	NodeErrored         = "errored"           // it failed; last_error says why
	NodeStopped         = "stopped"           // its input ended, or its `when` is false for this source
)

// PipelineNodeStatus is one node of a pipeline as it runs for one live
// input.
type PipelineNodeStatus struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	LiveInputID string `json:"live_input_id,omitempty"`
	State       string `json:"state"`
	LastError   string `json:"last_error,omitempty"`
	Restarts    uint64 `json:"restarts"`
	// Counters: units read, units written, units dropped by its readers.
	Counters PipelineNodeCounters `json:"counters"`
}

// PipelineNodeCounters are a node's counters.
type PipelineNodeCounters struct {
	In      uint64 `json:"in"`
	Out     uint64 `json:"out"`
	Dropped uint64 `json:"dropped"`
}

// PipelineStatus is what the runtime reports about a pipeline: the
// generation its graphs run (observed_generation: the stored one once it
// was applied to every live graph, or taken in by an idle runtime) and
// every node's state. It is the data of pipeline.applied.
type PipelineStatus struct {
	Name               string               `json:"name"`
	Generation         int64                `json:"generation"`
	ObservedGeneration int64                `json:"observed_generation"`
	Nodes              []PipelineNodeStatus `json:"nodes"`
}

// EventPayload implements events.Payload.
func (PipelineStatus) EventPayload() {}

// PipelineNodeEvent is the data of pipeline.node.state_changed.
type PipelineNodeEvent struct {
	Pipeline      string             `json:"pipeline"`
	Generation    int64              `json:"generation"`
	Node          PipelineNodeStatus `json:"node"`
	PreviousState string             `json:"previous_state,omitempty"`
}

// EventPayload implements events.Payload.
func (PipelineNodeEvent) EventPayload() {}

// PipelineRuntime is what the API asks of the runtime of pipelines (the
// binder that builds the graphs of bound live inputs).
type PipelineRuntime interface {
	// Applied is told about a generation just stored (applied, rolled
	// back): the graphs of its live inputs take the change in, hot.
	Applied(ctx context.Context, p *store.Pipeline, m *manifest.Manifest)
	// Deleted is told about a pipeline deleted.
	Deleted(name string)
	// Status reports the nodes of stored pipeline p (manifest m).
	Status(p *store.Pipeline, m *manifest.Manifest) PipelineStatus
	// Effective returns the graph live input id runs (or would run when
	// it goes live) as a manifest: its pipeline's, or the default graph
	// built from its settings; with the nodes' status.
	Effective(ctx context.Context, id string) (*manifest.Manifest, PipelineStatus, error)
}

// pipelineWithStatus is GET /v1/pipelines/{name}: the pipeline and its
// run-time status.
type pipelineWithStatus struct {
	pipelineJSON
	ObservedGeneration int64                `json:"observed_generation"`
	Nodes              []PipelineNodeStatus `json:"nodes"`
}

func (s *Server) renderPipelineStatus(p *store.Pipeline) (any, error) {
	if s.pipelines == nil {
		return renderPipeline(p), nil
	}
	m, err := storedManifest(p.Manifest)
	if err != nil {
		return nil, err
	}
	st := s.pipelines.Status(p, m)
	return pipelineWithStatus{pipelineJSON: renderPipeline(p), ObservedGeneration: st.ObservedGeneration, Nodes: st.Nodes}, nil
}

// applied tells the runtime about a stored generation.
func (s *Server) applied(ctx context.Context, p *store.Pipeline, m *manifest.Manifest) {
	if s.pipelines != nil {
		s.pipelines.Applied(ctx, p, m)
	}
}

// effectivePipelineJSON is GET /v1/live_inputs/ID/pipeline.
type effectivePipelineJSON struct {
	// Pipeline is the bound pipeline's name; "" for the default graph.
	Pipeline   string               `json:"pipeline,omitempty"`
	Generation int64                `json:"generation,omitempty"`
	Manifest   json.RawMessage      `json:"manifest"`
	Nodes      []PipelineNodeStatus `json:"nodes"`
}

func (s *Server) getLiveInputPipeline(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("live input")
	}
	if _, err := s.st.LiveInputs().Get(r.Context(), id); err != nil {
		return storeErr(err, "live input")
	}
	if s.pipelines == nil {
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "this server runs no pipelines")
	}
	m, st, err := s.pipelines.Effective(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("live input")
	}
	if err != nil {
		return err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	out := effectivePipelineJSON{Manifest: js, Nodes: st.Nodes}
	if st.Name != "" {
		out.Pipeline, out.Generation = st.Name, st.Generation
	}
	if out.Nodes == nil {
		out.Nodes = []PipelineNodeStatus{}
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

// liveThumbnailer is implemented by a PipelineRuntime whose thumbnail
// nodes make images: the newest one of live input id, ok false when none.
type liveThumbnailer interface {
	LiveThumbnail(id string) (path string, made time.Time, ok bool)
}

// getLiveThumbnail serves the newest image of a live input's thumbnail
// nodes (conditional requests answered by http.ServeContent).
func (s *Server) getLiveThumbnail(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("live input")
	}
	if _, err := s.st.LiveInputs().Get(r.Context(), id); err != nil {
		return storeErr(err, "live input")
	}
	lt, ok := s.pipelines.(liveThumbnailer)
	if !ok {
		return apiErr(http.StatusNotFound, CodeNotFound, "no thumbnail: this server makes none")
	}
	path, made, ok := lt.LiveThumbnail(id)
	var f *os.File
	if ok {
		var err error
		if f, err = os.Open(path); err != nil { // pruned meanwhile
			ok = false
		}
	}
	if !ok {
		return apiErr(http.StatusNotFound, CodeNotFound, "no thumbnail of live input "+id+" yet: a thumbnail node of its pipeline makes one while it is live")
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "thumbnail.jpg", made, f)
	return nil
}

func pipelineStatusSchemas() obj {
	counters := object(obj{
		"in":      integer("Units read."),
		"out":     integer("Units written."),
		"dropped": integer("Units its readers dropped (a slow node drops, it never blocks the source)."),
	}, "in", "out", "dropped")
	node := object(obj{
		"id":            str("The node id of the manifest."),
		"type":          str("The node type."),
		"live_input_id": str("The live input whose graph runs it."),
		"state":         obj{"type": "string", "enum": []string{NodePending, NodeRunning, NodeWaitingForInput, NodeRetrying, NodeErrored, NodeStopped}},
		"last_error":    str("Why it failed or stopped, when it did."),
		"restarts":      integer("Restarts of its work (an ffmpeg process)."),
		"counters":      counters,
	}, "id", "type", "state", "restarts", "counters")
	return obj{
		"PipelineWithStatus": object(obj{
			"name":                str("metadata.name."),
			"generation":          integer("1 at creation; grows by one at every change of the manifest."),
			"observed_generation": integer("The generation the runtime has taken in (the graphs of its live inputs run it)."),
			"manifest":            ref("PipelineManifest"),
			"nodes":               arrayOf(ref("PipelineNodeStatus")),
			"created_at":          dateTime("Creation time."),
			"updated_at":          dateTime("When the current generation was stored."),
		}, "name", "generation", "manifest", "created_at", "updated_at"),
		"PipelineNodeStatus": node,
		"PipelineStatus": object(obj{
			"name":                str("The pipeline."),
			"generation":          integer("The stored generation."),
			"observed_generation": integer("The generation the runtime has taken in."),
			"nodes":               arrayOf(ref("PipelineNodeStatus")),
		}, "name", "generation", "observed_generation", "nodes"),
		"PipelineNodeEvent": object(obj{
			"pipeline":       str("The pipeline."),
			"generation":     integer("The generation the graph runs."),
			"node":           ref("PipelineNodeStatus"),
			"previous_state": str("The state before."),
		}, "pipeline", "generation", "node"),
		"EffectivePipeline": object(obj{
			"pipeline":   str("The bound pipeline; absent for the default graph."),
			"generation": integer("The bound pipeline's generation."),
			"manifest":   ref("PipelineManifest"),
			"nodes":      arrayOf(ref("PipelineNodeStatus")),
		}, "manifest", "nodes"),
	}
}
