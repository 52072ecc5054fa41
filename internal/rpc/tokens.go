package rpc

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// tokens is mpegflow.v1.TokenService over the REST routes of /v1/tokens.
type tokens struct{ s *Server }

var _ mpegflowv1connect.TokenServiceHandler = tokens{}

func (t tokens) CreateToken(ctx context.Context, req *connect.Request[v1.CreateTokenRequest]) (*connect.Response[v1.CreateTokenResponse], error) {
	out := &v1.CreateTokenResponse{Token: &v1.Token{}}
	_, err := t.s.one(ctx, call{route: "POST /v1/tokens", body: req.Msg}, out.Token)
	return reply(out, err)
}

func (t tokens) GetToken(ctx context.Context, req *connect.Request[v1.GetTokenRequest]) (*connect.Response[v1.GetTokenResponse], error) {
	out := &v1.GetTokenResponse{Token: &v1.Token{}}
	_, err := t.s.one(ctx, call{route: "GET /v1/tokens/{id}", path: id(req.Msg.GetId())}, out.Token)
	return reply(out, err)
}

func (t tokens) ListTokens(ctx context.Context, req *connect.Request[v1.ListTokensRequest]) (*connect.Response[v1.ListTokensResponse], error) {
	out := &v1.ListTokensResponse{}
	err := t.s.page(ctx, call{route: "GET /v1/tokens", query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (t tokens) RevokeToken(ctx context.Context, req *connect.Request[v1.RevokeTokenRequest]) (*connect.Response[v1.RevokeTokenResponse], error) {
	err := t.s.none(ctx, call{route: "DELETE /v1/tokens/{id}", path: id(req.Msg.GetId())})
	return reply(&v1.RevokeTokenResponse{}, err)
}

// signingKeys is mpegflow.v1.SigningKeyService over the REST routes of
// /v1/signing_keys.
type signingKeys struct{ s *Server }

var _ mpegflowv1connect.SigningKeyServiceHandler = signingKeys{}

func (k signingKeys) CreateSigningKey(ctx context.Context, req *connect.Request[v1.CreateSigningKeyRequest]) (*connect.Response[v1.CreateSigningKeyResponse], error) {
	out := &v1.CreateSigningKeyResponse{SigningKey: &v1.SigningKey{}}
	_, err := k.s.one(ctx, call{route: "POST /v1/signing_keys", body: req.Msg}, out.SigningKey)
	return reply(out, err)
}

func (k signingKeys) GetSigningKey(ctx context.Context, req *connect.Request[v1.GetSigningKeyRequest]) (*connect.Response[v1.GetSigningKeyResponse], error) {
	out := &v1.GetSigningKeyResponse{SigningKey: &v1.SigningKey{}}
	_, err := k.s.one(ctx, call{route: "GET /v1/signing_keys/{id}", path: id(req.Msg.GetId())}, out.SigningKey)
	return reply(out, err)
}

func (k signingKeys) ListSigningKeys(ctx context.Context, req *connect.Request[v1.ListSigningKeysRequest]) (*connect.Response[v1.ListSigningKeysResponse], error) {
	out := &v1.ListSigningKeysResponse{}
	err := k.s.page(ctx, call{route: "GET /v1/signing_keys", query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (k signingKeys) RevokeSigningKey(ctx context.Context, req *connect.Request[v1.RevokeSigningKeyRequest]) (*connect.Response[v1.RevokeSigningKeyResponse], error) {
	err := k.s.none(ctx, call{route: "DELETE /v1/signing_keys/{id}", path: id(req.Msg.GetId())})
	return reply(&v1.RevokeSigningKeyResponse{}, err)
}

// sessions is mpegflow.v1.SessionService over the REST session routes.
type sessions struct{ s *Server }

var _ mpegflowv1connect.SessionServiceHandler = sessions{}

func (x sessions) ListSessions(ctx context.Context, req *connect.Request[v1.ListSessionsRequest]) (*connect.Response[v1.ListSessionsResponse], error) {
	out := &v1.ListSessionsResponse{}
	err := x.s.page(ctx, call{route: "GET /v1/live_inputs/{id}/sessions", path: id(req.Msg.GetLiveInputId()), query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (x sessions) GetSession(ctx context.Context, req *connect.Request[v1.GetSessionRequest]) (*connect.Response[v1.GetSessionResponse], error) {
	out := &v1.GetSessionResponse{Session: &v1.Session{}}
	_, err := x.s.one(ctx, call{route: "GET /v1/sessions/{id}", path: id(req.Msg.GetId())}, out.Session)
	return reply(out, err)
}

func (x sessions) KickSession(ctx context.Context, req *connect.Request[v1.KickSessionRequest]) (*connect.Response[v1.KickSessionResponse], error) {
	err := x.s.none(ctx, call{route: "DELETE /v1/sessions/{id}", path: id(req.Msg.GetId())})
	return reply(&v1.KickSessionResponse{}, err)
}
