package rpc

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mpegflow/mpegflow/internal/api"
	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

const pipelineYAML = `api_version: mpegflow.io/v1
kind: Pipeline
metadata: {name: sunday}
spec:
  nodes:
  - {id: cam, type: source.live, config: {live_input: LIVE_INPUT}}
  - id: ladder
    type: transcode.abr
    inputs: [cam]
    config: {renditions: [{name: 720p, height: 720, video_bitrate: 3000k}]}
  - {id: hls, type: package.llhls, inputs: [cam, ladder]}
`

func yamlOf(s string) *v1.ManifestSource {
	return &v1.ManifestSource{Source: &v1.ManifestSource_Yaml{Yaml: s}}
}

// TestPipelinesOverGRPC drives a pipeline's life over gRPC: apply (YAML,
// then the same manifest as JSON), get, plan, If-Match, revisions,
// rollback, validation errors with the REST code and details, delete.
func TestPipelinesOverGRPC(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	li, err := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin)).
		CreateLiveInput(ctx, connect.NewRequest(&v1.CreateLiveInputRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(pipelineYAML, "LIVE_INPUT", li.Msg.GetLiveInput().GetId(), 1)
	c := mpegflowv1connect.NewPipelineServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))

	a, err := c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday", Manifest: yamlOf(doc)}))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Msg.GetChanged() || a.Msg.GetEtag() != `"1"` || a.Msg.GetPipeline().GetGeneration() != 1 || len(a.Msg.GetPlan().GetChanges()) != 3 {
		t.Fatalf("apply: %v", a.Msg)
	}
	g, err := c.GetPipeline(ctx, connect.NewRequest(&v1.GetPipelineRequest{Name: "sunday"}))
	if err != nil {
		t.Fatal(err)
	}
	if g.Msg.GetEtag() != `"1"` || g.Msg.GetPipeline().GetManifest().GetFields()["kind"].GetStringValue() != "Pipeline" || g.Msg.GetPipeline().GetCreatedAt().AsTime().IsZero() {
		t.Fatalf("get: %v", g.Msg)
	}
	// The stored manifest back as JSON: no change, the generation stays.
	same := &v1.ManifestSource{Source: &v1.ManifestSource_Json{Json: g.Msg.GetPipeline().GetManifest()}}
	a, err = c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday", Manifest: same}))
	if err != nil || a.Msg.GetChanged() || a.Msg.GetPipeline().GetGeneration() != 1 {
		t.Fatalf("idempotent apply: %v %v", a, err)
	}

	changed := strings.Replace(doc, "3000k", "2500k", 1) + "  - {id: rec, type: record.vod, inputs: [cam]}\n"
	p, err := c.PlanPipeline(ctx, connect.NewRequest(&v1.PlanPipelineRequest{Name: "sunday", Manifest: yamlOf(changed)}))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Msg.GetDryRun() || !strings.Contains(p.Msg.GetPlan().GetText(), "+ rec (record.vod) will be created") {
		t.Fatalf("plan: %v", p.Msg)
	}
	_, err = c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday", Manifest: yamlOf(changed), Etag: `"7"`}))
	wantCode(t, err, connect.CodeFailedPrecondition, api.CodePreconditionFailed)
	a, err = c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday", Manifest: yamlOf(changed), Etag: `"1"`}))
	if err != nil || a.Msg.GetEtag() != `"2"` || a.Msg.GetPipeline().GetGeneration() != 2 {
		t.Fatalf("apply 2: %v %v", a, err)
	}

	revs, err := c.ListPipelineRevisions(ctx, connect.NewRequest(&v1.ListPipelineRevisionsRequest{Name: "sunday", Limit: 1}))
	if err != nil || len(revs.Msg.GetData()) != 1 || revs.Msg.GetData()[0].GetGeneration() != 2 || revs.Msg.GetNextCursor() == "" {
		t.Fatalf("revisions: %v %v", revs, err)
	}
	rb, err := c.RollbackPipeline(ctx, connect.NewRequest(&v1.RollbackPipelineRequest{Name: "sunday", Generation: 1, Etag: `"2"`}))
	if err != nil {
		t.Fatal(err)
	}
	if rb.Msg.GetPipeline().GetGeneration() != 3 || rb.Msg.GetEtag() != `"3"` || !strings.Contains(rb.Msg.GetPlan().GetText(), "rec (record.vod) will be deleted") {
		t.Fatalf("rollback: %v", rb.Msg)
	}
	_, err = c.RollbackPipeline(ctx, connect.NewRequest(&v1.RollbackPipelineRequest{Name: "sunday"}))
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeValidation)

	// An invalid manifest: every problem in the detail, as REST lists them.
	bad := strings.Replace(doc, "package.llhls", "package.nope", 1)
	_, err = c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday", Manifest: yamlOf(bad)}))
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeValidation)
	if errs := ErrorDetailOf(err).GetDetails().GetFields()["errors"].GetListValue().GetValues(); len(errs) == 0 {
		t.Fatalf("no details.errors: %v", ErrorDetailOf(err))
	}
	_, err = c.ApplyPipeline(ctx, connect.NewRequest(&v1.ApplyPipelineRequest{Name: "sunday"}))
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeValidation)

	l, err := c.ListPipelines(ctx, connect.NewRequest(&v1.ListPipelinesRequest{}))
	if err != nil || len(l.Msg.GetData()) != 1 || l.Msg.GetData()[0].GetName() != "sunday" {
		t.Fatalf("list: %v %v", l, err)
	}
	// The schema is public: no token.
	anon := mpegflowv1connect.NewPipelineServiceClient(e.hc, e.url, connect.WithGRPC())
	s, err := anon.GetPipelineSchema(ctx, connect.NewRequest(&v1.GetPipelineSchemaRequest{}))
	if err != nil || s.Msg.GetSchema().GetFields()["$schema"].GetStringValue() == "" {
		t.Fatalf("schema: %v %v", s, err)
	}
	_, err = anon.ListPipelines(ctx, connect.NewRequest(&v1.ListPipelinesRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, api.CodeUnauthorized)
	// This server runs no pipelines: 501 as REST.
	_, err = c.GetLiveInputPipeline(ctx, connect.NewRequest(&v1.GetLiveInputPipelineRequest{LiveInputId: li.Msg.GetLiveInput().GetId()}))
	wantCode(t, err, connect.CodeUnimplemented, api.CodeNotSupported)

	if _, err := c.DeletePipeline(ctx, connect.NewRequest(&v1.DeletePipelineRequest{Name: "sunday", Etag: `"3"`})); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPipeline(ctx, connect.NewRequest(&v1.GetPipelineRequest{Name: "sunday"}))
	wantCode(t, err, connect.CodeNotFound, api.CodeNotFound)
}
