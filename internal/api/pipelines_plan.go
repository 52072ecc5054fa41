package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// The planning surface of pipelines: POST /v1/pipelines/{name}/plan (what
// a PUT of the same body would do, node by node, storing nothing) and the
// JSON Schema of manifests at GET /v1/pipelines/schema.json, public so
// that editors can fetch it.

// pipelineSchemaPath is where the manifest JSON Schema is served.
const pipelineSchemaPath = "/v1/pipelines/schema.json"

// scopePublic registers an operation served without a token.
const scopePublic = "public"

func (s *Server) pipelinesPlanRoutes(handle routeFunc) {
	handle("GET", pipelineSchemaPath, scopePublic, s.getPipelineSchema)
	handle("POST", "/v1/pipelines/{name}/plan", ScopeLiveInputsRead, s.planPipeline)
}

// getPipelineSchema serves the JSON Schema (draft 2020-12) generated from
// the node types; its $id is the URL it was fetched at.
func (s *Server) getPipelineSchema(w http.ResponseWriter, r *http.Request, _ *principal) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	b, err := json.MarshalIndent(manifest.Default().JSONSchema(scheme+"://"+r.Host+pipelineSchemaPath), "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
	return nil
}

// planPipeline answers the plan of a manifest against the stored pipeline
// (against nothing when there is none): the validation and references of
// a PUT, then one change per node with its impact. Nothing is stored;
// values are never echoed (a change names fields only). It needs only the
// read scope: it changes nothing.
func (s *Server) planPipeline(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, canon, row, old, err := s.readApply(w, r)
	if err != nil {
		return err
	}
	return s.storeApply(w, r, p, row, m, old, canon, true)
}

// readApply reads a PUT or plan request: the manifest of the body
// (validated, with its canonical JSON), which must name the path's
// pipeline, and the stored pipeline of that name with its manifest (nil,
// nil when there is none).
func (s *Server) readApply(w http.ResponseWriter, r *http.Request) (m *manifest.Manifest, canon string, row *store.Pipeline, old *manifest.Manifest, err error) {
	name := r.PathValue("name")
	if !validPipelineName(name) {
		return nil, "", nil, nil, notFound("pipeline")
	}
	if m, canon, err = s.readManifest(w, r); err != nil {
		return nil, "", nil, nil, err
	}
	if m.Metadata.Name != name {
		return nil, "", nil, nil, fieldErr(CodeValidation, "/metadata/name", "metadata.name is "+strconv.Quote(m.Metadata.Name)+", the path names "+strconv.Quote(name))
	}
	row, err = s.st.Pipelines().Get(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m, canon, nil, nil, nil
	case err != nil:
		return nil, "", nil, nil, storeErr(err, "pipeline")
	}
	if old, err = storedManifest(row.Manifest); err != nil {
		return nil, "", nil, nil, err
	}
	return m, canon, row, old, nil
}

func pipelinesPlanOperations() map[string]operation {
	nameP := param("name", "path", "The pipeline's metadata.name.", obj{"type": "string"}, true)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	return map[string]operation{
		"GET " + pipelineSchemaPath: {id: "getPipelineSchema", summary: "The JSON Schema (draft 2020-12) of pipeline manifests, generated from the node types; public, for editors.",
			ok: 200, okSchema: obj{"type": "object"}},
		"POST /v1/pipelines/{name}/plan": {id: "planPipeline", summary: "Plan a manifest against the stored pipeline without storing anything: one change per node (create, update in place or restart, replace, delete, unchanged) with its impact (hot, or what restarts with it). Values are never echoed.",
			scope: ScopeLiveInputsRead, params: []obj{nameP, idem}, body: ref("PipelineManifest"), bodyTypes: manifestTypes,
			ok: 200, okSchema: dataOf(ref("PipelineApply")), extraHeaders: etagHeader(), errs: []int{400, 404, 409}},
	}
}
