package rpc

import (
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// TestLatencySequential measures one client making the same call N times
// in a row over REST (HTTP/1.1, keep-alive) and over gRPC (h2c): GET of a
// live input (the live input service layer) and of an API token (a route
// run through api.Server.Do). Set MPEGFLOW_API_LATENCY_CALLS (e.g. 1000).
func TestLatencySequential(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MPEGFLOW_API_LATENCY_CALLS"))
	if n <= 0 {
		t.Skip("set MPEGFLOW_API_LATENCY_CALLS to run the latency measurement")
	}
	e := newEnv(t)
	ctx := t.Context()
	lic := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	cr, err := lic.CreateLiveInput(ctx, connect.NewRequest(&v1.CreateLiveInputRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	tc := mpegflowv1connect.NewTokenServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	tk, err := tc.CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Name: "bench", Scopes: []string{"live_inputs:read"}}))
	if err != nil {
		t.Fatal(err)
	}
	liID, tokID := cr.Msg.GetLiveInput().GetId(), tk.Msg.GetToken().GetId()
	measure := func(name string, call func() error) {
		for range 20 { // warm up connections and caches
			_ = call()
		}
		lat := make([]time.Duration, 0, n)
		for range n {
			t0 := time.Now()
			if err := call(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(time.Microsecond) }
		t.Logf("FIGURE %-32s %d calls: p50 %v p95 %v p99 %v", name, n, p(0.50), p(0.95), p(0.99))
	}
	h1 := &http.Client{Transport: &http.Transport{}}
	rest := func(path string) func() error {
		return func() error {
			r, _ := http.NewRequestWithContext(ctx, "GET", e.url+path, nil)
			r.Header.Set("Authorization", "Bearer "+e.admin)
			res, err := h1.Do(r)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, res.Body)
			if res.StatusCode != http.StatusOK {
				return errors.New(res.Status)
			}
			return nil
		}
	}
	measure("REST GET /v1/live_inputs/ID", rest("/v1/live_inputs/"+liID))
	measure("gRPC GetLiveInput", func() error {
		_, err := lic.GetLiveInput(ctx, connect.NewRequest(&v1.GetLiveInputRequest{Id: liID}))
		return err
	})
	measure("REST GET /v1/tokens/ID", rest("/v1/tokens/"+tokID))
	measure("gRPC GetToken", func() error {
		_, err := tc.GetToken(ctx, connect.NewRequest(&v1.GetTokenRequest{Id: tokID}))
		return err
	})
}
