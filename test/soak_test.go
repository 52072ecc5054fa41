package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// Soak test knobs (environment):
//
//	MPEGFLOW_SOAK=1            run TestSoak (off by default: it takes minutes)
//	MPEGFLOW_SOAK_CYCLES=N     publish/unpublish cycles (default 300), a third each over RTMP, SRT and WHIP
//	MPEGFLOW_SOAK_REQUESTS=N   playlist/part requests with random query garbage (default 10 per cycle)
const (
	envSoak         = "MPEGFLOW_SOAK"
	envSoakCycles   = "MPEGFLOW_SOAK_CYCLES"
	envSoakRequests = "MPEGFLOW_SOAK_REQUESTS"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// daemonFootprint is what leaks would grow: goroutines, open files, heap.
type daemonFootprint struct {
	Goroutines int
	FDs        int
	HeapInuse  int64
}

func (f daemonFootprint) String() string {
	return fmt.Sprintf("goroutines %d, fds %d, heap in use %.1f MiB", f.Goroutines, f.FDs, float64(f.HeapInuse)/(1<<20))
}

var (
	goroutineTotalRe = regexp.MustCompile(`goroutine profile: total (\d+)`)
	heapInuseRe      = regexp.MustCompile(`# HeapInuse = (\d+)`)
)

// footprint reads the daemon's goroutine count and heap in use from its
// pprof endpoints on the metrics listener (heap after a forced GC:
// ?gc=1) and counts /proc/PID/fd.
func footprint(ctx context.Context, t *testing.T, d *daemon) daemonFootprint {
	t.Helper()
	httpClient.CloseIdleConnections() // the test's own keep-alive connections are not the daemon's leak
	var f daemonFootprint
	read := func(path string, re *regexp.Regexp) int64 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Metric+path, nil)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		m := re.FindSubmatch(b)
		if m == nil {
			t.Fatalf("GET %s: no %v in the answer", path, re)
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return n
	}
	f.Goroutines = int(read("/debug/pprof/goroutine?debug=1", goroutineTotalRe))
	f.HeapInuse = read("/debug/pprof/heap?gc=1&debug=1", heapInuseRe)
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("open files: %v", err)
	}
	f.FDs = len(ents)
	return f
}

// garbageQuery is a random query string: LL-HLS parameters with bad
// values, unknown parameters, percent-escapes valid and not, long runs.
func garbageQuery(r *rand.Rand) string {
	parts := []string{}
	for range 1 + r.IntN(4) {
		switch r.IntN(6) {
		case 0:
			parts = append(parts, "_HLS_msn="+[]string{"-1", "NaN", "99999999999999999999", "1e9", "", "0x10"}[r.IntN(6)])
		case 1:
			parts = append(parts, "_HLS_part="+[]string{"-5", "abc", "3", "%00", "18446744073709551616"}[r.IntN(5)])
		case 2:
			parts = append(parts, "_HLS_skip="+[]string{"YES", "v2", "no", "%ff"}[r.IntN(4)])
		case 3:
			parts = append(parts, "token="+strings.Repeat("A", r.IntN(3000)))
		case 4:
			b := make([]byte, r.IntN(64))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			parts = append(parts, url.QueryEscape(string(b))+"="+fmt.Sprintf("%%%02x%%zz", r.IntN(256)))
		default:
			parts = append(parts, "time="+[]string{"NaN", "-1", "Inf", "1.5"}[r.IntN(4)])
		}
	}
	return strings.Join(parts, "&")
}

// TestSoak runs publish/unpublish cycles over RTMP, SRT and WHIP (valid
// and wrong keys, graceful and abrupt ends) and playlist/part requests
// with random query garbage, then checks that the daemon's goroutines,
// open files and heap come back to their baseline. Opt-in: MPEGFLOW_SOAK=1.
func TestSoak(t *testing.T) {
	if os.Getenv(envSoak) != "1" {
		t.Skip("set " + envSoak + "=1 to run the soak test (" + envSoakCycles + " sets the cycles)")
	}
	e2eTest(t)
	requireTools(t, "ffmpeg")
	cycles := envInt(t, envSoakCycles, 300)
	perCycle := envInt(t, envSoakRequests, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cycles)*2*time.Second+5*time.Minute)
	defer cancel()
	inRTMP, inSRT, inWHIP, inLive := newInput("soakrtmp"), newInput("soaksrt"), newInput("soakwhip"), newInput("soaklive")
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{
		Inputs: []liveInput{inRTMP, inSRT, inWHIP, inLive}, ReconnectWindow: "1s",
	})
	// one input stays live throughout, for the playlist and part requests
	liveCtx, liveStop := context.WithCancel(ctx)
	livePub := publish(liveCtx, t, d.RTMPURL(inLive.Key), publishOpts{Seconds: float64(cycles)*2 + 600})
	stopLive := sync.OnceFunc(func() { liveStop(); _, _ = livePub.Wait(10 * time.Second) })
	defer stopLive()
	waitFor(ctx, t, 20*time.Second, "the live input's playlist", func() bool {
		f, err := get(ctx, d.PlaylistURL(inLive.ID))
		return err == nil && f.Status == http.StatusOK
	})
	h264, opus := whipMedia(ctx, t, 2)
	rnd := rand.New(rand.NewPCG(1, 2))

	var statuses sync.Map // status code -> *atomic.Int64
	count := func(code int) {
		v, _ := statuses.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	garbageRequests := func(n int) {
		names := liveNames(ctx, d, inLive.ID) // what the player would ask for now
		for range n {
			in := []liveInput{inLive, inLive, inLive, inRTMP, inSRT, inWHIP}[rnd.IntN(6)]
			path := "index.m3u8"
			if in == inLive && len(names) > 0 {
				path = names[rnd.IntN(len(names))]
			}
			u := d.URL("/live/" + in.ID + "/" + path + "?" + garbageQuery(rnd))
			rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
			req, _ := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
			res, err := httpClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				count(res.StatusCode)
			} else {
				count(0) // timed out: a blocking playlist request cut short
			}
			rcancel()
		}
	}

	// Wrong keys run beside the cycles, a few at a time: the throttle holds
	// each refusal, and the cycles' valid keys must not wait for them.
	wrong := make(chan int, 16)
	var wg sync.WaitGroup
	var wrongDone atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range wrong {
				key := "wrong-" + randomHex(6)
				switch i % 3 {
				case 0:
					if c, err := rtmptest.Dial(ctx, d.RTMPURL(key), nil); err == nil {
						_ = c.Close() // abrupt: gone before the refusal
					}
				case 1:
					cfg := gosrt.DefaultConfig()
					cfg.StreamId = "#!::r=" + key + ",m=publish"
					cfg.ConnectionTimeout = time.Second
					if c, err := gosrt.Dial("srt", d.SRT, cfg); err == nil {
						c.Close()
					}
				default:
					wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
					if res, _, err := whiptest.Post(wctx, d.URL("/whip/"+inWHIP.ID), key, "application/sdp", "v=0\r\n"); err == nil {
						res.Body.Close()
					}
					wcancel()
				}
				wrongDone.Add(1)
			}
		}()
	}

	cycle := func(i int) error {
		switch i % 3 {
		case 0: // RTMP: media for a moment, then the TCP connection dies
			if i%2 == 0 {
				return rtmptest.PublishSynthetic(ctx, d.RTMPURL(inRTMP.Key), 300*time.Millisecond)
			}
			c, err := rtmptest.Dial(ctx, d.RTMPURL(inRTMP.Key), nil)
			if err != nil {
				return err
			}
			return c.Close()
		case 1: // SRT: admitted, then closed before any media
			cfg := gosrt.DefaultConfig()
			cfg.StreamId = "publish:" + inSRT.Key
			c, err := gosrt.Dial("srt", d.SRT, cfg)
			if err != nil {
				return fmt.Errorf("srt: %w", err)
			}
			_, _ = c.Write(make([]byte, 188*7))
			return c.Close()
		default: // WHIP: every tenth a full session, else a refused offer
			if i%10 != 2 {
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				defer wcancel()
				res, _, err := whiptest.Post(wctx, d.URL("/whip/"+inWHIP.ID), inWHIP.Key, "application/sdp", "not sdp")
				if err != nil {
					return err
				}
				res.Body.Close()
				return nil
			}
			dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
			defer dcancel()
			s, err := whiptest.Dial(dctx, d.URL("/whip/"+inWHIP.ID), inWHIP.Key, whiptest.Options{})
			if err != nil {
				return fmt.Errorf("whip: %w", err)
			}
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			_ = s.Stream(sctx, h264, 30, opus)
			scancel()
			s.Close()
			return nil
		}
	}

	// warm up (one cycle of each kind), let it settle, take the baseline
	for i := range 3 {
		if err := cycle(i); err != nil {
			t.Fatalf("warm-up cycle %d: %v", i, err)
		}
	}
	garbageRequests(perCycle)
	time.Sleep(5 * time.Second)
	base := footprint(ctx, t, d) // the live input included: the end compares without it, stricter
	t.Logf("baseline: %v", base)

	start := time.Now()
	failures := 0
	for i := range cycles {
		select {
		case wrong <- i:
		default: // the wrong-key workers are busy being held: skip one
		}
		if err := cycle(i); err != nil {
			failures++
			t.Logf("cycle %d: %v", i, err)
		}
		garbageRequests(perCycle)
		if i%50 == 49 {
			t.Logf("%d cycles in %v: %v", i+1, time.Since(start).Round(time.Second), footprint(ctx, t, d))
		}
	}
	close(wrong)
	wg.Wait()
	t.Logf("%d cycles (%d failed), %d wrong-key attempts, %d requests in %v", cycles, failures, wrongDone.Load(), cycles*perCycle, time.Since(start).Round(time.Second))
	var codes []string
	statuses.Range(func(k, v any) bool {
		codes = append(codes, fmt.Sprintf("%d:%d", k, v.(*atomic.Int64).Load()))
		if k.(int) >= 500 {
			t.Errorf("%d playlist/part requests answered %d", v.(*atomic.Int64).Load(), k)
		}
		return true
	})
	t.Logf("playlist/part statuses: %s", strings.Join(codes, " "))
	if failures > cycles/20 {
		t.Errorf("%d of %d cycles failed", failures, cycles)
	}

	stopLive()
	// back to the baseline: held refusals, reconnect windows and idle
	// timeouts end within seconds
	var after daemonFootprint
	var nodes int
	deadline := time.Now().Add(60 * time.Second)
	for {
		after, nodes = footprint(ctx, t, d), liveNodes(ctx, t, d)
		if after.Goroutines <= base.Goroutines+10 && after.FDs <= base.FDs+5 && nodes == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("after: %v", after)
	// every graph drained: no node of an ended broadcast still runs (a
	// stuck one holds a few goroutines, too few for the tolerance above
	// in a short soak, but it also holds the daemon's shutdown)
	if n := nodes; n != 0 {
		t.Errorf("%d pipeline nodes still built or running after every broadcast ended", n)
		dumpGoroutines(ctx, t, d)
	}
	fmt.Fprintf(os.Stderr, "SOAK cycles=%d goroutines %d->%d fds %d->%d heap_inuse %.1f->%.1f MiB\n", cycles,
		base.Goroutines, after.Goroutines, base.FDs, after.FDs, float64(base.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20))
	if after.Goroutines > base.Goroutines+10 {
		t.Errorf("goroutines %d, baseline %d", after.Goroutines, base.Goroutines)
		dumpGoroutines(ctx, t, d)
	}
	if after.FDs > base.FDs+5 {
		t.Errorf("open files %d, baseline %d", after.FDs, base.FDs)
	}
	if after.HeapInuse > base.HeapInuse*3/2+16<<20 {
		t.Errorf("heap in use %d, baseline %d", after.HeapInuse, base.HeapInuse)
	}
	if !d.Alive() {
		t.Fatal("the daemon died")
	}
}

var liveNodesRe = regexp.MustCompile(`(?m)^mpegflow_pipeline_nodes\{[^}]*state="(?:built|running)"[^}]*\} (\d+)`)

// liveNodes sums the daemon's pipeline nodes that are built or running
// (mpegflow_pipeline_nodes).
func liveNodes(ctx context.Context, t *testing.T, d *daemon) int {
	t.Helper()
	f, err := get(ctx, "http://"+d.Metric+"/metrics")
	if err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %v %d", err, f.Status)
	}
	n := 0
	for _, m := range liveNodesRe.FindAllSubmatch(f.Body, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

var uriAttrRe = regexp.MustCompile(`URI="([^"?]+)`)

// liveNames lists the playlists, parts, segments and init sections a
// player of live input id would request now (query strings left out).
func liveNames(ctx context.Context, d *daemon, id string) []string {
	names := []string{"index.m3u8"}
	seen := map[string]bool{}
	var walk func(name string, depth int)
	walk = func(name string, depth int) {
		f, err := get(ctx, d.URL("/live/"+id+"/"+name))
		if err != nil || f.Status != http.StatusOK {
			return
		}
		var refs []string
		for _, line := range strings.Split(string(f.Body), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				refs = append(refs, strings.SplitN(line, "?", 2)[0])
			}
			for _, m := range uriAttrRe.FindAllStringSubmatch(line, -1) {
				refs = append(refs, m[1])
			}
		}
		for _, r := range refs {
			if seen[r] || strings.Contains(r, "/") {
				continue
			}
			seen[r] = true
			names = append(names, r)
			if depth == 0 && strings.HasSuffix(r, ".m3u8") {
				walk(r, 1)
			}
		}
	}
	walk("index.m3u8", 0)
	return names
}

// dumpGoroutines logs the daemon's goroutine stacks grouped (the leak).
func dumpGoroutines(ctx context.Context, t *testing.T, d *daemon) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Metric+"/debug/pprof/goroutine?debug=1", nil)
	res, err := httpClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	var b strings.Builder
	for n := 0; sc.Scan() && n < 400; n++ {
		b.WriteString(sc.Text() + "\n")
	}
	t.Logf("goroutines:\n%s", b.String())
}
