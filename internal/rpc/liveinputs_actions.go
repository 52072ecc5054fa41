package rpc

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
)

func (l liveInputs) RotateLiveInputKey(ctx context.Context, req *connect.Request[v1.RotateLiveInputKeyRequest]) (*connect.Response[v1.RotateLiveInputKeyResponse], error) {
	out := &v1.RotateLiveInputKeyResponse{LiveInput: &v1.LiveInput{}}
	etag, err := l.s.one(ctx, call{route: "POST /v1/live_inputs/{id}/rotate_key", path: id(req.Msg.GetId()), ifMatch: req.Msg.GetEtag()}, out.LiveInput)
	out.Etag = etag
	return reply(out, err)
}

func (l liveInputs) CompleteLiveInput(ctx context.Context, req *connect.Request[v1.CompleteLiveInputRequest]) (*connect.Response[v1.CompleteLiveInputResponse], error) {
	out := &v1.CompleteLiveInputResponse{LiveInput: &v1.LiveInput{}}
	_, err := l.s.one(ctx, call{route: "POST /v1/live_inputs/{id}/complete", path: id(req.Msg.GetId())}, out.LiveInput)
	return reply(out, err)
}

func (l liveInputs) MintLiveInputToken(ctx context.Context, req *connect.Request[v1.MintLiveInputTokenRequest]) (*connect.Response[v1.MintLiveInputTokenResponse], error) {
	out := &v1.MintLiveInputTokenResponse{Token: &v1.MintedToken{}}
	_, err := l.s.one(ctx, call{route: "POST /v1/live_inputs/{id}/token", path: id(req.Msg.GetId()), body: req.Msg, skip: []string{"id"}}, out.Token)
	return reply(out, err)
}
