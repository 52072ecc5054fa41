package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// transcoderPIDs returns the ffmpeg transcoders the daemon started: its
// children whose command line reads MPEG-TS from stdin with -copyts.
func transcoderPIDs(t *testing.T, d *daemon) []int {
	t.Helper()
	parent := d.cmd.Process.Pid
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "-copyts") && strings.Contains(string(cmdline), "pipe:3") {
			out = append(out, pid)
		}
	}
	return out
}

// publish720 publishes a 1280x720 30 fps test pattern with AAC in real time.
func publish720(ctx context.Context, t *testing.T, url string, seconds int) *publisher {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "96k", "-f", "flv", url}
	p := &publisher{stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, "ffmpeg", args...)
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.ended = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() && p.stderr.String() != "" {
			t.Logf("ffmpeg publisher stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// TestTranscodeLadder: a live input with transcode on and ladder [480p,
// 360p], published at 720p, is served as source + 480p + 360p with the right
// attributes; every media playlist obeys the LL-HLS rules; every rendition
// decodes at its height; a killed ffmpeg transcoder is restarted while the
// source keeps playing.
func TestTranscodeLadder(t *testing.T) {
	e2eTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDaemonAt(t, filepath.Join(t.TempDir(), "data"), daemonConfig{})
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token printed:\n%s", d.Output())
	}

	st, sys := apiCall(t, d, admin, "GET", "/v1/system", nil)
	tc, _ := data(sys)["transcode"].(map[string]any)
	if st != http.StatusOK || tc["available"] != true || tc["encoder"] == "" {
		t.Fatalf("GET /v1/system: HTTP %d %v", st, sys)
	}
	t.Logf("encoder %v; candidates %v", tc["encoder"], tc["candidates"])

	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "E2E transcode",
		"transcode": map[string]any{"mode": "on", "ladder": []string{"480p", "360p"}}})
	if st != http.StatusCreated {
		t.Fatalf("create: HTTP %d %v", st, r)
	}
	id := data(r)["id"].(string)
	key := data(r)["rtmp"].(map[string]any)["stream_key"].(string)
	if st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"transcode": map[string]any{"mode": "on", "ladder": []string{"4k"}}}); st != http.StatusBadRequest {
		t.Errorf("unknown profile in ladder: HTTP %d %v, want 400", st, r)
	}

	const published = 16
	pub := publish720(ctx, t, d.RTMPURL(key), published)
	_, multi := waitLive(ctx, t, d, id, 20*time.Second)
	waitFor(ctx, t, 25*time.Second, "source, 480p and 360p in the multivariant playlist", func() bool {
		multi = getPlaylist(ctx, t, d.PlaylistURL(id))
		return len(multi.Variants) >= 3
	})
	t.Logf("multivariant playlist:\n%s", multi.Raw)
	// capacity in units: 854x480 + 640x360 at 30 fps = 19.2 Mpx/s
	_, sys = apiCall(t, d, admin, "GET", "/v1/system", nil)
	tc2, _ := data(sys)["transcode"].(map[string]any)
	if used, _ := tc2["capacity_used"].(float64); used < 19.1 || used > 19.3 || tc2["active"] != 1.0 {
		t.Errorf("GET /v1/system while transcoding: capacity_used %v active %v, want 19.2 units and 1 ladder", tc2["capacity_used"], tc2["active"])
	}
	if total, _ := tc2["capacity"].(float64); total < 19.2 {
		t.Errorf("GET /v1/system: capacity %v units", tc2["capacity"])
	}
	for _, v := range checkMultivariant(multi) {
		t.Errorf("multivariant: %s", v)
	}
	want := map[string]int{"1280x720": 720, "854x480": 480, "640x360": 360}
	heights := map[string]int{} // media URL -> height
	bw := map[int]int{}
	for _, v := range multi.Variants {
		res := v.Attrs["RESOLUTION"]
		h, ok := want[res]
		if !ok {
			t.Errorf("variant %s: RESOLUTION %q, want one of 1280x720, 854x480, 640x360", v.URI, res)
			continue
		}
		delete(want, res)
		if c := v.Attrs["CODECS"]; !strings.Contains(c, "avc1.") || !strings.Contains(c, "mp4a.40.2") {
			t.Errorf("variant %s: CODECS %q, want avc1.* and mp4a.40.2", v.URI, c)
		}
		b, _ := v.Attrs.int("BANDWIDTH")
		if b <= 0 {
			t.Errorf("variant %s: BANDWIDTH %d", v.URI, b)
		}
		bw[h] = b
		heights[resolve(d.PlaylistURL(id), v.URI)] = h
	}
	if len(want) > 0 {
		t.Fatalf("variants missing: %v", want)
	}
	if !(bw[360] < bw[480]) {
		t.Errorf("BANDWIDTH 360p %d not below 480p %d", bw[360], bw[480])
	}

	// The source is followed by the strict recorder; the rungs too, except
	// that a part cut short by the transcoder's restart (the packager closes
	// the part at the gap) is logged instead of failing: see rungRules.
	recs := map[string]*recorder{}
	var sourceURL string
	for u, h := range heights {
		recs[u] = newRecorder(ctx, t, u)
		if h == 720 {
			sourceURL = u
		}
	}
	poll := func(u string, live bool) *playlist {
		if u == sourceURL {
			return recs[u].poll(live)
		}
		return rungPoll(t, recs[u], live)
	}
	// Follow every rendition; kill the transcoder a few seconds in.
	killedAt := time.Time{}
	sourceStall := time.Duration(0)
	lastProgress, lastChange := -1, time.Now()
	var lags []time.Duration // source's content end minus a rung's, per poll
	var cpuPID int           // the transcoder whose CPU is measured before the kill
	var cpuTicks0 int64
	var cpuStart time.Time
	for !pub.Exited() {
		if ctx.Err() != nil {
			t.Fatal("publisher did not finish in time")
		}
		ends := map[string]time.Time{}
		for u := range recs {
			p := poll(u, true)
			ends[u] = contentEnd(p)
			if u == sourceURL {
				if p.progress() != lastProgress {
					lastProgress, lastChange = p.progress(), time.Now()
				} else if s := time.Since(lastChange); s > sourceStall {
					sourceStall = s
				}
			}
		}
		if killedAt.IsZero() || time.Since(killedAt) > 6*time.Second {
			for u, e := range ends {
				if u != sourceURL && !e.IsZero() && !ends[sourceURL].IsZero() && time.Since(pub.start) > 4*time.Second {
					lags = append(lags, ends[sourceURL].Sub(e))
				}
			}
		}
		if cpuStart.IsZero() && time.Since(pub.start) > 3*time.Second {
			if pids := transcoderPIDs(t, d); len(pids) == 1 {
				cpuPID, cpuTicks0, cpuStart = pids[0], cpuTicks(pids[0]), time.Now()
			}
		}
		if killedAt.IsZero() && time.Since(pub.start) > 7*time.Second {
			if f, err := get(ctx, "http://"+d.Metric+"/metrics"); err == nil {
				for _, l := range strings.Split(string(f.Body), "\n") {
					if strings.HasPrefix(l, "mpegflow_transcode_speed{") || strings.HasPrefix(l, "mpegflow_transcode_fps{") || strings.HasPrefix(l, "mpegflow_transcode_capacity") {
						t.Logf("metric %s", l)
					}
				}
			}
			if cpuPID != 0 {
				if used := time.Duration(cpuTicks(cpuPID)-cpuTicks0) * 10 * time.Millisecond; used > 0 {
					t.Logf("transcoder CPU while live: %.0f%% of one core over %v", 100*used.Seconds()/time.Since(cpuStart).Seconds(), time.Since(cpuStart).Round(time.Millisecond))
				}
			}
			pids := transcoderPIDs(t, d)
			if len(pids) != 1 {
				t.Fatalf("found %d ffmpeg transcoders (%v), want 1", len(pids), pids)
			}
			if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killedAt = time.Now()
			t.Logf("killed transcoder pid %d", pids[0])
		}
		time.Sleep(300 * time.Millisecond)
	}
	if pub.err != nil {
		t.Errorf("ffmpeg publisher failed: %v", pub.err)
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		t.Logf("rung behind the source (content end by EXT-X-PROGRAM-DATE-TIME, %d samples outside the restart): p50 %v p95 %v",
			len(lags), lags[len(lags)/2].Round(time.Millisecond), lags[len(lags)*95/100].Round(time.Millisecond))
	}
	if sourceStall > 2*time.Second {
		t.Errorf("the source playlist stalled for %v while the transcoder was killed", sourceStall)
	}
	if !strings.Contains(d.Output(), "ffmpeg died; restarting") {
		t.Error("no restart logged after the transcoder was killed")
	}
	if pids := transcoderPIDs(t, d); len(pids) > 1 {
		t.Errorf("%d transcoders after the restart", len(pids))
	}
	waitFor(ctx, t, 20*time.Second, "EXT-X-ENDLIST on every rendition", func() bool {
		for u := range recs {
			if !poll(u, false).Endlist {
				return false
			}
		}
		return true
	})
	// Segment boundaries line up across renditions: every rung segment
	// starts where a source segment starts and lasts as long, within a
	// frame (30 fps).
	srcTimes := segmentTimes(recs[sourceURL])
	for u, rec := range recs {
		if u == sourceURL {
			continue
		}
		n := checkSegmentAlignment(t, fmt.Sprintf("%dp", heights[u]), srcTimes, segmentTimes(rec), 1.0/30+0.001)
		if n < 5 {
			t.Errorf("%dp: only %d segments compared with the source's", heights[u], n)
		}
		t.Logf("%dp: %d segments line up with the source's within a frame", heights[u], n)
	}
	for u, rec := range recs {
		h := heights[u]
		msns := rec.msns()
		if len(msns) < 4 {
			t.Errorf("%dp: only %d segments", h, len(msns))
			continue
		}
		// segments after the kill: the rung came back
		file := rec.concat(t, fmt.Sprintf("r%d.mp4", h), msns)
		v := ffprobe(ctx, t, file, "v")
		if v.Codec != "h264" || v.Height != h {
			t.Errorf("%dp: ffprobe %s %dx%d", h, v.Codec, v.Width, v.Height)
		}
		if a := ffprobe(ctx, t, file, "a"); a.Codec != "aac" {
			t.Errorf("%dp: audio %q, want aac", h, a.Codec)
		}
		if err := ffmpegDecodes(ctx, file); err != nil {
			t.Errorf("%dp: does not decode cleanly: %v", h, err)
		}
		t.Logf("%dp: %d segments, video %.2f s in %d packets", h, len(msns), v.Duration, v.Packets)
	}
	f, err := get(ctx, "http://"+d.Metric+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`mpegflow_transcode_encoder_info{encoder="` + fmt.Sprint(tc["encoder"]) + `"} 1`, `mpegflow_transcode_restarts_total{live_input="` + id + `"} 1`} {
		if !strings.Contains(string(f.Body), m) {
			t.Errorf("metrics: no %s", m)
		}
	}
}

// rungPoll polls a transcoded rendition like recorder.poll, but logs the one
// LL-HLS finding a transcoder restart causes by the packager's design (a
// part shorter than 85 % of PART-TARGET where the rung's media has a gap)
// instead of failing; every other rule fails the test.
func rungPoll(t *testing.T, r *recorder, live bool) *playlist {
	t.Helper()
	p := getPlaylist(r.ctx, t, r.mediaURL)
	live = live && !p.Endlist
	for _, v := range checkLLHLS(p, live) {
		if strings.Contains(v, "< 85% of PART-TARGET") {
			if !r.reported["gap:"+v] {
				r.reported["gap:"+v] = true
				t.Logf("rung %s: %s (gap at the transcoder restart)", r.mediaURL, v)
			}
		} else {
			r.violation(v)
		}
		// observe (below) must not report it again
		r.reported[strings.Map(func(c rune) rune {
			if c >= '0' && c <= '9' {
				return -1
			}
			return c
		}, v)] = true
	}
	r.observe(p, live)
	return p
}

// contentEnd is the wall-clock end of the media a playlist lists: the
// program date-time of the segment in progress plus its parts, or of the
// last segment plus its duration.
func contentEnd(p *playlist) time.Time {
	if len(p.Pending.Parts) > 0 && !p.Pending.PDT.IsZero() {
		end := p.Pending.PDT
		for _, pt := range p.Pending.Parts {
			end = end.Add(time.Duration(pt.Duration * float64(time.Second)))
		}
		return end
	}
	if n := len(p.Segments); n > 0 && !p.Segments[n-1].PDT.IsZero() {
		s := p.Segments[n-1]
		return s.PDT.Add(time.Duration(s.Duration * float64(time.Second)))
	}
	return time.Time{}
}

// cpuTicks is utime+stime of pid in clock ticks (USER_HZ, 100 on Linux).
func cpuTicks(pid int) int64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// mp4Box returns the payload of the first box of type typ at the top level
// of b, or nil.
func mp4Box(b []byte, typ string) []byte {
	for len(b) >= 8 {
		size := int(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		hdr := 8
		if size == 1 && len(b) >= 16 {
			size, hdr = int(uint64(b[8])<<56|uint64(b[9])<<48|uint64(b[10])<<40|uint64(b[11])<<32|uint64(b[12])<<24|uint64(b[13])<<16|uint64(b[14])<<8|uint64(b[15])), 16
		}
		if size < hdr || size > len(b) {
			return nil
		}
		if string(b[4:8]) == typ {
			return b[hdr:size]
		}
		b = b[size:]
	}
	return nil
}

// mp4Path follows a path of box types from the top level of b.
func mp4Path(b []byte, path ...string) []byte {
	for _, p := range path {
		if b = mp4Box(b, p); b == nil {
			return nil
		}
	}
	return b
}

// segmentStart is the decode time, in seconds, of the first sample of the
// first track (video) of an fMP4 segment: tfdt of its first moof over the
// timescale of the init segment's first trak (ISO/IEC 14496-12 §8.8.12,
// §8.4.2). ok is false when a box is missing.
func segmentStart(init, seg []byte) (float64, bool) {
	mdhd := mp4Path(init, "moov", "trak", "mdia", "mdhd")
	tfdt := mp4Path(seg, "moof", "traf", "tfdt")
	if len(mdhd) < 24 || len(tfdt) < 8 {
		return 0, false
	}
	var scale uint32
	if mdhd[0] == 1 {
		if len(mdhd) < 24 {
			return 0, false
		}
		scale = uint32(mdhd[20])<<24 | uint32(mdhd[21])<<16 | uint32(mdhd[22])<<8 | uint32(mdhd[23])
	} else {
		scale = uint32(mdhd[12])<<24 | uint32(mdhd[13])<<16 | uint32(mdhd[14])<<8 | uint32(mdhd[15])
	}
	var t uint64
	if tfdt[0] == 1 {
		if len(tfdt) < 12 {
			return 0, false
		}
		for _, c := range tfdt[4:12] {
			t = t<<8 | uint64(c)
		}
	} else {
		for _, c := range tfdt[4:8] {
			t = t<<8 | uint64(c)
		}
	}
	if scale == 0 {
		return 0, false
	}
	return float64(t) / float64(scale), true
}

// segmentTimes is, per MSN a recorder fetched, the segment's start (tfdt)
// and its EXTINF duration.
type segTime struct {
	msn               int
	start, dur        float64
	pdt               time.Time
	disc, afterDisc   bool
	first, last, okTS bool
}

func segmentTimes(r *recorder) []segTime {
	msns := r.msns()
	out := make([]segTime, 0, len(msns))
	pdts := map[int]time.Time{}
	if r.last != nil {
		for _, s := range r.last.Segments {
			pdts[s.MSN] = s.PDT
		}
	}
	for i, m := range msns {
		s := segTime{msn: m, dur: r.segDur[m], pdt: pdts[m], disc: r.disc[m], first: i == 0, last: i == len(msns)-1}
		s.start, s.okTS = segmentStart(r.inits[r.segMap[m]], r.segs[m])
		if i+1 < len(msns) && r.disc[msns[i+1]] {
			s.afterDisc = true // cut short by the hole that follows
		}
		out = append(out, s)
	}
	return out
}

// checkSegmentAlignment reports a rung's segments whose start or duration
// differs from the source segment starting at the same media time by more
// than one frame (frame, in seconds). Segments at the edges of the rung's
// life and next to a discontinuity (the transcoder's restart) are skipped.
// It returns how many segments were compared.
func checkSegmentAlignment(t *testing.T, name string, src, rung []segTime, frame float64) int {
	t.Helper()
	compared := 0
	for _, s := range rung {
		if !s.okTS {
			t.Errorf("%s: segment %d has no tfdt", name, s.msn)
			continue
		}
		if s.first || s.last || s.disc || s.afterDisc {
			continue
		}
		var best *segTime
		for i := range src {
			if best == nil || abs(src[i].start-s.start) < abs(best.start-s.start) {
				best = &src[i]
			}
		}
		if best == nil || best.last {
			continue
		}
		compared++
		if d := abs(best.start - s.start); d > frame {
			t.Errorf("%s: segment %d starts at %.3f s, nearest source segment %d at %.3f s (%.1f ms apart, more than a frame)", name, s.msn, s.start, best.msn, best.start, d*1000)
			continue
		}
		if d := abs(best.dur - s.dur); d > frame {
			t.Errorf("%s: segment %d lasts %.3f s, source segment %d %.3f s (more than a frame apart)", name, s.msn, s.dur, best.msn, best.dur)
		}
		// EXT-X-PROGRAM-DATE-TIME of the same media: players align
		// renditions by it when they switch
		if !s.pdt.IsZero() && !best.pdt.IsZero() {
			if d := s.pdt.Sub(best.pdt); d > time.Duration(frame*float64(time.Second)) || d < -time.Duration(frame*float64(time.Second)) {
				t.Errorf("%s: segment %d PROGRAM-DATE-TIME %v, source segment %d %v: %v apart", name, s.msn, s.pdt.Format("15:04:05.000"), best.msn, best.pdt.Format("15:04:05.000"), d)
			}
		}
	}
	return compared
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
