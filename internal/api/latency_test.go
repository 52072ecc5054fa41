package api

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLatency measures the API under 50 concurrent Go clients: GET one live
// input and POST create, p50/p99, per store, plus a full paged list. Set
// MPEGFLOW_API_LOAD_SECONDS (e.g. 30) to run it.
func TestLatency(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("MPEGFLOW_API_LOAD_SECONDS"))
	if secs <= 0 {
		t.Skip("set MPEGFLOW_API_LOAD_SECONDS to run the latency measurement")
	}
	const clients = 50
	forEachStore(t, func(t *testing.T, e *env) {
		id := e.create(map[string]any{"name": "bench"})["id"].(string)
		tr := &http.Transport{MaxIdleConnsPerHost: clients}
		hc := &http.Client{Transport: tr}
		run := func(name string, mk func() *http.Request, want int) {
			var mu sync.Mutex
			var lat []time.Duration
			errs := 0
			stop := time.Now().Add(time.Duration(secs) * time.Second)
			var wg sync.WaitGroup
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					bad := 0
					for time.Now().Before(stop) {
						req := mk()
						t0 := time.Now()
						res, err := hc.Do(req)
						if err == nil {
							_, _ = drain(res)
							if res.StatusCode != want {
								bad++
							}
						} else {
							bad++
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					errs += bad
					mu.Unlock()
				}()
			}
			wg.Wait()
			slices.Sort(lat)
			p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
			t.Logf("%s: %d requests in %ds (%.0f/s), p50 %v p99 %v, errors %d", name, len(lat), secs,
				float64(len(lat))/float64(secs), p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), errs)
		}
		run("GET one", func() *http.Request {
			r, _ := http.NewRequest("GET", e.hs.URL+"/v1/live_inputs/"+id, nil)
			r.Header.Set("Authorization", "Bearer "+e.admin)
			return r
		}, 200)
		run("POST create", func() *http.Request {
			r, _ := http.NewRequest("POST", e.hs.URL+"/v1/live_inputs", strings.NewReader(`{"name":"load"}`))
			r.Header.Set("Authorization", "Bearer "+e.admin)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 201)
		// Page through everything.
		t0 := time.Now()
		n, cursor := 0, ""
		for {
			r := e.do("GET", "/v1/live_inputs?limit=1000&cursor="+cursor, e.admin, nil).want(t, 200, "")
			n += len(r.list())
			c, _ := r.JSON["next_cursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
		el := time.Since(t0)
		t.Logf("list: %d live inputs in %v (%.0f/s)", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	})
}

func drain(res *http.Response) (int64, error) {
	defer res.Body.Close()
	var n int64
	buf := make([]byte, 8192)
	for {
		m, err := res.Body.Read(buf)
		n += int64(m)
		if err != nil {
			return n, nil
		}
	}
}
