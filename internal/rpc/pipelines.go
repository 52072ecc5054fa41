package rpc

import (
	"context"
	"net/http"
	"net/url"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mpegflow/mpegflow/internal/api"
	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// pipelines is mpegflow.v1.PipelineService over the REST routes of
// /v1/pipelines: the manifest is sent to them as the REST body, YAML or
// JSON, so it is parsed and validated by the same code.
type pipelines struct{ s *Server }

var _ mpegflowv1connect.PipelineServiceHandler = pipelines{}

// name is the {name} path of a pipeline route.
func name(v string) map[string]string { return map[string]string{"name": v} }

// manifestCall is c with the manifest of src as its body.
func manifestCall(c call, src *v1.ManifestSource) (call, error) {
	switch m := src.GetSource().(type) {
	case *v1.ManifestSource_Yaml:
		c.raw, c.contentType = []byte(m.Yaml), "application/yaml"
	case *v1.ManifestSource_Json:
		b, err := m.Json.MarshalJSON()
		if err != nil {
			return c, err
		}
		c.raw, c.contentType = b, "application/json"
	default:
		return c, &api.Error{Status: http.StatusBadRequest, Code: api.CodeValidation,
			Message: "manifest is required: a JSON object (manifest.json) or YAML text (manifest.yaml)",
			Details: map[string]any{"field": "manifest"}}
	}
	return c, nil
}

func (p pipelines) CreatePipeline(ctx context.Context, req *connect.Request[v1.CreatePipelineRequest]) (*connect.Response[v1.CreatePipelineResponse], error) {
	out := &v1.CreatePipelineResponse{Pipeline: &v1.Pipeline{}}
	c, err := manifestCall(call{route: "POST /v1/pipelines"}, req.Msg.GetManifest())
	if err != nil {
		return nil, p.s.toConnect(err)
	}
	out.Etag, err = p.s.one(ctx, c, out.Pipeline)
	return reply(out, err)
}

func (p pipelines) ApplyPipeline(ctx context.Context, req *connect.Request[v1.ApplyPipelineRequest]) (*connect.Response[v1.ApplyPipelineResponse], error) {
	out := &v1.ApplyPipelineResponse{}
	q := url.Values{}
	if req.Msg.GetDryRun() {
		q.Set("dry_run", "true")
	}
	c, err := manifestCall(call{route: "PUT /v1/pipelines/{name}", path: name(req.Msg.GetName()), query: q, ifMatch: req.Msg.GetEtag()}, req.Msg.GetManifest())
	if err != nil {
		return nil, p.s.toConnect(err)
	}
	out.Etag, err = p.s.one(ctx, c, out)
	return reply(out, err)
}

func (p pipelines) PlanPipeline(ctx context.Context, req *connect.Request[v1.PlanPipelineRequest]) (*connect.Response[v1.PlanPipelineResponse], error) {
	out := &v1.PlanPipelineResponse{}
	c, err := manifestCall(call{route: "POST /v1/pipelines/{name}/plan", path: name(req.Msg.GetName())}, req.Msg.GetManifest())
	if err != nil {
		return nil, p.s.toConnect(err)
	}
	out.Etag, err = p.s.one(ctx, c, out)
	return reply(out, err)
}

func (p pipelines) GetPipeline(ctx context.Context, req *connect.Request[v1.GetPipelineRequest]) (*connect.Response[v1.GetPipelineResponse], error) {
	out := &v1.GetPipelineResponse{Pipeline: &v1.Pipeline{}}
	etag, err := p.s.one(ctx, call{route: "GET /v1/pipelines/{name}", path: name(req.Msg.GetName())}, out.Pipeline)
	out.Etag = etag
	return reply(out, err)
}

func (p pipelines) ListPipelines(ctx context.Context, req *connect.Request[v1.ListPipelinesRequest]) (*connect.Response[v1.ListPipelinesResponse], error) {
	out := &v1.ListPipelinesResponse{}
	err := p.s.page(ctx, call{route: "GET /v1/pipelines", query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (p pipelines) ListPipelineRevisions(ctx context.Context, req *connect.Request[v1.ListPipelineRevisionsRequest]) (*connect.Response[v1.ListPipelineRevisionsResponse], error) {
	out := &v1.ListPipelineRevisionsResponse{}
	err := p.s.page(ctx, call{route: "GET /v1/pipelines/{name}/revisions", path: name(req.Msg.GetName()), query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (p pipelines) RollbackPipeline(ctx context.Context, req *connect.Request[v1.RollbackPipelineRequest]) (*connect.Response[v1.RollbackPipelineResponse], error) {
	out := &v1.RollbackPipelineResponse{}
	etag, err := p.s.one(ctx, call{route: "POST /v1/pipelines/{name}/rollback", path: name(req.Msg.GetName()), ifMatch: req.Msg.GetEtag(),
		body: req.Msg, skip: []string{"name", "etag"}}, out)
	out.Etag = etag
	return reply(out, err)
}

func (p pipelines) DeletePipeline(ctx context.Context, req *connect.Request[v1.DeletePipelineRequest]) (*connect.Response[v1.DeletePipelineResponse], error) {
	err := p.s.none(ctx, call{route: "DELETE /v1/pipelines/{name}", path: name(req.Msg.GetName()), ifMatch: req.Msg.GetEtag()})
	return reply(&v1.DeletePipelineResponse{}, err)
}

func (p pipelines) GetPipelineSchema(ctx context.Context, _ *connect.Request[v1.GetPipelineSchemaRequest]) (*connect.Response[v1.GetPipelineSchemaResponse], error) {
	res, err := p.s.run(ctx, call{route: "GET /v1/pipelines/schema.json"})
	if err != nil {
		return nil, err
	}
	schema := &structpb.Struct{}
	if err := schema.UnmarshalJSON(res.Body); err != nil {
		return nil, p.s.toConnect(err)
	}
	return connect.NewResponse(&v1.GetPipelineSchemaResponse{Schema: schema}), nil
}

func (p pipelines) GetLiveInputPipeline(ctx context.Context, req *connect.Request[v1.GetLiveInputPipelineRequest]) (*connect.Response[v1.GetLiveInputPipelineResponse], error) {
	out := &v1.GetLiveInputPipelineResponse{}
	_, err := p.s.one(ctx, call{route: "GET /v1/live_inputs/{id}/pipeline", path: id(req.Msg.GetLiveInputId())}, out)
	return reply(out, err)
}
