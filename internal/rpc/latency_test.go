package rpc

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// TestLatency measures, with 50 concurrent clients on one server: GET one
// live input over REST (HTTP/1.1) and over gRPC (h2c), and the delivery
// latency of WatchEvents (event time to receipt, 50 streams) while live
// inputs are created. Set MPEGFLOW_API_LOAD_SECONDS (e.g. 30) to run it.
func TestLatency(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("MPEGFLOW_API_LOAD_SECONDS"))
	if secs <= 0 {
		t.Skip("set MPEGFLOW_API_LOAD_SECONDS to run the latency measurement")
	}
	const clients = 50
	e := newEnv(t)
	ctx := t.Context()
	lic := mpegflowv1connect.NewLiveInputServiceClient(e.hc, e.url, connect.WithGRPC(), bearer(e.admin))
	cr, err := lic.CreateLiveInput(ctx, connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	id := cr.Msg.GetLiveInput().GetId()
	report := func(name string, lat []time.Duration, errs int) {
		slices.Sort(lat)
		if len(lat) == 0 {
			t.Fatalf("%s: nothing measured", name)
		}
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		t.Logf("FIGURE %s: %d in %ds (%.0f/s), p50 %v p99 %v, errors %d", name, len(lat), secs,
			float64(len(lat))/float64(secs), p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), errs)
	}
	load := func(name string, call func() error) {
		var mu sync.Mutex
		var lat []time.Duration
		errs := 0
		stop := time.Now().Add(time.Duration(secs) * time.Second)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
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
		report(name, lat, errs)
	}
	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	load("REST GET /v1/live_inputs/ID", func() error {
		r, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v1/live_inputs/"+id, nil)
		r.Header.Set("Authorization", "Bearer "+e.admin)
		res, err := h1.Do(r)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		buf := make([]byte, 8192)
		for {
			if _, err := res.Body.Read(buf); err != nil {
				break
			}
		}
		return nil
	})
	load("gRPC GetLiveInput", func() error {
		_, err := lic.GetLiveInput(ctx, connect.NewRequest(&mpegflowv1.GetLiveInputRequest{Id: id}))
		return err
	})

	// streaming: 50 watchers, one producer creating live inputs
	ev := mpegflowv1connect.NewEventServiceClient(e.hc, e.url, connect.WithGRPC())
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	ready := make(chan struct{}, clients)
	for range clients {
		wg.Go(func() {
			req := connect.NewRequest(&mpegflowv1.WatchEventsRequest{Types: []string{"live_input.created"}})
			req.Header().Set("Authorization", "Bearer "+e.admin)
			s, err := ev.WatchEvents(wctx, req)
			if err != nil {
				ready <- struct{}{}
				return
			}
			defer s.Close()
			_, _ = s.Conn()
			ready <- struct{}{}
			var mine []time.Duration
			for s.Receive() {
				mine = append(mine, time.Since(s.Msg().GetTime().AsTime()))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	for range clients {
		<-ready
	}
	errs := 0
	for stop := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(stop); time.Sleep(20 * time.Millisecond) {
		if _, err := lic.CreateLiveInput(ctx, connect.NewRequest(&mpegflowv1.CreateLiveInputRequest{})); err != nil {
			errs++
		}
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	report("gRPC WatchEvents delivery (event time to receipt, 50 streams)", lat, errs)
}
