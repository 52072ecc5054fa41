package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLLHLS is a clock-driven LL-HLS origin: part g (global index) of
// segment g/perSeg completes at t0 + (g+1)*partDur + lag, and blocking
// playlist and part requests wait for exactly that moment.
type fakeLLHLS struct {
	t0      time.Time
	partDur time.Duration
	perSeg  int
	lag     time.Duration
	parts   bool // false: plain HLS with blocking reload by segment

	mu       sync.Mutex
	requests map[string]int
}

func (f *fakeLLHLS) doneAt(g int) time.Time {
	return f.t0.Add(time.Duration(g+1)*f.partDur + f.lag)
}

func (f *fakeLLHLS) completed(now time.Time) int {
	return max(0, int(now.Sub(f.t0.Add(f.lag))/f.partDur))
}

func (f *fakeLLHLS) waitFor(r *http.Request, g int) {
	select {
	case <-time.After(time.Until(f.doneAt(g))):
	case <-r.Context().Done():
	}
}

func (f *fakeLLHLS) count(kind string) {
	f.mu.Lock()
	f.requests[kind]++
	f.mu.Unlock()
}

func (f *fakeLLHLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch {
	case name == "index.m3u8":
		f.count("multivariant")
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nv/media.m3u8\n")
	case name == "media.m3u8":
		q := r.URL.Query()
		if msn := q.Get("_HLS_msn"); msn != "" {
			f.count("blocking")
			m, _ := strconv.Atoi(msn)
			g := m*f.perSeg + f.perSeg - 1
			if p := q.Get("_HLS_part"); p != "" {
				n, _ := strconv.Atoi(p)
				g = m*f.perSeg + min(n, f.perSeg)
			}
			f.waitFor(r, g)
		}
		f.writePlaylist(w, f.completed(time.Now()))
	case strings.HasPrefix(name, "p"):
		f.count("part")
		var m, i int
		if _, err := fmt.Sscanf(name, "p%d.%d.mp4", &m, &i); err != nil {
			http.NotFound(w, r)
			return
		}
		g := m*f.perSeg + i
		if g > f.completed(time.Now())+2 {
			http.NotFound(w, r)
			return
		}
		f.waitFor(r, g)
		w.Write(make([]byte, 1000))
	case strings.HasPrefix(name, "s"):
		f.count("segment")
		w.Write(make([]byte, 4000))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeLLHLS) writePlaylist(w http.ResponseWriter, done int) {
	per := f.perSeg
	segs := done / per
	sec := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n")
	if f.parts {
		fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%s\n", sec(3*f.partDur))
		fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", sec(f.partDur))
	} else {
		b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n")
	}
	first := max(0, segs-4)
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	pdt := func(m int) string {
		return f.t0.Add(time.Duration(m*per) * f.partDur).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	for m := first; m <= segs; m++ {
		n := per
		if m == segs {
			n = done % per
			if !f.parts || n == 0 {
				break
			}
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt(m))
		if f.parts && m >= segs-2 {
			for i := range n {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=\"p%d.%d.mp4\"\n", sec(f.partDur), m, i)
			}
		}
		if m < segs {
			fmt.Fprintf(&b, "#EXTINF:%s,\ns%d.mp4\n", sec(time.Duration(per)*f.partDur), m)
		}
	}
	if f.parts {
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p%d.%d.mp4\"\n", done/per, done%per)
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	fmt.Fprint(w, b.String())
}

func runFakeReader(t *testing.T, f *fakeLLHLS, readFor time.Duration) (*Stats, LatencySummary, int64, int64, map[string]int64) {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := time.Now()
	stats := NewStats(now, now.Add(readFor))
	ctx, cancel := context.WithTimeout(context.Background(), readFor)
	defer cancel()
	r := &Reader{Client: srv.Client(), URL: srv.URL + "/live/x/index.m3u8", Timeout: 5 * time.Second, Stats: stats}
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(readFor + 5*time.Second):
		t.Fatal("reader did not stop with its context")
	}
	lat, parts, viaHint, _, _, errs, _ := stats.snapshot()
	return stats, lat, parts, viaHint, errs
}

func TestReaderFollowsParts(t *testing.T) {
	f := &fakeLLHLS{
		t0:      time.Now().Add(-2 * time.Second).Truncate(time.Millisecond),
		partDur: 100 * time.Millisecond, perSeg: 4, lag: 3 * time.Millisecond, parts: true,
		requests: map[string]int{},
	}
	_, lat, parts, viaHint, errs := runFakeReader(t, f, 2*time.Second)
	t.Logf("latency %+v parts %d via hint %d errors %v requests %v", lat, parts, viaHint, errs, f.requests)
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	// 2 s of 100 ms parts, minus the first round trip.
	if parts < 12 || viaHint < parts-2 {
		t.Errorf("parts %d, via hint %d", parts, viaHint)
	}
	// The origin answers lag after the part's end; PDT has ms precision.
	if lat.N != int(parts) || lat.P50 < 1 || lat.P50 > 100 || lat.Min < 0 {
		t.Errorf("latency %+v", lat)
	}
}

func TestReaderFollowsSegments(t *testing.T) {
	f := &fakeLLHLS{
		t0:      time.Now().Add(-2 * time.Second).Truncate(time.Millisecond),
		partDur: 100 * time.Millisecond, perSeg: 3, lag: 2 * time.Millisecond, parts: false,
		requests: map[string]int{},
	}
	_, lat, parts, _, errs := runFakeReader(t, f, 1500*time.Millisecond)
	t.Logf("latency %+v segments %d errors %v requests %v", lat, parts, errs, f.requests)
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	if parts < 3 || lat.P50 < 1 || lat.P50 > 100 {
		t.Errorf("segments %d latency %+v", parts, lat)
	}
}

func TestReaderCountsErrors(t *testing.T) {
	// The reader starts over 500 ms after a failure; wait for its second
	// failure rather than for a fixed time, inside a window wide enough
	// for a loaded machine.
	const within = 30 * time.Second
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	now := time.Now()
	stats := NewStats(now, now.Add(2*within))
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reader{Client: srv.Client(), URL: srv.URL + "/live/x/index.m3u8", Stats: stats}
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	deadline := time.Now().Add(within)
	for {
		_, _, _, _, _, errs, _ := stats.snapshot()
		if errs["multivariant_status_404"] >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("errors %v after %v", errs, within)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
