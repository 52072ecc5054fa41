package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// TestGRPCOnTheHTTPPort: the daemon serves gRPC (HTTP/2 without TLS) and
// the Connect protocol (HTTP/1.1) on its HTTP port beside REST; a live
// input created over gRPC is the one REST reads, and its event arrives on
// WatchEvents.
func TestGRPCOnTheHTTPPort(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := startDaemon(t, daemonConfig{})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed at first start:\n%s", d.Output())
	}
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	h2c := &http.Client{Transport: tr}
	base := d.URL("")
	auth := func(h http.Header) { h.Set("Authorization", "Bearer "+admin) }

	watch := connect.NewRequest(&mpegflowv1.WatchEventsRequest{Types: []string{"live_input.created"}})
	auth(watch.Header())
	stream, err := mpegflowv1connect.NewEventServiceClient(h2c, base, connect.WithGRPC()).WatchEvents(ctx, watch)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Conn(); err != nil {
		t.Fatal(err)
	}

	name := "over gRPC"
	create := connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{Name: &name})
	auth(create.Header())
	cr, err := mpegflowv1connect.NewLiveInputServiceClient(h2c, base, connect.WithGRPC()).CreateLiveInput(ctx, create)
	if err != nil {
		t.Fatalf("gRPC over h2c: %v", err)
	}
	id := cr.Msg.GetLiveInput().GetId()
	if st, r := apiCall(t, d, admin, "GET", "/v1/live_inputs/"+id, nil); st != http.StatusOK || data(r)["name"] != name {
		t.Fatalf("REST read of the gRPC-created input: HTTP %d %v", st, r)
	}
	if !stream.Receive() || stream.Msg().GetLiveInputId() != id {
		t.Fatalf("WatchEvents: %v %v", stream.Msg(), stream.Err())
	}
	// the Connect protocol over HTTP/1.1 with JSON
	get := connect.NewRequest(&mpegflowv1.GetLiveInputRequest{Id: id})
	auth(get.Header())
	g, err := mpegflowv1connect.NewLiveInputServiceClient(http.DefaultClient, base, connect.WithProtoJSON()).GetLiveInput(ctx, get)
	if err != nil || g.Msg.GetLiveInput().GetName() != name {
		t.Fatalf("Connect GET: %v %v", g, err)
	}
}
