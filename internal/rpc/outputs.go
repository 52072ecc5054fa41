package rpc

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// outputs is mpegflow.v1.OutputService over the REST routes of
// /v1/live_inputs/{id}/outputs.
type outputs struct{ s *Server }

var _ mpegflowv1connect.OutputServiceHandler = outputs{}

// outputPath is the path of one output of a live input.
func outputPath(liveInput, output string) map[string]string {
	return map[string]string{"id": liveInput, "oid": output}
}

func (o outputs) CreateOutput(ctx context.Context, req *connect.Request[v1.CreateOutputRequest]) (*connect.Response[v1.CreateOutputResponse], error) {
	out := &v1.CreateOutputResponse{Output: &v1.Output{}}
	etag, err := o.s.one(ctx, call{route: "POST /v1/live_inputs/{id}/outputs", path: id(req.Msg.GetLiveInputId()), body: req.Msg, skip: []string{"live_input_id"}}, out.Output)
	out.Etag = etag
	return reply(out, err)
}

func (o outputs) GetOutput(ctx context.Context, req *connect.Request[v1.GetOutputRequest]) (*connect.Response[v1.GetOutputResponse], error) {
	out := &v1.GetOutputResponse{Output: &v1.Output{}}
	etag, err := o.s.one(ctx, call{route: "GET /v1/live_inputs/{id}/outputs/{oid}", path: outputPath(req.Msg.GetLiveInputId(), req.Msg.GetId())}, out.Output)
	out.Etag = etag
	return reply(out, err)
}

func (o outputs) ListOutputs(ctx context.Context, req *connect.Request[v1.ListOutputsRequest]) (*connect.Response[v1.ListOutputsResponse], error) {
	out := &v1.ListOutputsResponse{}
	err := o.s.page(ctx, call{route: "GET /v1/live_inputs/{id}/outputs", path: id(req.Msg.GetLiveInputId()), query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (o outputs) UpdateOutput(ctx context.Context, req *connect.Request[v1.UpdateOutputRequest]) (*connect.Response[v1.UpdateOutputResponse], error) {
	out := &v1.UpdateOutputResponse{Output: &v1.Output{}}
	etag, err := o.s.one(ctx, call{route: "PATCH /v1/live_inputs/{id}/outputs/{oid}", path: outputPath(req.Msg.GetLiveInputId(), req.Msg.GetId()),
		ifMatch: req.Msg.GetEtag(), patch: patchOf(req.Msg.GetPatch())}, out.Output)
	out.Etag = etag
	return reply(out, err)
}

func (o outputs) DeleteOutput(ctx context.Context, req *connect.Request[v1.DeleteOutputRequest]) (*connect.Response[v1.DeleteOutputResponse], error) {
	err := o.s.none(ctx, call{route: "DELETE /v1/live_inputs/{id}/outputs/{oid}", path: outputPath(req.Msg.GetLiveInputId(), req.Msg.GetId()), ifMatch: req.Msg.GetEtag()})
	return reply(&v1.DeleteOutputResponse{}, err)
}
