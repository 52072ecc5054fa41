package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mpegflow/mpegflow/internal/rpc"
	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// grpcEnv is a daemon and a gRPC client setup (HTTP/2 without TLS).
type grpcEnv struct {
	d     *daemon
	admin string
	hc    *http.Client
	opts  []connect.ClientOption
}

func newGRPCEnv(t *testing.T, cfg daemonConfig) *grpcEnv {
	t.Helper()
	d := startDaemon(t, cfg)
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &grpcEnv{d: d, admin: admin, hc: &http.Client{Transport: tr}, opts: []connect.ClientOption{connect.WithGRPC(), bearerAuth(admin)}}
}

// bearerAuth sends tok as the API token of every call.
func bearerAuth(tok string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}))
}

// wantRPCError checks the gRPC code and the REST error code in the detail.
func wantRPCError(t *testing.T, what string, err error, code connect.Code, apiCode string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("%s: error %v, want %v", what, err, code)
	}
	if d := rpc.ErrorDetailOf(err); d == nil || d.GetCode() != apiCode {
		t.Fatalf("%s: error detail %v, want code %s", what, d, apiCode)
	}
}

// result is a call's value and error, to check in one expression:
// try(c.Get(...)).ok(t, "get").
type result[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T, what string) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r.v
}

// TestGRPCServices drives every gRPC service but live inputs' CRUD and
// events (TestGRPCOnTheHTTPPort, internal/rpc) against a real daemon: the
// objects are the REST ones, with the same validation, ETags, pagination
// and error codes.
func TestGRPCServices(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	e := newGRPCEnv(t, daemonConfig{ExtraYAML: "restream:\n  allow_private_targets: true\n", Env: []string{"MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS=1"}})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	li := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.d.URL(""), e.opts...)
	in := try(li.CreateLiveInput(ctx, connect.NewRequest(&v1.CreateLiveInputRequest{Name: ptr("grpc services"), RequireSignedUrls: ptr(true)}))).ok(t, "create live input").Msg
	inID := in.GetLiveInput().GetId()

	t.Run("live input actions", func(t *testing.T) {
		m := try(li.MintLiveInputToken(ctx, connect.NewRequest(&v1.MintLiveInputTokenRequest{Id: inID, TtlSeconds: 60,
			AccessRules: []*v1.AccessRule{{Type: "ip.src", Action: "allow", Ip: []string{"127.0.0.1/32"}}, {Type: "any", Action: "block"}}}))).ok(t, "mint").Msg.GetToken()
		if m.GetToken() == "" || !strings.Contains(m.GetPlayback().GetHls(), m.GetToken()) || time.Until(m.GetExpiresAt().AsTime()) > time.Minute {
			t.Fatalf("minted %v", m)
		}
		// the token plays, as REST's would
		res, err := http.Get(m.GetPlayback().GetHls())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			t.Fatalf("playback with the minted token: HTTP %d", res.StatusCode)
		}
		_, err = li.MintLiveInputToken(ctx, connect.NewRequest(&v1.MintLiveInputTokenRequest{Id: inID, TtlSeconds: 999999}))
		wantRPCError(t, "mint ttl", err, connect.CodeInvalidArgument, "validation_failed")
		_, err = li.RotateLiveInputKey(ctx, connect.NewRequest(&v1.RotateLiveInputKeyRequest{Id: inID, Etag: `"999"`}))
		wantRPCError(t, "rotate stale", err, connect.CodeFailedPrecondition, "precondition_failed")
		r := try(li.RotateLiveInputKey(ctx, connect.NewRequest(&v1.RotateLiveInputKeyRequest{Id: inID, Etag: in.GetEtag()}))).ok(t, "rotate").Msg
		if r.GetLiveInput().GetRtmp().GetStreamKey() == in.GetLiveInput().GetRtmp().GetStreamKey() || r.GetEtag() == in.GetEtag() {
			t.Fatalf("rotate: %v", r)
		}
		_, err = li.CompleteLiveInput(ctx, connect.NewRequest(&v1.CompleteLiveInputRequest{Id: "li_nope"}))
		wantRPCError(t, "complete unknown", err, connect.CodeNotFound, "not_found")
	})

	t.Run("tokens", func(t *testing.T) {
		c := mpegflowv1connect.NewTokenServiceClient(e.hc, e.d.URL(""), e.opts...)
		var ids []string
		for _, n := range []string{"reader a", "reader b", "reader c"} {
			tk := try(c.CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Name: n, Scopes: []string{"live_inputs:read"}}))).ok(t, "create").Msg.GetToken()
			if !strings.HasPrefix(tk.GetToken(), "mf_") || tk.GetCreatedAt().AsTime().IsZero() {
				t.Fatalf("created %v", tk)
			}
			ids = append(ids, tk.GetId())
		}
		// the new token works over gRPC with its scope, and only its scope
		reader := try(c.CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Name: "r", Scopes: []string{"live_inputs:read"}}))).ok(t, "create").Msg.GetToken()
		rc := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.d.URL(""), connect.WithGRPC(), bearerAuth(reader.GetToken()))
		try(rc.GetLiveInput(ctx, connect.NewRequest(&v1.GetLiveInputRequest{Id: inID}))).ok(t, "read with the token")
		_, err := rc.DeleteLiveInput(ctx, connect.NewRequest(&v1.DeleteLiveInputRequest{Id: inID}))
		wantRPCError(t, "write with a read token", err, connect.CodePermissionDenied, "forbidden")
		if n := pageAll(t, func(cursor string) (int, string, error) {
			r, err := c.ListTokens(ctx, connect.NewRequest(&v1.ListTokensRequest{Limit: 2, Cursor: cursor}))
			if err != nil {
				return 0, "", err
			}
			return len(r.Msg.GetData()), r.Msg.GetNextCursor(), nil
		}); n < 4 {
			t.Fatalf("paged %d tokens, want at least 4", n)
		}
		try(c.RevokeToken(ctx, connect.NewRequest(&v1.RevokeTokenRequest{Id: ids[0]}))).ok(t, "revoke")
		g := try(c.GetToken(ctx, connect.NewRequest(&v1.GetTokenRequest{Id: ids[0]}))).ok(t, "get").Msg.GetToken()
		if g.GetRevokedAt() == nil || g.GetToken() != "" {
			t.Fatalf("revoked token %v", g)
		}
		_, err = c.CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Name: "x", Scopes: []string{"everything"}}))
		wantRPCError(t, "bad scope", err, connect.CodeInvalidArgument, "validation_failed")
		_, err = c.ListTokens(ctx, connect.NewRequest(&v1.ListTokensRequest{Cursor: "bogus"}))
		wantRPCError(t, "bad cursor", err, connect.CodeInvalidArgument, "invalid_cursor")
	})

	t.Run("signing keys", func(t *testing.T) {
		c := mpegflowv1connect.NewSigningKeyServiceClient(e.hc, e.d.URL(""), e.opts...)
		k := try(c.CreateSigningKey(ctx, connect.NewRequest(&v1.CreateSigningKeyRequest{}))).ok(t, "generate").Msg.GetSigningKey()
		if !k.GetGenerated() || k.GetPem() == "" || !strings.Contains(k.GetPublicKey(), "PUBLIC KEY") {
			t.Fatalf("generated %v", k)
		}
		g := try(c.GetSigningKey(ctx, connect.NewRequest(&v1.GetSigningKeyRequest{Id: k.GetId()}))).ok(t, "get").Msg.GetSigningKey()
		if g.GetId() != k.GetId() || g.GetPem() != "" {
			t.Fatalf("get %v", g)
		}
		l := try(c.ListSigningKeys(ctx, connect.NewRequest(&v1.ListSigningKeysRequest{}))).ok(t, "list").Msg
		if len(l.GetData()) == 0 {
			t.Fatal("no signing keys listed")
		}
		try(c.RevokeSigningKey(ctx, connect.NewRequest(&v1.RevokeSigningKeyRequest{Id: k.GetId()}))).ok(t, "revoke")
		_, err := c.CreateSigningKey(ctx, connect.NewRequest(&v1.CreateSigningKeyRequest{PublicKey: "not a key"}))
		wantRPCError(t, "bad key", err, connect.CodeInvalidArgument, "validation_failed")
		_, err = c.GetSigningKey(ctx, connect.NewRequest(&v1.GetSigningKeyRequest{Id: "nope"}))
		wantRPCError(t, "unknown key", err, connect.CodeNotFound, "not_found")
	})

	t.Run("sessions", func(t *testing.T) {
		c := mpegflowv1connect.NewSessionServiceClient(e.hc, e.d.URL(""), e.opts...)
		l := try(c.ListSessions(ctx, connect.NewRequest(&v1.ListSessionsRequest{LiveInputId: inID}))).ok(t, "list").Msg
		if len(l.GetData()) != 0 || l.GetNextCursor() != "" {
			t.Fatalf("sessions of an idle input: %v", l)
		}
		_, err := c.ListSessions(ctx, connect.NewRequest(&v1.ListSessionsRequest{LiveInputId: inID, Cursor: "bogus"}))
		wantRPCError(t, "bad cursor", err, connect.CodeInvalidArgument, "invalid_cursor")
		_, err = c.GetSession(ctx, connect.NewRequest(&v1.GetSessionRequest{Id: "ses_nope"}))
		wantRPCError(t, "unknown session", err, connect.CodeNotFound, "not_found")
		_, err = c.KickSession(ctx, connect.NewRequest(&v1.KickSessionRequest{Id: "ses_nope"}))
		wantRPCError(t, "kick unknown", err, connect.CodeNotFound, "not_found")
	})

	t.Run("outputs", func(t *testing.T) {
		c := mpegflowv1connect.NewOutputServiceClient(e.hc, e.d.URL(""), e.opts...)
		o := try(c.CreateOutput(ctx, connect.NewRequest(&v1.CreateOutputRequest{LiveInputId: inID, Url: "rtmp://127.0.0.1:1/live",
			StreamKey: "secret-key-1234", Name: "backup", Enabled: ptr(false)}))).ok(t, "create").Msg
		if o.GetOutput().GetStreamKey() == "secret-key-1234" || o.GetOutput().GetStatus().GetState() == "" || o.GetEtag() == "" {
			t.Fatalf("created %v", o)
		}
		oid := o.GetOutput().GetId()
		patch, _ := structpb.NewStruct(map[string]any{"name": "renamed"})
		u := try(c.UpdateOutput(ctx, connect.NewRequest(&v1.UpdateOutputRequest{LiveInputId: inID, Id: oid, Etag: o.GetEtag(), Patch: patch}))).ok(t, "update").Msg
		if u.GetOutput().GetName() != "renamed" || u.GetEtag() == o.GetEtag() {
			t.Fatalf("updated %v", u)
		}
		_, err := c.UpdateOutput(ctx, connect.NewRequest(&v1.UpdateOutputRequest{LiveInputId: inID, Id: oid, Etag: o.GetEtag(), Patch: patch}))
		wantRPCError(t, "stale update", err, connect.CodeFailedPrecondition, "precondition_failed")
		_, err = c.CreateOutput(ctx, connect.NewRequest(&v1.CreateOutputRequest{LiveInputId: inID, Url: "ftp://x"}))
		wantRPCError(t, "bad url", err, connect.CodeInvalidArgument, "validation_failed")
		if l := try(c.ListOutputs(ctx, connect.NewRequest(&v1.ListOutputsRequest{LiveInputId: inID}))).ok(t, "list").Msg; len(l.GetData()) != 1 {
			t.Fatalf("outputs %v", l)
		}
		try(c.GetOutput(ctx, connect.NewRequest(&v1.GetOutputRequest{LiveInputId: inID, Id: oid}))).ok(t, "get")
		try(c.DeleteOutput(ctx, connect.NewRequest(&v1.DeleteOutputRequest{LiveInputId: inID, Id: oid, Etag: u.GetEtag()}))).ok(t, "delete")
		_, err = c.GetOutput(ctx, connect.NewRequest(&v1.GetOutputRequest{LiveInputId: inID, Id: oid}))
		wantRPCError(t, "deleted", err, connect.CodeNotFound, "not_found")
	})

	t.Run("webhooks", func(t *testing.T) {
		var hits atomic.Int64
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			hits.Add(1)
		}))
		defer recv.Close()
		c := mpegflowv1connect.NewWebhookServiceClient(e.hc, e.d.URL(""), e.opts...)
		cr := try(c.CreateWebhook(ctx, connect.NewRequest(&v1.CreateWebhookRequest{Url: recv.URL, EventTypes: []string{"live_input.updated"}}))).ok(t, "create").Msg
		wh := cr.GetWebhook()
		if !strings.HasPrefix(wh.GetSecret(), "whsec_") || !wh.GetEnabled() || cr.GetEtag() == "" {
			t.Fatalf("created %v", cr)
		}
		_, err := c.CreateWebhook(ctx, connect.NewRequest(&v1.CreateWebhookRequest{Url: recv.URL, EventTypes: []string{"live_input.bogus"}}))
		wantRPCError(t, "bad event type", err, connect.CodeInvalidArgument, "validation_failed")
		g := try(c.GetWebhook(ctx, connect.NewRequest(&v1.GetWebhookRequest{Id: wh.GetId()}))).ok(t, "get").Msg
		if g.GetWebhook().GetSecret() != "" || g.GetEtag() != cr.GetEtag() {
			t.Fatalf("get %v", g)
		}
		patch, _ := structpb.NewStruct(map[string]any{"description": "over gRPC"})
		u := try(c.UpdateWebhook(ctx, connect.NewRequest(&v1.UpdateWebhookRequest{Id: wh.GetId(), Etag: g.GetEtag(), Patch: patch}))).ok(t, "update").Msg
		if u.GetWebhook().GetDescription() != "over gRPC" {
			t.Fatalf("update %v", u)
		}
		_, err = c.UpdateWebhook(ctx, connect.NewRequest(&v1.UpdateWebhookRequest{Id: wh.GetId(), Etag: g.GetEtag(), Patch: patch}))
		wantRPCError(t, "stale update", err, connect.CodeFailedPrecondition, "precondition_failed")
		tr := try(c.TestWebhook(ctx, connect.NewRequest(&v1.TestWebhookRequest{Id: wh.GetId()}))).ok(t, "test").Msg
		if !tr.GetSuccess() || tr.GetStatusCode() != 200 || tr.GetError() != nil {
			t.Fatalf("test %v", tr)
		}
		rs := try(c.RotateWebhookSecret(ctx, connect.NewRequest(&v1.RotateWebhookSecretRequest{Id: wh.GetId()}))).ok(t, "rotate").Msg.GetWebhook()
		if rs.GetSecret() == wh.GetSecret() || rs.GetPreviousSecretExpiresAt() == nil {
			t.Fatalf("rotated %v", rs)
		}
		// an event to deliver: the live input changes
		p2, _ := structpb.NewStruct(map[string]any{"name": "renamed for the webhook"})
		try(li.UpdateLiveInput(ctx, connect.NewRequest(&v1.UpdateLiveInputRequest{Id: inID, Patch: p2}))).ok(t, "update input")
		var d *v1.WebhookDelivery
		for deadline := time.Now().Add(30 * time.Second); d == nil; time.Sleep(100 * time.Millisecond) {
			l := try(c.ListDeliveries(ctx, connect.NewRequest(&v1.ListDeliveriesRequest{Id: wh.GetId(), Limit: 10}))).ok(t, "deliveries").Msg
			for _, x := range l.GetData() {
				if x.GetType() == "live_input.updated" && x.GetStatus() == "succeeded" {
					d = x
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no succeeded delivery: %v", l)
			}
		}
		gd := try(c.GetDelivery(ctx, connect.NewRequest(&v1.GetDeliveryRequest{Id: wh.GetId(), DeliveryId: d.GetId()}))).ok(t, "get delivery").Msg.GetDelivery()
		if gd.GetEventId() != d.GetEventId() || gd.GetLiveInputId() != inID || gd.GetAttempts() < 1 {
			t.Fatalf("delivery %v", gd)
		}
		rd, err := c.RetryDelivery(ctx, connect.NewRequest(&v1.RetryDeliveryRequest{Id: wh.GetId(), DeliveryId: d.GetId()}))
		if err != nil {
			// a delivery that succeeded may be refused a retry; then with the REST code
			if d := rpc.ErrorDetailOf(err); d == nil || d.GetCode() == "" {
				t.Fatalf("retry: %v", err)
			}
		} else if rd.Msg.GetDelivery().GetId() != d.GetId() {
			t.Fatalf("retry %v", rd.Msg)
		}
		// rotate_secret changed it since the update: delete under the ETag of now
		_, err = c.DeleteWebhook(ctx, connect.NewRequest(&v1.DeleteWebhookRequest{Id: wh.GetId(), Etag: u.GetEtag()}))
		wantRPCError(t, "stale delete", err, connect.CodeFailedPrecondition, "precondition_failed")
		now := try(c.GetWebhook(ctx, connect.NewRequest(&v1.GetWebhookRequest{Id: wh.GetId()}))).ok(t, "get").Msg.GetEtag()
		try(c.DeleteWebhook(ctx, connect.NewRequest(&v1.DeleteWebhookRequest{Id: wh.GetId(), Etag: now}))).ok(t, "delete")
		_, err = c.GetWebhook(ctx, connect.NewRequest(&v1.GetWebhookRequest{Id: wh.GetId()}))
		wantRPCError(t, "deleted", err, connect.CodeNotFound, "not_found")
	})

	t.Run("videos", func(t *testing.T) {
		c := mpegflowv1connect.NewVideoServiceClient(e.hc, e.d.URL(""), e.opts...)
		meta, _ := structpb.NewStruct(map[string]any{"title": "from gRPC"})
		du := try(c.CreateDirectUpload(ctx, connect.NewRequest(&v1.CreateDirectUploadRequest{MaxSizeBytes: 5 << 30, MaxDurationSeconds: 600, Meta: meta}))).ok(t, "direct upload").Msg
		vid := du.GetVideo().GetId()
		if du.GetUploadUrl() == "" || vid == "" || du.GetVideo().GetStatus() != "pendingupload" {
			t.Fatalf("direct upload %v", du)
		}
		up := try(c.GetUpload(ctx, connect.NewRequest(&v1.GetUploadRequest{Id: vid}))).ok(t, "upload").Msg.GetUpload()
		if up.GetKind() != "direct" || up.GetMaxSizeBytes() != 5<<30 {
			t.Fatalf("upload %v", up)
		}
		g := try(c.GetVideo(ctx, connect.NewRequest(&v1.GetVideoRequest{Id: vid}))).ok(t, "get").Msg
		if g.GetVideo().GetMeta().GetFields()["title"].GetStringValue() != "from gRPC" || g.GetEtag() == "" {
			t.Fatalf("get %v", g)
		}
		patch, _ := structpb.NewStruct(map[string]any{"meta": map[string]any{"title": "renamed"}})
		u := try(c.UpdateVideo(ctx, connect.NewRequest(&v1.UpdateVideoRequest{Id: vid, Etag: g.GetEtag(), Patch: patch}))).ok(t, "update").Msg
		if u.GetVideo().GetMeta().GetFields()["title"].GetStringValue() != "renamed" {
			t.Fatalf("update %v", u)
		}
		_, err := c.UpdateVideo(ctx, connect.NewRequest(&v1.UpdateVideoRequest{Id: vid, Etag: g.GetEtag(), Patch: patch}))
		wantRPCError(t, "stale update", err, connect.CodeFailedPrecondition, "precondition_failed")
		l := try(c.ListVideos(ctx, connect.NewRequest(&v1.ListVideosRequest{Status: "pendingupload", Limit: 10}))).ok(t, "list").Msg
		if len(l.GetData()) != 1 || l.GetData()[0].GetId() != vid {
			t.Fatalf("list %v", l)
		}
		_, err = c.ListVideos(ctx, connect.NewRequest(&v1.ListVideosRequest{Status: "sometimes"}))
		wantRPCError(t, "bad status", err, connect.CodeInvalidArgument, "invalid_parameter")
		_, err = c.CreateClip(ctx, connect.NewRequest(&v1.CreateClipRequest{Id: vid, StartSeconds: 0, EndSeconds: 1}))
		if connect.CodeOf(err) != connect.CodeFailedPrecondition && connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("clip of a video without media: %v", err)
		}
		try(c.DeleteVideo(ctx, connect.NewRequest(&v1.DeleteVideoRequest{Id: vid, Etag: u.GetEtag()}))).ok(t, "delete")
		_, err = c.GetVideo(ctx, connect.NewRequest(&v1.GetVideoRequest{Id: vid}))
		wantRPCError(t, "deleted", err, connect.CodeNotFound, "not_found")
	})
}

// pageAll pages a list to its end and returns how many items it saw.
func pageAll(t *testing.T, list func(cursor string) (int, string, error)) int {
	t.Helper()
	n, cursor := 0, ""
	for range 100 {
		k, next, err := list(cursor)
		if err != nil {
			t.Fatal(err)
		}
		n += k
		if cursor = next; cursor == "" {
			return n
		}
	}
	t.Fatal("the pages do not end")
	return n
}

func ptr[T any](v T) *T { return &v }
