package rpc

import (
	"context"
	"net/url"
	"strconv"

	"connectrpc.com/connect"

	"github.com/mpegflow/mpegflow/internal/api"
	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// liveInputs is mpegflow.v1.LiveInputService over the API's service layer.
type liveInputs struct{ s *Server }

var _ mpegflowv1connect.LiveInputServiceHandler = liveInputs{}

// view converts a rendered live input.
func (l liveInputs) view(v api.View) (*mpegflowv1.LiveInput, error) {
	li := &mpegflowv1.LiveInput{}
	if err := fromJSON(v.JSON, li); err != nil {
		return nil, l.s.toConnect(err)
	}
	return li, nil
}

func (l liveInputs) CreateLiveInput(ctx context.Context, req *connect.Request[mpegflowv1.CreateLiveInputRequest]) (*connect.Response[mpegflowv1.CreateLiveInputResponse], error) {
	r, c, err := l.s.call(ctx, api.ScopeLiveInputsWrite)
	if err != nil {
		return nil, err
	}
	body, err := toJSON(req.Msg)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	v, err := l.s.api.CreateLiveInput(r, c, body)
	if err != nil {
		return nil, l.s.toConnect(err)
	}
	li, err := l.view(v)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mpegflowv1.CreateLiveInputResponse{LiveInput: li, Etag: v.ETag}), nil
}

func (l liveInputs) GetLiveInput(ctx context.Context, req *connect.Request[mpegflowv1.GetLiveInputRequest]) (*connect.Response[mpegflowv1.GetLiveInputResponse], error) {
	r, c, err := l.s.call(ctx, api.ScopeLiveInputsRead)
	if err != nil {
		return nil, err
	}
	v, err := l.s.api.GetLiveInput(r, c, req.Msg.GetId())
	if err != nil {
		return nil, l.s.toConnect(err)
	}
	li, err := l.view(v)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mpegflowv1.GetLiveInputResponse{LiveInput: li, Etag: v.ETag}), nil
}

func (l liveInputs) ListLiveInputs(ctx context.Context, req *connect.Request[mpegflowv1.ListLiveInputsRequest]) (*connect.Response[mpegflowv1.ListLiveInputsResponse], error) {
	r, c, err := l.s.call(ctx, api.ScopeLiveInputsRead)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if n := req.Msg.GetLimit(); n != 0 {
		q.Set("limit", strconv.Itoa(int(n)))
	}
	for k, v := range map[string]string{"cursor": req.Msg.GetCursor(), "status": req.Msg.GetStatus(), "name": req.Msg.GetName()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	items, next, err := l.s.api.ListLiveInputs(r, c, q)
	if err != nil {
		return nil, l.s.toConnect(err)
	}
	out := &mpegflowv1.ListLiveInputsResponse{NextCursor: next, Data: make([]*mpegflowv1.LiveInput, 0, len(items))}
	for _, b := range items {
		li, err := l.view(api.View{JSON: b})
		if err != nil {
			return nil, err
		}
		out.Data = append(out.Data, li)
	}
	return connect.NewResponse(out), nil
}

func (l liveInputs) UpdateLiveInput(ctx context.Context, req *connect.Request[mpegflowv1.UpdateLiveInputRequest]) (*connect.Response[mpegflowv1.UpdateLiveInputResponse], error) {
	r, c, err := l.s.call(ctx, api.ScopeLiveInputsWrite)
	if err != nil {
		return nil, err
	}
	patch := []byte("{}")
	if p := req.Msg.GetPatch(); p != nil {
		if patch, err = p.MarshalJSON(); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
	}
	v, err := l.s.api.UpdateLiveInput(r, c, req.Msg.GetId(), req.Msg.GetEtag(), patch)
	if err != nil {
		return nil, l.s.toConnect(err)
	}
	li, err := l.view(v)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mpegflowv1.UpdateLiveInputResponse{LiveInput: li, Etag: v.ETag}), nil
}

func (l liveInputs) DeleteLiveInput(ctx context.Context, req *connect.Request[mpegflowv1.DeleteLiveInputRequest]) (*connect.Response[mpegflowv1.DeleteLiveInputResponse], error) {
	r, c, err := l.s.call(ctx, api.ScopeLiveInputsWrite)
	if err != nil {
		return nil, err
	}
	if err := l.s.api.DeleteLiveInput(r, c, req.Msg.GetId(), req.Msg.GetEtag()); err != nil {
		return nil, l.s.toConnect(err)
	}
	return connect.NewResponse(&mpegflowv1.DeleteLiveInputResponse{}), nil
}
