package rpc

import (
	"encoding/json"
	"testing"

	"connectrpc.com/connect"

	"github.com/mpegflow/mpegflow/internal/api"
	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

func TestRESTBody(t *testing.T) {
	b, err := restBody(&v1.MintLiveInputTokenRequest{Id: "li_1", Nbf: 1 << 40, TtlSeconds: 60,
		AccessRules: []*v1.AccessRule{{Type: "any", Action: "block"}}}, "id")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// 64-bit integers are numbers, path fields are left out, names are the REST ones
	if got["nbf"] != float64(1<<40) || got["ttl_seconds"] != float64(60) || got["id"] != nil || len(got["access_rules"].([]any)) != 1 {
		t.Fatalf("body %s", b)
	}
	b, _ = restBody(&v1.CreateDirectUploadRequest{MaxSizeBytes: 5 << 30})
	if string(b) != `{"max_size_bytes":5368709120}` {
		t.Fatalf("body %s", b)
	}
}

// A POST with an Idempotency-Key (gRPC metadata) is REST's: the retry gets
// the first answer, another body with the key is refused.
func TestIdempotencyKeyOverGRPC(t *testing.T) {
	e := newEnv(t)
	c := mpegflowv1connect.NewTokenServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	create := func(name string) (*connect.Response[v1.CreateTokenResponse], error) {
		req := connect.NewRequest(&v1.CreateTokenRequest{Name: name, Scopes: []string{"live_inputs:read"}})
		req.Header().Set("Idempotency-Key", "once")
		return c.CreateToken(t.Context(), req)
	}
	a, err := create("ci")
	if err != nil {
		t.Fatal(err)
	}
	b, err := create("ci")
	if err != nil || b.Msg.GetToken().GetId() != a.Msg.GetToken().GetId() {
		t.Fatalf("replay %v %v, want token %s", b, err, a.Msg.GetToken().GetId())
	}
	_, err = create("other")
	wantCode(t, err, connect.CodeInvalidArgument, api.CodeIdempotencyMismatch)
	// a refusal is kept and replayed as the same error
	for range 2 {
		req := connect.NewRequest(&v1.CreateTokenRequest{Name: "bad", Scopes: []string{"everything"}})
		req.Header().Set("Idempotency-Key", "refused")
		_, err = c.CreateToken(t.Context(), req)
		wantCode(t, err, connect.CodeInvalidArgument, api.CodeValidation)
	}
}
