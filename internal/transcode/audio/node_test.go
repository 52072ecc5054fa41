package audio

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// opusPackets makes seconds of Opus (libopus, 48 kHz stereo, 20 ms
// packets) with ffmpeg, as a browser sends it.
func opusPackets(t *testing.T, seconds int) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not found")
	}
	f := filepath.Join(t.TempDir(), "a.ogg")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", time.Duration(seconds*int(time.Second)).String(),
		"-ac", "2", "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := whiptest.ReadOggOpus(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	testH264 = stream.H264{SPS: []byte{0x67, 0x42, 0xc0, 0x1f}, PPS: []byte{0x68, 0xce, 0x3c, 0x80}}
	testOpus = stream.Opus{ChannelCount: 2}
)

// rig is a hub whose renditions are caught as the graph's manager would
// hand them to the packager: before their first unit.
type rig struct {
	hub   *stream.Hub
	rends chan *stream.Reader
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{rends: make(chan *stream.Reader, 4)}
	r.hub = stream.NewHub(stream.HubConfig{ReconnectWindow: 5 * time.Second, OnRendition: func(s *stream.Stream) {
		r.rends <- s.AddReader("test", stream.ReaderOptions{QueueSize: 4096})
	}})
	t.Cleanup(r.hub.Close)
	return r
}

// build builds and runs the node of source s; it returns the env it set
// and a channel that gets Run's error.
func build(t *testing.T, tc *Transcoder, s *stream.Stream) (pipeline.Node, *pipeline.Env, chan error) {
	t.Helper()
	env := &pipeline.Env{Source: s, Log: slog.New(slog.DiscardHandler)}
	n, err := tc.Kind().New(env)
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		return nil, env, nil
	}
	done, ran := make(chan error, 1), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(ran)
		done <- n.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-ran
	})
	return n, env, done
}

type arrival struct {
	u  *stream.Unit
	at time.Time
}

// collect reads r until it ends, with the time each unit arrived.
func collect(ctx context.Context, r *stream.Reader) (<-chan []arrival, <-chan error) {
	out, errc := make(chan []arrival, 1), make(chan error, 1)
	go func() {
		var got []arrival
		for {
			u, err := r.Next(ctx)
			if err != nil {
				out <- got
				errc <- err
				return
			}
			got = append(got, arrival{u, time.Now()})
		}
	}()
	return out, errc
}

// TestNodeOpusToAAC publishes a WHIP-like source (H.264 + Opus, the first
// audio at 500 ms) paced in real time, and checks what the node publishes:
// Env.Audio is set before the packager is built, the "aac" rendition
// holds one AAC track, its frames start exactly at the first Opus packet's
// PTS and follow each other by exactly 1024 samples (late in wall-clock
// time only), they cover the Opus to within an AAC frame once the source
// ends, and the rendition ends with the source. It logs the transcode's
// delay: how long after the Opus that completes an AAC frame was written
// the frame reached the rendition's readers.
func TestNodeOpusToAAC(t *testing.T) {
	t.Parallel()
	const seconds = 4
	packets := opusPackets(t, seconds)
	rg := newRig(t)
	pub, err := rg.hub.Publish("cam", []stream.Track{{Codec: testH264}, {Codec: testOpus}}, false)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: 4})
	if err != nil {
		t.Fatal(err)
	}
	n, env, done := build(t, New(Config{Account: acct}), pub.Stream())
	if n == nil {
		t.Fatal("no node for an Opus source")
	}
	if env.Audio == nil || env.Audio.Name != RenditionName || env.Audio.Codec.Name() != "aac" {
		t.Fatalf("Env.Audio = %+v, want the aac rendition", env.Audio)
	}
	if used := acct.Used(); used != ffmpeg.AudioUnits {
		t.Errorf("account used %v while the node runs, want %v", used, ffmpeg.AudioUnits)
	}
	var rr *stream.Reader
	select {
	case rr = <-rg.rends:
	case <-time.After(10 * time.Second):
		t.Fatal("no rendition published")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gotc, errc := collect(ctx, rr)

	const first = 500 * time.Millisecond
	start := time.Now()
	written := make([]time.Time, len(packets)) // when packet i was written
	var end time.Duration
	for i, p := range packets {
		at := time.Duration(i) * 20 * time.Millisecond
		time.Sleep(time.Until(start.Add(at)))
		pts := first + at
		if i%15 == 0 { // some video between, as a publisher sends it
			pub.Write(&stream.Unit{Track: 0, DTS: pts, PTS: pts, Wall: time.Now(), Key: true, NALUs: [][]byte{{0x65, 1, 2, 3}}})
		}
		written[i] = time.Now()
		pub.Write(&stream.Unit{Track: 1, DTS: pts, PTS: pts, Wall: written[i], Key: true, Data: p})
		end = pts + time.Duration(opusSamples(p))*time.Second/sampleRate
	}
	pub.End()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the source ended")
	}
	got := <-gotc
	if err := <-errc; !errors.Is(err, stream.ErrEnded) {
		t.Fatalf("rendition reader: %v, want it ended", err)
	}
	if len(got) == 0 {
		t.Fatal("no AAC frames")
	}
	frame := samplesToDuration(frameSamples)
	for i, a := range got {
		if want := first + samplesToDuration(int64(i)*frameSamples); a.u.PTS != want || a.u.DTS != want {
			t.Fatalf("AAC frame %d at PTS %v DTS %v, want %v (frames back to back from the first Opus packet)", i, a.u.PTS, a.u.DTS, want)
		}
		if a.u.Track != 0 || !a.u.Key || len(a.u.Data) == 0 || a.u.Discontinuity {
			t.Fatalf("AAC frame %d: %+v", i, a.u)
		}
	}
	last := got[len(got)-1].u.PTS + frame
	if last < end-frame || last > end+2*frame {
		t.Errorf("AAC ends at %v, Opus at %v: want within a frame (flushed at the end)", last, end)
	}
	// delay: frame i is complete once the Opus up to its end was written
	var delays []time.Duration
	for _, a := range got {
		need := a.u.PTS + frame - first // media time the frame needs
		k := int((need + 20*time.Millisecond - 1) / (20 * time.Millisecond))
		if k >= len(written) || k < 1 {
			continue
		}
		delays = append(delays, a.at.Sub(written[k-1]))
	}
	if len(delays) > 10 {
		t.Logf("first frames' delays: %v", delays[:5])
	}
	slices.Sort(delays)
	if len(delays) > 10 {
		p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))].Round(time.Millisecond) }
		t.Logf("%d AAC frames for %d Opus packets; transcode delay after the Opus that completes a frame: p50 %v, p95 %v, max %v",
			len(got), len(packets), p(0.5), p(0.95), p(1))
	}
	c := n.(pipeline.Counted).Counters()
	if c.In != uint64(len(packets)) || c.Out != uint64(len(got)) || c.Restarts != 0 {
		t.Errorf("counters %+v, want in %d out %d", c, len(packets), len(got))
	}
	if used := acct.Used(); used != 0 {
		t.Errorf("account used %v after the node returned, want 0", used)
	}
}

// TestNodeReconnect: a publisher that reconnects within the reconnect
// window starts a new timeline; the first AAC frame of the new one is a
// discontinuity at the first Opus packet's PTS after it.
func TestNodeReconnect(t *testing.T) {
	t.Parallel()
	packets := opusPackets(t, 1)
	rg := newRig(t)
	tracks := []stream.Track{{Codec: testH264}, {Codec: testOpus}}
	pub, err := rg.hub.Publish("cam", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, done := build(t, New(Config{}), pub.Stream())
	if done == nil {
		t.Fatal("no node")
	}
	rr := <-rg.rends
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gotc, _ := collect(ctx, rr)
	send := func(p *stream.Publisher, base time.Duration) {
		for i, pk := range packets {
			pts := base + time.Duration(i)*20*time.Millisecond
			p.Write(&stream.Unit{Track: 1, DTS: pts, PTS: pts, Wall: time.Now(), Key: true, Data: pk})
			time.Sleep(5 * time.Millisecond)
		}
	}
	send(pub, 0)
	time.Sleep(500 * time.Millisecond)
	pub.Close() // the stream waits for the publisher to come back
	pub2, err := rg.hub.Publish("cam", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	const second = 10 * time.Second
	send(pub2, second)
	time.Sleep(500 * time.Millisecond)
	pub2.End()
	<-done
	got := <-gotc
	var discs []time.Duration
	before := 0
	for _, a := range got {
		if a.u.Discontinuity {
			discs = append(discs, a.u.PTS)
		}
		if a.u.PTS < second {
			before++
		}
	}
	if len(discs) != 1 || discs[0] != second {
		t.Fatalf("discontinuities at %v, want one at %v (%d frames)", discs, second, len(got))
	}
	if before < 20 {
		t.Errorf("%d frames of the first timeline, want most of 1 s", before)
	}
	for i := 1; i < len(got); i++ {
		if got[i].u.PTS <= got[i-1].u.PTS {
			t.Fatalf("frame %d at %v after %v: the old timeline's tail came after the new one", i, got[i].u.PTS, got[i-1].u.PTS)
		}
	}
}

// TestNoNode: sources without Opus (RTMP, SRT and RTSP with AAC) get no
// node, and neither does an Opus source when the ffmpeg account is full:
// Env.Audio stays nil, so the packager carries the source's own audio.
func TestNoNode(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not found")
	}
	full, err := ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: ffmpeg.AudioUnits / 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		tracks []stream.Track
		acct   *ffmpeg.Account
	}{
		{"aac", []stream.Track{{Codec: testH264}, {Codec: stream.AAC{Config: aacConfig[:]}}}, nil},
		{"video only", []stream.Track{{Codec: testH264}}, nil},
		{"opus, account full", []stream.Track{{Codec: testH264}, {Codec: testOpus}}, full},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t)
			pub, err := rg.hub.Publish("cam", tt.tracks, false)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.End()
			n, env, _ := build(t, New(Config{Account: tt.acct}), pub.Stream())
			if n != nil || env.Audio != nil {
				t.Fatalf("node %v, Env.Audio %+v: want none", n, env.Audio)
			}
		})
	}
}

func TestSampleConversions(t *testing.T) {
	for _, s := range []int64{0, 1, 959, 960, 1024, 48000, 48000*3600 + 7, -960} {
		if got := durationToSamples(samplesToDuration(s)); got != s {
			t.Errorf("durationToSamples(samplesToDuration(%d)) = %d", s, got)
		}
	}
	// PTS from 48 kHz RTP time as the WHIP ingest computes it (truncated)
	for _, ext := range []int64{1, 479, 48001, 1 << 31} {
		d := time.Duration(ext * int64(time.Second) / sampleRate)
		if got := durationToSamples(d); got != ext {
			t.Errorf("durationToSamples(%v) = %d, want %d", d, got, ext)
		}
	}
}
