package rpc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// env is the REST API and its gRPC front end on one h2c HTTP server, as
// the daemon serves them.
type env struct {
	url, admin string
	hc         *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := api.BootstrapAdmin(context.Background(), db.Tokens(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	a, err := api.New(api.Config{Store: db, Bus: bus, Endpoints: api.Endpoints{RTMP: ":1935"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", a.Handler())
	for _, rt := range New(a, nil).Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	hs := httptest.NewUnstartedServer(mux)
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	t.Cleanup(func() { hs.Close(); _ = a.Close(); bus.Close(); _ = db.Close() })
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &env{url: hs.URL, admin: b.Generated, hc: &http.Client{Transport: tr}}
}

func bearer(tok string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}))
}

func wantCode(t *testing.T, err error, code connect.Code, apiCode string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("error %v, want %v", err, code)
	}
	if d := ErrorDetailOf(err); d == nil || d.Code != apiCode {
		t.Fatalf("error detail %v, want code %s", d, apiCode)
	}
}

func TestLiveInputsOverGRPC(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, proto := range []struct {
		name string
		opt  connect.ClientOption
	}{{"grpc", connect.WithGRPC()}, {"grpc-web", connect.WithGRPCWeb()}, {"connect", connect.WithProtoJSON()}} {
		t.Run(proto.name, func(t *testing.T) {
			c := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, proto.opt, bearer(e.admin))
			name := "stage " + proto.name
			cr, err := c.CreateLiveInput(ctx, connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{Name: &name}))
			if err != nil {
				t.Fatal(err)
			}
			li := cr.Msg.GetLiveInput()
			if li.GetName() != name || !strings.HasPrefix(li.GetRtmp().GetStreamKey(), "sk_") || li.GetCreatedAt().AsTime().IsZero() || cr.Msg.GetEtag() != `"1"` {
				t.Fatalf("created %v", cr.Msg)
			}
			g, err := c.GetLiveInput(ctx, connect.NewRequest(&mpegflowv1.GetLiveInputRequest{Id: li.GetId()}))
			if err != nil || g.Msg.GetLiveInput().GetId() != li.GetId() || g.Msg.GetLiveInput().GetPlayback().GetHls() == "" {
				t.Fatalf("get %v %v", g, err)
			}
			patch, _ := structpb.NewStruct(map[string]any{"name": "renamed"})
			u, err := c.UpdateLiveInput(ctx, connect.NewRequest(&mpegflowv1.UpdateLiveInputRequest{Id: li.GetId(), Etag: cr.Msg.GetEtag(), Patch: patch}))
			if err != nil || u.Msg.GetLiveInput().GetName() != "renamed" || u.Msg.GetEtag() != `"2"` {
				t.Fatalf("update %v %v", u, err)
			}
			// the same validation and preconditions as REST, with the REST code
			_, err = c.UpdateLiveInput(ctx, connect.NewRequest(&mpegflowv1.UpdateLiveInputRequest{Id: li.GetId(), Etag: cr.Msg.GetEtag(), Patch: patch}))
			wantCode(t, err, connect.CodeFailedPrecondition, api.CodePreconditionFailed)
			bad, _ := structpb.NewStruct(map[string]any{"recording": map[string]any{"mode": "sometimes"}})
			_, err = c.UpdateLiveInput(ctx, connect.NewRequest(&mpegflowv1.UpdateLiveInputRequest{Id: li.GetId(), Patch: bad}))
			wantCode(t, err, connect.CodeInvalidArgument, api.CodeValidation)
			_, err = c.DeleteLiveInput(ctx, connect.NewRequest(&mpegflowv1.DeleteLiveInputRequest{Id: li.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetLiveInput(ctx, connect.NewRequest(&mpegflowv1.GetLiveInputRequest{Id: li.GetId()}))
			wantCode(t, err, connect.CodeNotFound, api.CodeNotFound)
		})
	}
	// paging: the REST cursors
	c := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	for range 3 {
		if _, err := c.CreateLiveInput(ctx, connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	seen, cursor := 0, ""
	for page := 0; page < 10; page++ {
		l, err := c.ListLiveInputs(ctx, connect.NewRequest(&mpegflowv1.ListLiveInputsRequest{Limit: 2, Cursor: cursor}))
		if err != nil {
			t.Fatal(err)
		}
		seen += len(l.Msg.GetData())
		if cursor = l.Msg.GetNextCursor(); cursor == "" {
			break
		}
	}
	if seen != 3 {
		t.Fatalf("paged %d live inputs, want 3", seen)
	}
	_, err := c.ListLiveInputs(ctx, connect.NewRequest(&mpegflowv1.ListLiveInputsRequest{Cursor: "bogus"}))
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeInvalidCursor)
	// tokens and scopes as REST
	anon := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC())
	_, err = anon.ListLiveInputs(ctx, connect.NewRequest(&mpegflowv1.ListLiveInputsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, api.CodeUnauthorized)
}

func TestWatchEvents(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ev := mpegflowv1connect.NewEventServiceClient(e.hc, e.url, connect.WithGRPC())
	req := connect.NewRequest(&mpegflowv1.WatchEventsRequest{Types: []string{"live_input.created"}})
	req.Header().Set("Authorization", "Bearer "+e.admin)
	stream, err := ev.WatchEvents(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	// the headers arrive once the subscription exists
	if _, err := stream.Conn(); err != nil {
		t.Fatal(err)
	}
	c := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	name := "watched"
	cr, err := c.CreateLiveInput(ctx, connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{Name: &name}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no event: %v", stream.Err())
	}
	m := stream.Msg()
	if m.GetType() != "live_input.created" || m.GetLiveInputId() != cr.Msg.GetLiveInput().GetId() || m.GetTime().AsTime().IsZero() ||
		m.GetData().GetStructValue().GetFields()["name"].GetStringValue() != name {
		t.Fatalf("event %v", m)
	}
	// an unknown type: the REST validation
	bad := connect.NewRequest(&mpegflowv1.WatchEventsRequest{Types: []string{"live_input.bogus"}})
	bad.Header().Set("Authorization", "Bearer "+e.admin)
	s2, err := ev.WatchEvents(ctx, bad)
	if err == nil {
		for s2.Receive() {
		}
		err = s2.Err()
	}
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeInvalidParameter)
}

func TestHealthAndReflection(t *testing.T) {
	e := newEnv(t)
	// grpc.health.v1 over the Connect protocol (JSON), for every service
	for _, svc := range []string{mpegflowv1connect.LiveInputServiceName, mpegflowv1connect.EventServiceName,
		mpegflowv1connect.VideoServiceName, mpegflowv1connect.WebhookServiceName, mpegflowv1connect.TokenServiceName,
		mpegflowv1connect.SigningKeyServiceName, mpegflowv1connect.SessionServiceName, mpegflowv1connect.OutputServiceName, mpegflowv1connect.PipelineServiceName} {
		res, err := e.hc.Post(e.url+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(`{"service":"`+svc+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "SERVING") {
			t.Fatalf("health of %s: %d %s", svc, res.StatusCode, b)
		}
	}
	var patterns []string
	for _, rt := range New(nil, nil).Routes() {
		patterns = append(patterns, rt.Pattern)
	}
	for _, want := range []string{"/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/", "/mpegflow.v1.EventService/"} {
		if !strings.Contains(strings.Join(patterns, " "), want) {
			t.Errorf("%s not mounted: %v", want, patterns)
		}
	}
}
