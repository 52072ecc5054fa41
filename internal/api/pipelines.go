package api

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Pipelines: declarative manifests (internal/pipeline/manifest) stored
// with every generation, at /v1/pipelines. A manifest is sent as YAML
// (application/yaml) or JSON (application/json); it is validated whole,
// and every problem is listed in details.errors (path as a JSON pointer,
// node, line and column). Nothing is stored when anything is invalid.

// manifestTypes are the media types a manifest is accepted in
// (application/yaml: RFC 9512).
var manifestTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "application/json"}

// pipelineJSON is a pipeline as the API returns it.
type pipelineJSON struct {
	Name       string          `json:"name"`
	Generation int64           `json:"generation"`
	Manifest   json.RawMessage `json:"manifest"`
	CreatedAt  jsontime.Time   `json:"created_at"`
	UpdatedAt  jsontime.Time   `json:"updated_at"`
}

func renderPipeline(p *store.Pipeline) pipelineJSON {
	return pipelineJSON{Name: p.Name, Generation: p.Generation, Manifest: json.RawMessage(p.Manifest),
		CreatedAt: jsontime.Of(p.CreatedAt), UpdatedAt: jsontime.Of(p.UpdatedAt)}
}

// revisionJSON is one stored generation.
type revisionJSON struct {
	Generation int64           `json:"generation"`
	Manifest   json.RawMessage `json:"manifest"`
	CreatedAt  jsontime.Time   `json:"created_at"`
}

// planJSON is a manifest.Plan with its text rendering.
type planJSON struct {
	Changes         []manifest.Change `json:"changes"`
	MetadataChanged bool              `json:"metadata_changed"`
	Text            string            `json:"text"`
}

// applyJSON answers PUT and rollback: the pipeline as stored after the
// change (as it is, for a dry run) and the plan of the change.
type applyJSON struct {
	Pipeline *pipelineJSON `json:"pipeline"`
	Plan     planJSON      `json:"plan"`
	DryRun   bool          `json:"dry_run"`
	// Changed is false when the manifest equals the stored one: the
	// generation stays.
	Changed bool `json:"changed"`
}

func renderPlan(p manifest.Plan) planJSON {
	if p.Changes == nil {
		p.Changes = []manifest.Change{}
	}
	return planJSON{Changes: p.Changes, MetadataChanged: p.Metadata, Text: p.String()}
}

// pipelineETag is the generation: it changes with every stored manifest.
func pipelineETag(p *store.Pipeline) string { return `"` + strconv.FormatInt(p.Generation, 10) + `"` }

func (s *Server) pipelinesRoutes(handle routeFunc) {
	const rd, wr = ScopeLiveInputsRead, ScopeLiveInputsWrite
	handle("GET", "/v1/pipelines", rd, s.listPipelines)
	handle("POST", "/v1/pipelines", wr, s.createPipeline)
	handle("GET", "/v1/pipelines/{name}", rd, s.getPipeline)
	handle("PUT", "/v1/pipelines/{name}", wr, s.applyPipeline)
	handle("DELETE", "/v1/pipelines/{name}", wr, s.deletePipeline)
	handle("GET", "/v1/pipelines/{name}/revisions", rd, s.listPipelineRevisions)
	handle("POST", "/v1/pipelines/{name}/rollback", wr, s.rollbackPipeline)
	s.pipelinesPlanRoutes(handle)
	handle("GET", "/v1/live_inputs/{id}/pipeline", rd, s.getLiveInputPipeline)
	handle("GET", "/v1/live_inputs/{id}/thumbnail.jpg", rd, s.getLiveThumbnail)
}

// readManifest reads, decodes and validates the manifest of the body.
func (s *Server) readManifest(w http.ResponseWriter, r *http.Request) (*manifest.Manifest, string, error) {
	if err := checkMediaType(r, "the body must be a manifest in application/yaml or application/json", manifestTypes...); err != nil {
		return nil, "", err
	}
	body, err := readRaw(w, r, false)
	if err != nil {
		return nil, "", err
	}
	if t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); t == "application/json" && !json.Valid(body) {
		return nil, "", apiErr(http.StatusBadRequest, CodeInvalidJSON, "the body is not valid JSON")
	}
	m, err := manifest.Default().Parse(body)
	if err != nil {
		return nil, "", manifestErr(err)
	}
	canon, err := json.Marshal(m)
	if err != nil {
		return nil, "", err
	}
	return m, string(canon), nil
}

// manifestErr is 400 validation_failed with every problem in
// details.errors and the first one's path in details.field.
func manifestErr(err error) error {
	var es manifest.Errors
	if !errors.As(err, &es) || len(es) == 0 {
		return err
	}
	msg := es[0].Error()
	if len(es) > 1 {
		msg += " (and " + strconv.Itoa(len(es)-1) + " more problems in details.errors)"
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: msg,
		Details: map[string]any{"field": es[0].Path, "errors": []manifest.Error(es)}}
}

// checkReferences refuses a manifest whose source.live nodes name live
// inputs that do not exist or whose notify.webhook nodes name webhooks
// that do not exist, or whose nodes the media of a live input that is
// live does not fit (400, every problem listed), and one that binds a live
// input another pipeline binds (409: a live input has at most one
// pipeline).
func (s *Server) checkReferences(ctx context.Context, m *manifest.Manifest) error {
	var errs manifest.Errors
	inputs := map[string]string{} // live input -> node
	for i, n := range m.Spec.Nodes {
		at := "/spec/nodes/" + strconv.Itoa(i) + "/config/"
		switch n.Type {
		case "source.live":
			id, _ := n.Config["live_input"].(string)
			if _, err := s.st.LiveInputs().Get(ctx, id); errors.Is(err, store.ErrNotFound) || !validID(id) {
				errs = append(errs, m.ErrorAt(at+"live_input", n.ID, "no live input "+strconv.Quote(id)))
			} else if err != nil {
				return storeErr(err, "live input")
			}
			inputs[id] = n.ID
		case "notify.webhook":
			id, _ := n.Config["webhook"].(string)
			if _, err := s.st.Webhooks().GetEndpoint(ctx, id); errors.Is(err, store.ErrNotFound) || !validID(id) {
				errs = append(errs, m.ErrorAt(at+"webhook", n.ID, "no webhook "+strconv.Quote(id)))
			} else if err != nil {
				return storeErr(err, "webhook")
			}
		}
	}
	if len(errs) > 0 {
		return manifestErr(errs)
	}
	if mc, ok := s.pipelines.(mediaChecker); ok {
		if err := mc.CheckMedia(m); err != nil {
			return manifestErr(err)
		}
	}
	for id, node := range inputs {
		other, err := s.st.Pipelines().Bound(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return storeErr(err, "pipeline")
		}
		if other.Name != m.Metadata.Name {
			return bindingConflict(&store.BindingError{LiveInput: id, Pipeline: other.Name}, node)
		}
	}
	return nil
}

// mediaChecker is implemented by a PipelineRuntime that checks a
// manifest against the media of its live inputs that are live (an
// audio-only source into a ladder, VP8 into HLS without a transcode): it
// returns manifest.Errors, answered 400 like the other validation errors.
type mediaChecker interface {
	CheckMedia(m *manifest.Manifest) error
}

// bindingConflict is the 409 of a live input bound by another pipeline.
func bindingConflict(be *store.BindingError, node string) error {
	msg := "live input " + be.LiveInput
	if node != "" {
		msg += " (node " + strconv.Quote(node) + ")"
	}
	return &Error{Status: http.StatusConflict, Code: CodeConflict,
		Message: msg + " is bound by pipeline " + be.Pipeline + "; a live input has at most one pipeline",
		Details: map[string]any{"pipeline": be.Pipeline, "live_input": be.LiveInput}}
}

// boundInputs lists the live inputs of m's source.live nodes.
func boundInputs(m *manifest.Manifest) []string {
	var out []string
	for _, n := range m.Spec.Nodes {
		if id, _ := n.Config["live_input"].(string); n.Type == "source.live" && id != "" {
			out = append(out, id)
		}
	}
	return out
}

// storedManifest decodes a stored manifest (valid when it was stored).
func storedManifest(js string) (*manifest.Manifest, error) {
	return manifest.Decode([]byte(js))
}

func validPipelineName(name string) bool { return validID(name) && len(name) <= 63 }

func (s *Server) getPipelineRow(r *http.Request) (*store.Pipeline, error) {
	name := r.PathValue("name")
	if !validPipelineName(name) {
		return nil, notFound("pipeline")
	}
	p, err := s.st.Pipelines().Get(r.Context(), name)
	if err != nil {
		return nil, storeErr(err, "pipeline")
	}
	return p, nil
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, _ *principal) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	const scope = "pipelines"
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, more, err := s.st.Pipelines().List(r.Context(), store.ListOptions{Limit: limit, After: after})
	if err != nil {
		return storeErr(err, "pipelines")
	}
	out := make([]pipelineJSON, 0, len(rows))
	for _, p := range rows {
		out = append(out, renderPipeline(p))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].Name)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) createPipeline(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, canon, err := s.readManifest(w, r)
	if err != nil {
		return err
	}
	if err := s.checkReferences(r.Context(), m); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	row := &store.Pipeline{Name: m.Metadata.Name, Generation: 1, Manifest: canon, CreatedAt: now, UpdatedAt: now, LiveInputs: boundInputs(m)}
	if err := s.st.Pipelines().Create(r.Context(), row); err != nil {
		var be *store.BindingError
		if errors.As(err, &be) {
			return bindingConflict(be, "")
		}
		if errors.Is(err, store.ErrConflict) {
			return apiErr(http.StatusConflict, CodeConflict, "pipeline "+row.Name+" exists; PUT /v1/pipelines/"+row.Name+" applies a change")
		}
		return storeErr(err, "pipeline")
	}
	s.applied(r.Context(), row, m)
	s.log.Info("pipeline created", "pipeline", row.Name, "nodes", len(m.Spec.Nodes), "token", p.tok.ID)
	w.Header().Set("Location", "/v1/pipelines/"+row.Name)
	w.Header().Set("ETag", pipelineETag(row))
	writeJSON(w, http.StatusCreated, dataResponse{Data: renderPipeline(row)})
	return nil
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request, _ *principal) error {
	row, err := s.getPipelineRow(r)
	if err != nil {
		return err
	}
	out, err := s.renderPipelineStatus(row)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", pipelineETag(row))
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

// applyPipeline is PUT: the whole manifest, created when absent; the
// generation grows only when the manifest changes; ?dry_run=true answers
// the plan and stores nothing.
func (s *Server) applyPipeline(w http.ResponseWriter, r *http.Request, p *principal) error {
	dry, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	m, canon, row, old, err := s.readApply(w, r)
	if err != nil {
		return err
	}
	if row != nil {
		if err := checkETag(r, pipelineETag(row), "pipeline"); err != nil {
			return err
		}
	} else if r.Header.Get("If-Match") != "" {
		return notFound("pipeline")
	}
	return s.storeApply(w, r, p, row, m, old, canon, dry)
}

// storeApply stores canon as the next generation of row (nil: a new
// pipeline) unless it equals the stored manifest or dry is set, and
// answers the plan.
func (s *Server) storeApply(w http.ResponseWriter, r *http.Request, p *principal, row *store.Pipeline, m, old *manifest.Manifest, canon string, dry bool) error {
	if err := s.checkReferences(r.Context(), m); err != nil {
		return err
	}
	plan := manifest.Diff(old, m)
	changed := row == nil || row.Manifest != canon
	now := s.now().UTC().Truncate(time.Microsecond)
	if dry || !changed {
		resp := applyJSON{Plan: renderPlan(plan), DryRun: dry, Changed: changed}
		if row != nil {
			pj := renderPipeline(row)
			resp.Pipeline = &pj
			w.Header().Set("ETag", pipelineETag(row))
		}
		writeJSON(w, http.StatusOK, dataResponse{Data: resp})
		return nil
	}
	if row == nil {
		row = &store.Pipeline{Name: m.Metadata.Name, Generation: 1, Manifest: canon, CreatedAt: now, UpdatedAt: now, LiveInputs: boundInputs(m)}
		err := s.st.Pipelines().Create(r.Context(), row)
		var be *store.BindingError
		if errors.As(err, &be) {
			return bindingConflict(be, "")
		}
		if errors.Is(err, store.ErrConflict) {
			err = store.ErrPrecondition // created meanwhile: the plan was against nothing
		}
		if err != nil {
			return storeErr(err, "pipeline")
		}
	} else {
		row.Manifest, row.UpdatedAt, row.LiveInputs = canon, now, boundInputs(m)
		if err := s.st.Pipelines().Apply(r.Context(), row); err != nil {
			var be *store.BindingError
			if errors.As(err, &be) {
				return bindingConflict(be, "")
			}
			return storeErr(err, "pipeline")
		}
	}
	s.applied(r.Context(), row, m)
	s.log.Info("pipeline applied", "pipeline", row.Name, "generation", row.Generation,
		"create", plan.Count(manifest.Create), "update", plan.Count(manifest.Update), "replace", plan.Count(manifest.Replace),
		"delete", plan.Count(manifest.Delete), "token", p.tok.ID)
	pj := renderPipeline(row)
	w.Header().Set("ETag", pipelineETag(row))
	writeJSON(w, http.StatusOK, dataResponse{Data: applyJSON{Pipeline: &pj, Plan: renderPlan(plan), Changed: true}})
	return nil
}

// rollbackRequest is the body of POST /v1/pipelines/{name}/rollback.
type rollbackRequest struct {
	Generation *int64 `json:"generation"`
	DryRun     bool   `json:"dry_run"`
}

// rollbackPipeline applies the manifest of an earlier generation as the
// next generation (the history is kept, never rewritten).
func (s *Server) rollbackPipeline(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req rollbackRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Generation == nil || *req.Generation < 1 {
		return fieldErr(CodeValidation, "generation", "generation is required: a generation listed by /revisions")
	}
	row, err := s.getPipelineRow(r)
	if err != nil {
		return err
	}
	if err := checkETag(r, pipelineETag(row), "pipeline"); err != nil {
		return err
	}
	rev, err := s.st.Pipelines().Revision(r.Context(), row.Name, *req.Generation)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fieldErr(CodeValidation, "generation", "pipeline "+row.Name+" has no generation "+strconv.FormatInt(*req.Generation, 10))
		}
		return storeErr(err, "pipeline revision")
	}
	old, err := storedManifest(row.Manifest)
	if err != nil {
		return err
	}
	m, err := storedManifest(rev.Manifest)
	if err != nil {
		return err
	}
	// A revision is revalidated: the node types may have changed since.
	if err := manifest.Default().Validate(m); err != nil {
		return manifestErr(err)
	}
	return s.storeApply(w, r, p, row, m, old, rev.Manifest, req.DryRun)
}

func (s *Server) deletePipeline(w http.ResponseWriter, r *http.Request, p *principal) error {
	row, err := s.getPipelineRow(r)
	if err != nil {
		return err
	}
	if err := checkETag(r, pipelineETag(row), "pipeline"); err != nil {
		return err
	}
	if err := s.st.Pipelines().Delete(r.Context(), row.Name); err != nil {
		return storeErr(err, "pipeline")
	}
	if s.pipelines != nil {
		s.pipelines.Deleted(row.Name)
	}
	s.log.Info("pipeline deleted", "pipeline", row.Name, "token", p.tok.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listPipelineRevisions(w http.ResponseWriter, r *http.Request, _ *principal) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if !validPipelineName(name) {
		return notFound("pipeline")
	}
	scope := "pipeline_revisions\x00" + name
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	var before int64
	if after != "" {
		if before, err = strconv.ParseInt(after, 10, 64); err != nil {
			return paramErr("cursor", "cursor is not one this server issued")
		}
	}
	revs, more, err := s.st.Pipelines().Revisions(r.Context(), name, limit, before)
	if err != nil {
		return storeErr(err, "pipeline")
	}
	out := make([]revisionJSON, 0, len(revs))
	for _, v := range revs {
		out = append(out, revisionJSON{Generation: v.Generation, Manifest: json.RawMessage(v.Manifest), CreatedAt: jsontime.Of(v.CreatedAt)})
	}
	resp := listResponse{Data: out}
	if more && len(revs) > 0 {
		resp.NextCursor = s.cursors.encode(scope, strconv.FormatInt(revs[len(revs)-1].Generation, 10))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// boolParam reads an optional true|false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, paramErr(name, name+" must be true or false")
}

func pipelinesOperations() map[string]operation {
	nameP := param("name", "path", "The pipeline's metadata.name.", obj{"type": "string"}, true)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page.", obj{"type": "string"}, false)
	dry := param("dry_run", "query", "true: answer the plan, store nothing.", obj{"type": "boolean", "default": false}, false)
	pl := ref("Pipeline")
	return map[string]operation{
		"GET /v1/pipelines": {id: "listPipelines", summary: "Pipelines by name.", scope: ScopeLiveInputsRead,
			params: []obj{limit, cursor}, ok: 200, okSchema: listOf(pl), errs: []int{400}},
		"POST /v1/pipelines": {id: "createPipeline", summary: "Create a pipeline from a manifest (YAML or JSON); 409 when its name exists or another pipeline binds one of its live inputs. Every problem of an invalid manifest is listed in details.errors.", scope: ScopeLiveInputsWrite,
			params: []obj{idem}, body: ref("PipelineManifest"), bodyTypes: manifestTypes, ok: 201, okSchema: dataOf(pl), extraHeaders: etagHeader(), errs: []int{400, 409}},
		"GET /v1/pipelines/{name}": {id: "getPipeline", summary: "Get a pipeline: its manifest, generation, observed_generation and every node's state as its live inputs' graphs run it.", scope: ScopeLiveInputsRead,
			params: []obj{nameP}, ok: 200, okSchema: dataOf(ref("PipelineWithStatus")), extraHeaders: etagHeader(), errs: []int{404}},
		"GET /v1/live_inputs/{id}/pipeline": {id: "getLiveInputPipeline", summary: "The graph a live input runs (or will run when it goes live) as a manifest: its pipeline's, or the default graph built from its settings; with every node's state.", scope: ScopeLiveInputsRead,
			params: []obj{param("id", "path", "The live input id.", obj{"type": "string"}, true)}, ok: 200, okSchema: dataOf(ref("EffectivePipeline")), errs: []int{404, 501}},
		"GET /v1/live_inputs/{id}/thumbnail.jpg": {id: "getLiveThumbnail", summary: "The newest JPEG (image/jpeg) made by the thumbnail nodes of the live input's pipeline; it stays after the broadcast ends. 404 when none was made.", scope: ScopeLiveInputsRead,
			params: []obj{param("id", "path", "The live input id.", obj{"type": "string"}, true)}, ok: 200, errs: []int{404}},
		"PUT /v1/pipelines/{name}": {id: "applyPipeline", summary: "Apply a whole manifest (created when absent): the generation grows only when the manifest changes; the answer carries the plan. ?dry_run=true plans only.", scope: ScopeLiveInputsWrite,
			params: []obj{nameP, dry, ifMatchParam()}, body: ref("PipelineManifest"), bodyTypes: manifestTypes, ok: 200, okSchema: dataOf(ref("PipelineApply")), extraHeaders: etagHeader(), errs: []int{400, 404, 409, 412}},
		"DELETE /v1/pipelines/{name}": {id: "deletePipeline", summary: "Delete a pipeline and its revisions.", scope: ScopeLiveInputsWrite,
			params: []obj{nameP, ifMatchParam()}, ok: 204, errs: []int{404, 412}},
		"GET /v1/pipelines/{name}/revisions": {id: "listPipelineRevisions", summary: "Every stored generation of a pipeline, newest first.", scope: ScopeLiveInputsRead,
			params: []obj{nameP, limit, cursor}, ok: 200, okSchema: listOf(ref("PipelineRevision")), errs: []int{400, 404}},
		"POST /v1/pipelines/{name}/rollback": {id: "rollbackPipeline", summary: "Apply the manifest of an earlier generation as the next generation.", scope: ScopeLiveInputsWrite,
			params: []obj{nameP, idem, ifMatchParam()}, body: ref("PipelineRollback"), ok: 200, okSchema: dataOf(ref("PipelineApply")), extraHeaders: etagHeader(), errs: []int{400, 404, 412}},
	}
}

func pipelinesSchemas() obj {
	node := object(obj{
		"id":     str("Unique in the pipeline: 1 to 63 of a-z, 0-9, _ and -."),
		"type":   obj{"type": "string", "enum": manifest.Default().Names(), "description": "The node type."},
		"inputs": obj{"type": "array", "items": obj{"type": "string"}, "description": "Ports read: `node` or `node.rendition`."},
		"when":   str("A CEL condition on the source, evaluated at go-live: `source.video.height >= 720`. Facts: source.video.{height,width,codec,fps}, source.audio.{codec,channels,sample_rate}, source.{protocol,live_input,has_video,has_audio}."),
		"on":     obj{"type": "array", "items": obj{"type": "string"}, "description": "Events that trigger the node: `node.event`."},
		"config": obj{"type": "object", "description": "Checked by the node type."},
	}, "id", "type")
	man := object(obj{
		"api_version": obj{"type": "string", "enum": []string{manifest.APIVersion}},
		"kind":        obj{"type": "string", "enum": []string{manifest.KindPipeline}},
		"metadata": object(obj{
			"name":   str("A DNS label; the pipeline's key."),
			"labels": obj{"type": "object", "additionalProperties": obj{"type": "string"}},
		}, "name"),
		"spec": object(obj{"nodes": arrayOf(node)}, "nodes"),
	}, "api_version", "kind", "metadata", "spec")
	change := object(obj{
		"node":   str("The node id."),
		"type":   str("Its type (the new one when replaced)."),
		"action": obj{"type": "string", "enum": []string{string(manifest.Create), string(manifest.Update), string(manifest.Replace), string(manifest.Delete), string(manifest.Unchanged)}},
		"fields": obj{"type": "array", "items": obj{"type": "string"}, "description": "What an update changes (inputs, when, on, config.FIELD); never values."},
		"impact": obj{"type": "string", "enum": []string{string(manifest.ImpactNone), string(manifest.ImpactHot), string(manifest.ImpactRestart)},
			"description": "none: untouched; hot: changed in place, viewers and other nodes untouched; restart: the node restarts (an update with impact restart is a restart)."},
		"restarts":     obj{"type": "array", "items": obj{"type": "string"}, "description": "Ports and nodes restarted with this node (a ladder's rungs and what reads them)."},
		"restarted_by": obj{"type": "array", "items": obj{"type": "string"}, "description": "The changed nodes this one restarts with."},
	}, "node", "type", "action", "impact")
	return obj{
		"PipelineManifest": man,
		"Pipeline": object(obj{
			"name":       str("metadata.name."),
			"generation": integer("1 at creation; grows by one at every change of the manifest."),
			"manifest":   man,
			"created_at": dateTime("Creation time."),
			"updated_at": dateTime("When the current generation was stored."),
		}, "name", "generation", "manifest", "created_at", "updated_at"),
		"PipelineRevision": object(obj{
			"generation": integer("The generation."),
			"manifest":   man,
			"created_at": dateTime("When it was stored."),
		}, "generation", "manifest", "created_at"),
		"PipelineRollback": object(obj{
			"generation": integer("The generation whose manifest becomes the next one."),
			"dry_run":    boolean("Answer the plan, store nothing."),
		}, "generation"),
		"PipelineApply": object(obj{
			"pipeline": obj{"oneOf": []obj{pl(), {"type": "null"}}, "description": "The pipeline after the change; null on a dry run of a new one."},
			"plan": object(obj{
				"changes":          arrayOf(change),
				"metadata_changed": boolean("The labels differ."),
				"text":             str("The plan for people, one line per node."),
			}, "changes", "metadata_changed", "text"),
			"dry_run": boolean("Nothing was stored."),
			"changed": boolean("The manifest differs from the stored one (a new generation unless dry_run)."),
		}, "pipeline", "plan", "dry_run", "changed"),
	}
}

func pl() obj { return ref("Pipeline") }
