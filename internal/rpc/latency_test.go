package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// latencyClients is the number of concurrent clients of TestLatency.
const latencyClients = 50

// TestLatency measures REST (HTTP/1.1, keep-alive, a connection per
// client) against gRPC (h2c: the 50 clients multiplexed on one connection,
// as one gRPC client process would, and with a connection each) on one
// server, 50 concurrent clients each: the same three calls (GET one live
// input, a page of 50 live inputs, create then revoke an API token),
// p50/p99 per call; then the delivery of events to 50 subscribers, over
// gRPC WatchEvents and over the WebSocket /v1/events, timed from the start
// of the create call whose live_input.created event it is to its arrival
// (the creating client has a connection of its own). The three ways of
// one call take turns in 5 s rounds.
// Set MPEGFLOW_API_LOAD_SECONDS (e.g. 30) to run it; each phase lasts that
// long:
//
//	MPEGFLOW_API_LOAD_SECONDS=30 go test -run TestLatency -v ./internal/rpc/
func TestLatency(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("MPEGFLOW_API_LOAD_SECONDS"))
	if secs <= 0 {
		t.Skip("set MPEGFLOW_API_LOAD_SECONDS to run the latency measurement")
	}
	dur := time.Duration(secs) * time.Second
	e := newEnv(t)
	ctx := t.Context()
	lic := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	tc := mpegflowv1connect.NewTokenServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	var id string
	for range 60 {
		cr, err := lic.CreateLiveInput(ctx, connect.NewRequest(&v1.CreateLiveInputRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		id = cr.Msg.GetLiveInput().GetId()
	}
	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: latencyClients}}
	t.Cleanup(h1.CloseIdleConnections)
	rest := func(method, path, body string, want int) (map[string]any, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r, _ := http.NewRequestWithContext(ctx, method, e.url+path, rd)
		r.Header.Set("Authorization", "Bearer "+e.admin)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		res, err := h1.Do(r)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != want {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		var v map[string]any
		if len(b) > 0 {
			err = json.Unmarshal(b, &v)
		}
		return v, err
	}
	tokenBody := `{"name":"bench","scopes":["live_inputs:read"]}`
	type grpcClients struct {
		lic mpegflowv1connect.LiveInputServiceClient
		tc  mpegflowv1connect.TokenServiceClient
	}
	// own is a client of its own h2c connection.
	own := func() (grpcClients, func()) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		hc := &http.Client{Transport: tr}
		return grpcClients{mpegflowv1connect.NewLiveInputServiceClient(hc, e.url, connect.WithGRPC(), bearer(e.admin)),
			mpegflowv1connect.NewTokenServiceClient(hc, e.url, connect.WithGRPC(), bearer(e.admin))}, tr.CloseIdleConnections
	}
	shared := grpcClients{lic, tc}
	for _, c := range []struct {
		name string
		rest func() error
		grpc func(grpcClients) error
	}{
		{"get live input",
			func() error { _, err := rest("GET", "/v1/live_inputs/"+id, "", 200); return err },
			func(g grpcClients) error {
				_, err := g.lic.GetLiveInput(ctx, connect.NewRequest(&v1.GetLiveInputRequest{Id: id}))
				return err
			}},
		{"list live inputs (limit 50)",
			func() error { _, err := rest("GET", "/v1/live_inputs?limit=50", "", 200); return err },
			func(g grpcClients) error {
				_, err := g.lic.ListLiveInputs(ctx, connect.NewRequest(&v1.ListLiveInputsRequest{Limit: 50}))
				return err
			}},
		{"create + revoke API token",
			func() error {
				v, err := rest("POST", "/v1/tokens", tokenBody, 201)
				if err != nil {
					return err
				}
				tid, _ := v["data"].(map[string]any)["id"].(string)
				_, err = rest("DELETE", "/v1/tokens/"+tid, "", 204)
				return err
			},
			func(g grpcClients) error {
				cr, err := g.tc.CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Name: "bench", Scopes: []string{"live_inputs:read"}}))
				if err != nil {
					return err
				}
				_, err = g.tc.RevokeToken(ctx, connect.NewRequest(&v1.RevokeTokenRequest{Id: cr.Msg.GetToken().GetId()}))
				return err
			}},
	} {
		if err := c.rest(); err != nil {
			t.Fatalf("REST %s: %v", c.name, err)
		}
		if err := c.grpc(shared); err != nil {
			t.Fatalf("gRPC %s: %v", c.name, err)
		}
		// The variants take turns in 5 s rounds, so that the load of the
		// host's other work falls on all of them alike.
		variants := []struct {
			name string
			mk   func() (func() error, func())
		}{
			{"REST", func() (func() error, func()) { return c.rest, func() {} }},
			{"gRPC, one connection,", func() (func() error, func()) { return func() error { return c.grpc(shared) }, func() {} }},
			{"gRPC, a connection per client,", func() (func() error, func()) {
				g, done := own()
				return func() error { return c.grpc(g) }, done
			}},
		}
		lats, errs := make([][]time.Duration, len(variants)), make([]int, len(variants))
		rounds := max(1, secs/5)
		for range rounds {
			for i, v := range variants {
				l, n := hammer(dur/time.Duration(rounds), v.mk)
				lats[i], errs[i] = append(lats[i], l...), errs[i]+n
			}
		}
		for i, v := range variants {
			reportLatency(t, v.name+" "+c.name, dur, lats[i], errs[i])
		}
	}
	producer, done := own()
	defer done()

	ev := mpegflowv1connect.NewEventServiceClient(e.hc, e.url, connect.WithGRPC())
	watchGRPC := func(ctx context.Context, ready func(), got func(string)) error {
		req := connect.NewRequest(&v1.WatchEventsRequest{Types: []string{"live_input.created"}})
		req.Header().Set("Authorization", "Bearer "+e.admin)
		s, err := ev.WatchEvents(ctx, req)
		if err != nil {
			return err
		}
		defer s.Close()
		if _, err := s.Conn(); err != nil { // the subscription exists once the headers are in
			return err
		}
		ready()
		for s.Receive() {
			got(s.Msg().GetLiveInputId())
		}
		return nil
	}
	ws := "ws" + strings.TrimPrefix(e.url, "http") + "/v1/events?types=live_input.created"
	watchWS := func(ctx context.Context, ready func(), got func(string)) error {
		c, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.admin}}})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		ready() // the subscription exists once the upgrade is answered
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return nil
			}
			var m struct {
				LiveInputID string `json:"live_input_id"`
			}
			if json.Unmarshal(b, &m) == nil {
				got(m.LiveInputID)
			}
		}
	}
	// gRPC and the WebSocket take turns in 5 s rounds too
	var glat, wlat []time.Duration
	gerrs, werrs := 0, 0
	rounds := max(1, secs/5)
	for range rounds {
		l, n := eventLatency(ctx, t, dur/time.Duration(rounds), producer.lic, watchGRPC)
		glat, gerrs = append(glat, l...), gerrs+n
		l, n = eventLatency(ctx, t, dur/time.Duration(rounds), producer.lic, watchWS)
		wlat, werrs = append(wlat, l...), werrs+n
	}
	reportLatency(t, "gRPC WatchEvents (create call start to event on the stream)", dur, glat, gerrs)
	reportLatency(t, "WebSocket /v1/events (create call start to event on the socket)", dur, wlat, werrs)
}

// hammer runs latencyClients clients for d, each making the call mk
// returns (and closing it with the func returned beside) in a loop, and
// returns every call's duration and the number that failed.
func hammer(d time.Duration, mk func() (call func() error, done func())) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range latencyClients {
		wg.Go(func() {
			call, done := mk()
			defer done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(stop) {
				t0 := time.Now()
				if call() != nil {
					bad++
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, errs
}

// eventLatency starts latencyClients subscribers (watch calls ready once
// subscribed, then got with the live input id of every event), creates a
// live input every 20 ms for d, and returns for every event received the
// time from the start of its create call to its arrival.
func eventLatency(ctx context.Context, t *testing.T, d time.Duration, lic mpegflowv1connect.LiveInputServiceClient,
	watch func(ctx context.Context, ready func(), got func(string)) error) ([]time.Duration, int) {
	type arrival struct {
		id string
		at time.Time
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var arrivals []arrival
	var wg sync.WaitGroup
	ready := make(chan error, latencyClients)
	for range latencyClients {
		wg.Go(func() {
			var mine []arrival
			once := sync.OnceFunc(func() { ready <- nil })
			err := watch(wctx, once, func(id string) { mine = append(mine, arrival{id, time.Now()}) })
			if err != nil {
				ready <- err
			}
			mu.Lock()
			arrivals = append(arrivals, mine...)
			mu.Unlock()
		})
	}
	for range latencyClients {
		if err := <-ready; err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("subscribe: %v", err)
		}
	}
	started := map[string]time.Time{}
	errs := 0
	for stop := time.Now().Add(d); time.Now().Before(stop); time.Sleep(20 * time.Millisecond) {
		t0 := time.Now()
		cr, err := lic.CreateLiveInput(ctx, connect.NewRequest(&v1.CreateLiveInputRequest{}))
		if err != nil {
			errs++
			continue
		}
		started[cr.Msg.GetLiveInput().GetId()] = t0
	}
	time.Sleep(time.Second) // the last events in flight
	cancel()
	wg.Wait()
	lat := make([]time.Duration, 0, len(arrivals))
	for _, a := range arrivals {
		if t0, ok := started[a.id]; ok {
			lat = append(lat, a.at.Sub(t0))
		}
	}
	if want := len(started) * latencyClients; len(lat) < want {
		t.Logf("%d of %d events arrived (a slow subscriber drops and counts)", len(lat), want)
	}
	return lat, errs
}

// reportLatency logs one FIGURE line: count, rate, p50, p99, errors.
func reportLatency(t *testing.T, name string, d time.Duration, lat []time.Duration, errs int) {
	t.Helper()
	if len(lat) == 0 {
		t.Fatalf("%s: nothing measured", name)
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	t.Logf("FIGURE %s: %d in %v (%.0f/s), p50 %v p99 %v, errors %d", name, len(lat), d,
		float64(len(lat))/d.Seconds(), p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), errs)
}
