package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder follows a live media playlist, checks every LL-HLS rule on each
// version it sees, and downloads every segment (and init segment) once, so
// that the whole broadcast can be probed after the sliding window moved on.
type recorder struct {
	t        *testing.T
	ctx      context.Context
	mediaURL string
	bodies   []string          // every playlist body seen (stream-key checks)
	inits    map[string][]byte // EXT-X-MAP URI -> bytes
	segs     map[int][]byte    // MSN -> bytes
	segMap   map[int]string    // MSN -> EXT-X-MAP URI in force
	segDur   map[int]float64
	disc     map[int]bool // MSN -> EXT-X-DISCONTINUITY before it
	reported map[string]bool
	last     *playlist
	target   int
	server   string
	blocking int // blocking reloads checked
	hints    int // preload hints fetched
}

func newRecorder(ctx context.Context, t *testing.T, mediaURL string) *recorder {
	return &recorder{t: t, ctx: ctx, mediaURL: mediaURL, inits: map[string][]byte{}, segs: map[int][]byte{},
		segMap: map[int]string{}, segDur: map[int]float64{}, disc: map[int]bool{}, reported: map[string]bool{}}
}

// violation reports a rule violation once per distinct message.
func (r *recorder) violation(msg string) {
	r.t.Helper()
	// Strip the numbers so that the same rule broken on every reload is reported once.
	k := strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' {
			return -1
		}
		return c
	}, msg)
	if r.reported[k] {
		return
	}
	r.reported[k] = true
	r.t.Errorf("LL-HLS rule: %s", msg)
}

// observe checks and records one playlist version.
func (r *recorder) observe(p *playlist, live bool) {
	r.t.Helper()
	r.bodies = append(r.bodies, p.Raw)
	for _, v := range checkLLHLS(p, live) {
		r.violation(v)
	}
	if r.last != nil {
		if p.MediaSeq < r.last.MediaSeq {
			r.violation(fmt.Sprintf("EXT-X-MEDIA-SEQUENCE went back from %d to %d", r.last.MediaSeq, p.MediaSeq))
		}
		if p.progress() < r.last.progress() {
			r.violation(fmt.Sprintf("playlist went back from %d.%d to %d.%d", r.last.lastMSN(), len(r.last.Pending.Parts), p.lastMSN(), len(p.Pending.Parts)))
		}
	}
	if r.target == 0 {
		r.target = p.Target
	} else if p.Target != r.target {
		r.violation(fmt.Sprintf("EXT-X-TARGETDURATION changed from %d to %d", r.target, p.Target))
	}
	sc := fmt.Sprint(p.Server)
	if r.server == "" {
		r.server = sc
	} else if sc != r.server {
		r.violation(fmt.Sprintf("EXT-X-SERVER-CONTROL changed from %s to %s", r.server, sc))
	}
	r.last = p
	for _, s := range p.Segments {
		if s.Discontinuity {
			r.disc[s.MSN] = true
		}
		if _, ok := r.segs[s.MSN]; ok {
			continue
		}
		if _, ok := r.inits[s.Map]; !ok && s.Map != "" {
			r.inits[s.Map] = r.fetchMedia(resolve(r.mediaURL, s.Map), "init segment")
		}
		r.segs[s.MSN] = r.fetchMedia(resolve(r.mediaURL, s.URI), fmt.Sprintf("segment %d", s.MSN))
		r.segMap[s.MSN] = s.Map
		r.segDur[s.MSN] = s.Duration
	}
}

func (r *recorder) fetchMedia(u, what string) []byte {
	r.t.Helper()
	f, err := get(r.ctx, u)
	if err != nil {
		r.t.Errorf("GET %s (%s): %v", u, what, err)
		return nil
	}
	if f.Status != http.StatusOK || len(f.Body) == 0 {
		r.t.Errorf("GET %s (%s): HTTP %d, %d bytes", u, what, f.Status, len(f.Body))
		return nil
	}
	if ct := f.Header.Get("Content-Type"); !strings.HasPrefix(ct, "video/mp4") && !strings.HasPrefix(ct, "audio/mp4") {
		r.violation(fmt.Sprintf("GET %s (%s): Content-Type %q, want video/mp4 or audio/mp4", u, what, ct))
	}
	return f.Body
}

// poll fetches the media playlist (a plain reload) and observes it.
func (r *recorder) poll(live bool) *playlist {
	r.t.Helper()
	p := getPlaylist(r.ctx, r.t, r.mediaURL)
	r.observe(p, live && !p.Endlist)
	return p
}

// checkBlockingReload asks for the next part with _HLS_msn/_HLS_part and
// checks that the answer contains it.
func (r *recorder) checkBlockingReload(p *playlist) {
	r.t.Helper()
	msn, part := p.nextPart()
	u := fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", r.mediaURL, msn, part)
	f, err := get(r.ctx, u)
	if err != nil {
		r.t.Errorf("blocking reload GET %s: %v", u, err)
		return
	}
	if f.Status != http.StatusOK {
		r.t.Errorf("blocking reload GET %s: HTTP %d: %.200s", u, f.Status, f.Body)
		return
	}
	b, err := parsePlaylist(string(f.Body))
	if err != nil {
		r.t.Errorf("blocking reload GET %s: %v", u, err)
		return
	}
	r.bodies = append(r.bodies, b.Raw)
	has := false
	switch {
	case b.Endlist:
		has = true // blocking directives are ignored once the stream ended
	case b.lastMSN() == msn-1:
		has = len(b.Pending.Parts) > part
	case b.lastMSN() >= msn:
		// The segment msn is complete: the part exists, or the index was past
		// its last part, which means part 0 of the next segment.
		has = true
		for _, s := range b.Segments {
			if s.MSN == msn && len(s.Parts) > 0 && len(s.Parts) <= part {
				has = b.lastMSN() > msn || len(b.Pending.Parts) > 0
			}
		}
	}
	if !has {
		r.t.Errorf("blocking reload GET %s answered after %v without part %d.%d (playlist at %d.%d):\n%s",
			u, f.Elapsed, msn, part, b.lastMSN(), len(b.Pending.Parts), f.Body)
	}
	if limit := time.Duration(3*max(r.target, 1))*time.Second + time.Second; f.Elapsed > limit {
		r.t.Errorf("blocking reload GET %s took %v (> 3 x TARGETDURATION)", u, f.Elapsed)
	}
	r.blocking++
	r.observe(b, !b.Endlist)
}

// checkPreloadHint fetches the hinted part: it must block until complete and return all of it.
func (r *recorder) checkPreloadHint(p *playlist) {
	r.t.Helper()
	for _, h := range p.Hints {
		if h["TYPE"] != "PART" {
			continue
		}
		u := resolve(r.mediaURL, h["URI"])
		f, err := get(r.ctx, u)
		if err != nil {
			r.t.Errorf("GET preload hint %s: %v", u, err)
			return
		}
		if f.Status != http.StatusOK || len(f.Body) == 0 {
			r.t.Errorf("GET preload hint %s: HTTP %d with %d bytes, want the complete part", u, f.Status, len(f.Body))
			return
		}
		if !bytes.Contains(f.Body[:min(len(f.Body), 64)], []byte("moof")) && !bytes.Contains(f.Body[:min(len(f.Body), 64)], []byte("styp")) {
			r.t.Errorf("GET preload hint %s: body does not start with a moof/styp box", u)
		}
		r.hints++
		return
	}
}

// msns returns the recorded segment numbers in order.
func (r *recorder) msns() []int {
	var out []int
	for k := range r.segs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// concat writes the given recorded segments to a file, each run of segments
// preceded by the init segment (EXT-X-MAP) in force for it.
func (r *recorder) concat(t *testing.T, name string, msns []int) string {
	t.Helper()
	var buf bytes.Buffer
	lastMap := ""
	for _, m := range msns {
		if mp := r.segMap[m]; mp != lastMap {
			buf.Write(r.inits[mp])
			lastMap = mp
		}
		buf.Write(r.segs[m])
	}
	return writeFile(t, name, buf.Bytes())
}

func TestRTMPToLLHLS(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	in := newInput("studio-a")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}, SegmentDuration: "2s", PartDuration: "200ms", ReconnectWindow: "3s"})
	const published = 10.0
	pub := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: published})

	mediaURL, multi := waitLive(ctx, t, d, in.ID, 15*time.Second)
	t.Logf("multivariant playlist:\n%s", multi.Raw)
	for _, v := range checkMultivariant(multi) {
		t.Errorf("multivariant: %s", v)
	}
	vr := multi.Variants[0]
	if c := vr.Attrs["CODECS"]; !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") {
		t.Errorf("multivariant CODECS=%q, want avc1.* and mp4a.40.2", c)
	}
	if res := vr.Attrs["RESOLUTION"]; res != "640x360" {
		t.Errorf("multivariant RESOLUTION=%q, want 640x360", res)
	}
	f, err := get(ctx, d.PlaylistURL(in.ID))
	if err == nil && f.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("GET %s: no Access-Control-Allow-Origin header (default should be *)", d.PlaylistURL(in.ID))
	}

	rec := newRecorder(ctx, t, mediaURL)
	rec.bodies = append(rec.bodies, multi.Raw)
	p := rec.poll(true)
	t.Logf("first media playlist (%s):\n%s", mediaURL, p.Raw)
	for i := 0; !pub.Exited(); i++ {
		if ctx.Err() != nil {
			t.Fatal("publisher did not finish in time")
		}
		if i%5 == 2 {
			rec.checkPreloadHint(p)
		}
		rec.checkBlockingReload(p)
		if pub.Exited() {
			break
		}
		p = rec.poll(true)
	}
	if pub.err != nil {
		t.Errorf("ffmpeg publisher failed: %v\n%s", pub.err, pub.stderr.String())
	}
	if rec.blocking < 10 {
		t.Errorf("only %d blocking reloads completed while live", rec.blocking)
	}
	if rec.hints == 0 {
		t.Error("no preload hint could be fetched while live")
	}
	t.Logf("publisher ran %v; %d blocking reloads and %d preload hints checked", pub.ended.Sub(pub.start).Round(time.Millisecond), rec.blocking, rec.hints)

	// After the reconnect window, EXT-X-ENDLIST.
	var final *playlist
	waitFor(ctx, t, 3*time.Second+15*time.Second, "EXT-X-ENDLIST after the publisher stopped and the 3 s reconnect window passed", func() bool {
		final = rec.poll(false)
		return final.Endlist
	})
	t.Logf("EXT-X-ENDLIST %v after the publisher stopped", time.Since(pub.ended).Round(100*time.Millisecond))
	if len(final.Hints) > 0 {
		t.Errorf("ended playlist has EXT-X-PRELOAD-HINT")
	}
	// Blocking directives are ignored once ended: answered at once.
	bf, err := get(ctx, fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=0", mediaURL, final.lastMSN()+1))
	if err != nil || bf.Status != http.StatusOK || bf.Elapsed > time.Second {
		t.Errorf("blocking reload after ENDLIST: err %v status %d after %v; want 200 at once", err, bf.Status, bf.Elapsed)
	}

	// The whole broadcast: init + every segment, contiguous.
	msns := rec.msns()
	for i := 1; i < len(msns); i++ {
		if msns[i] != msns[i-1]+1 {
			t.Errorf("segments %d..%d missing (sliding window moved faster than the playlist was read?)", msns[i-1]+1, msns[i]-1)
		}
	}
	sum := 0.0
	for _, m := range msns {
		sum += rec.segDur[m]
	}
	t.Logf("%d segments (MSN %d..%d), EXTINF total %.3f s", len(msns), msns[0], msns[len(msns)-1], sum)
	file := rec.concat(t, "all.mp4", msns)
	v := ffprobe(ctx, t, file, "v")
	if v.Codec != "h264" || v.Width != 640 || v.Height != 360 {
		t.Errorf("ffprobe video: %s %dx%d, want h264 640x360", v.Codec, v.Width, v.Height)
	}
	if math.Abs(v.Duration-published) > 0.1*published {
		t.Errorf("ffprobe video duration %.3f s, want %.1f s ± 10%%", v.Duration, published)
	}
	if math.Abs(sum-published) > 0.1*published {
		t.Errorf("EXTINF durations add up to %.3f s, want %.1f s ± 10%%", sum, published)
	}
	a := ffprobe(ctx, t, file, "a")
	if a.Codec != "" && a.Codec != "aac" {
		t.Errorf("ffprobe audio codec %q, want aac", a.Codec)
	}
	if a.Codec == "" && len(multi.Media) == 0 {
		t.Errorf("no audio in the segments and no EXT-X-MEDIA audio rendition")
	}
	t.Logf("ffprobe: video %s %dx%d %.3f s in %d packets; audio %q %.3f s", v.Codec, v.Width, v.Height, v.Duration, v.Packets, a.Codec, a.Duration)
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Errorf("ffmpeg cannot decode the concatenated stream cleanly: %v", err)
	}

	// Metrics are served and never carry the key.
	mf, err := get(ctx, "http://"+d.Metric+"/metrics")
	switch {
	case err != nil:
		t.Errorf("GET /metrics: %v", err)
	case mf.Status != http.StatusOK || !bytes.Contains(mf.Body, []byte("# TYPE")):
		t.Errorf("GET /metrics: HTTP %d, %d bytes without # TYPE lines", mf.Status, len(mf.Body))
	case bytes.Contains(mf.Body, []byte(in.Key)):
		t.Errorf("the stream key appears in /metrics")
	}

	// The stream key never appears in a playlist or in the log.
	for _, b := range rec.bodies {
		if strings.Contains(b, in.Key) || strings.Contains(b, url.QueryEscape(in.Key)) {
			t.Errorf("the stream key appears in a playlist:\n%s", b)
			break
		}
	}
	d.assertNoKeys(t, in.Key)
}
