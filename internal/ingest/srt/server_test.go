package srt

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/srt/srttest"
	"github.com/mpegflow/mpegflow/internal/mpegts"
	"github.com/mpegflow/mpegflow/internal/stream"
)

const (
	testKey        = "sk_live_0123456789"
	testPassphrase = "correct-horse-battery"
)

// unitSummary is what a hub reader saw of a stream.
type unitSummary struct {
	tracks      []stream.Track
	video       int
	audio       int
	keys        int
	ptsNotDTS   int
	nonMonotone int
	noWall      int
	discont     int
}

// readUnits reads the stream for d (or until it ends) and summarizes.
func readUnits(t *testing.T, s *stream.Stream, d time.Duration) unitSummary {
	t.Helper()
	r := s.AddReader("test", stream.ReaderOptions{QueueSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	sum := unitSummary{tracks: s.Tracks()}
	last := map[int]time.Duration{}
	for {
		u, err := r.Next(ctx)
		if err != nil {
			return sum
		}
		kind := sum.tracks[u.Track].Kind()
		if kind == stream.KindVideo {
			sum.video++
			if u.Key {
				sum.keys++
			}
			if u.PTS != u.DTS {
				sum.ptsNotDTS++
			}
		} else {
			sum.audio++
		}
		if prev, ok := last[u.Track]; ok && u.DTS <= prev {
			sum.nonMonotone++
		}
		last[u.Track] = u.DTS
		if u.Wall.IsZero() {
			sum.noWall++
		}
		if u.Discontinuity {
			sum.discont++
		}
	}
}

func checkAV(t *testing.T, sum unitSummary, videoCodec, audioCodec string) {
	t.Helper()
	t.Logf("video %d (key %d, pts!=dts %d), audio %d, discontinuities %d", sum.video, sum.keys, sum.ptsNotDTS, sum.audio, sum.discont)
	if len(sum.tracks) != 2 || sum.tracks[0].Codec.Name() != videoCodec || sum.tracks[1].Codec.Name() != audioCodec {
		names := []string{}
		for _, tr := range sum.tracks {
			names = append(names, tr.Codec.Name())
		}
		t.Fatalf("tracks %v, want [%s %s]", names, videoCodec, audioCodec)
	}
	if sum.video < 30 || sum.audio < 30 {
		t.Errorf("got %d video and %d audio units, want at least 30 of each", sum.video, sum.audio)
	}
	if sum.keys < 1 {
		t.Error("no key frame")
	}
	if videoCodec == "h264" && sum.ptsNotDTS == 0 {
		t.Error("no unit with PTS != DTS although the clip has B-frames")
	}
	if sum.nonMonotone != 0 || sum.noWall != 0 {
		t.Errorf("%d units with non-increasing DTS, %d without Wall", sum.nonMonotone, sum.noWall)
	}
}

func TestFFmpegPublish(t *testing.T) {
	needFFmpeg(t)
	clip := makeTS(t, 4, "libx264", "aac")
	tests := []struct {
		name       string
		streamID   string
		passphrase string // of the live input and the publisher
		pbkeylen   int
		encode     bool // percent-encode the stream id in the URL
	}{
		{"publish prefix, AES-128", "publish:" + testKey, testPassphrase, 16, false},
		{"access control, AES-192", "#!::r=" + testKey + ",m=publish", testPassphrase, 24, false},
		{"bare key, AES-256", testKey, testPassphrase, 32, false},
		{"bare key, unencrypted", testKey, "", 0, false},
		{"access control percent-encoded", "#!::m=publish,r=" + testKey, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey, SRTPassphrase: tc.passphrase}}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			var stderr string
			go func() {
				var err error
				stderr, err = publish(ctx, clip, srtURL(env.port, tc.streamID, tc.passphrase, tc.pbkeylen, tc.encode))
				done <- err
			}()
			s := waitStream(t, env.hub, "li1", 10*time.Second)
			sum := readUnits(t, s, 2*time.Second)
			if err := <-done; err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, stderr)
			}
			checkAV(t, sum, "h264", "aac")
			if c := sum.tracks[1].Codec.(stream.AAC); len(c.Config) != 2 {
				t.Errorf("AAC config %x", c.Config)
			}
			if h := sum.tracks[0].Codec.(stream.H264); len(h.SPS) == 0 || len(h.PPS) == 0 {
				t.Error("H.264 track without SPS/PPS")
			}
			m := env.metrics
			m.mu.Lock()
			opened := m.opened
			m.mu.Unlock()
			if opened != 1 {
				t.Errorf("SessionOpened %d times, want 1", opened)
			}
		})
	}
}

func TestFFmpegRejected(t *testing.T) {
	needFFmpeg(t)
	clip := makeTS(t, 1, "libx264", "aac")
	entries := []auth.StaticEntry{
		{ID: "secret", StreamKey: "key-secret", SRTPassphrase: testPassphrase},
		{ID: "open", StreamKey: "key-open"},
	}
	tests := []struct {
		name       string
		streamID   string
		passphrase string
		pbkeylen   int
		reason     string
		live       string
	}{
		{"unknown key", "publish:nope-not-a-key", "", 0, reasonUnknownKey, ""},
		{"empty stream id", "", "", 0, reasonUnknownKey, ""},
		{"wrong passphrase", "publish:key-secret", "wrong-passphrase", 16, reasonBadPassphrase, "secret"},
		{"missing passphrase", "publish:key-secret", "", 0, reasonEncryptionNeeded, "secret"},
		{"encryption without passphrase on input", "key-open", testPassphrase, 16, reasonEncryptionRefuse, "open"},
		{"request mode", "#!::r=key-open,m=request", "", 0, reasonUnsupported, "open"},
	}
	env := startServer(t, entries, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := env.metrics.rejects(tc.reason)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stderr, err := publish(ctx, clip, srtURL(env.port, tc.streamID, tc.passphrase, tc.pbkeylen, false))
			if err == nil {
				t.Fatalf("ffmpeg published although it should be rejected:\n%s", stderr)
			}
			if got := env.metrics.rejects(tc.reason); got != before+1 {
				t.Errorf("Rejected(%q) counted %d times, want 1; ffmpeg said:\n%s", tc.reason, got-before, stderr)
			}
			if len(env.hub.Streams()) != 0 {
				t.Errorf("a rejected publisher created streams %v", env.hub.Streams())
			}
		})
	}
	if logs := env.logs.String(); containsAny(logs, "key-secret", "key-open", "nope-not-a-key") {
		t.Errorf("a stream key appears in the log:\n%s", logs)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if len(x) > 0 && contains(s, x) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (func() bool {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
		return false
	})()
}

func TestFFmpegPacketLoss(t *testing.T) {
	needFFmpeg(t)
	clip := makeTS(t, 5, "libx264", "aac")
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, nil)
	relay, err := srttest.NewRelay(env.srv.Addr().String(), 0.03, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		stderr, err = publish(ctx, clip, fmt.Sprintf("srt://%s?streamid=%s", relay.Addr(), testKey))
		done <- err
	}()
	s := waitStream(t, env.hub, "li1", 10*time.Second)
	sum := readUnits(t, s, 3*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	checkAV(t, sum, "h264", "aac")
	if relay.Dropped() == 0 {
		t.Fatal("the relay dropped nothing")
	}
	// the stream ends when the publisher leaves; wait for the last sample
	deadline := time.Now().Add(5 * time.Second)
	for {
		env.stats.mu.Lock()
		ended := env.stats.ended
		env.stats.mu.Unlock()
		if ended > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tot, n := env.stats.totals()
	t.Logf("relay dropped %d of %d; %d samples: %+v", relay.Dropped(), relay.Forwarded()+relay.Dropped(), n, tot)
	if tot.PacketsLost == 0 && tot.PacketsRetransmitted == 0 {
		t.Error("statistics show neither loss nor retransmission")
	}
	if tot.PacketsReceived == 0 || tot.Bitrate <= 0 {
		t.Error("statistics show no traffic")
	}
	env.stats.mu.Lock()
	cc := env.stats.tsErrors[mpegts.ErrContinuity]
	env.stats.mu.Unlock()
	t.Logf("continuity errors after SRT recovery: %d", cc)
}

func TestServerCloseIdempotent(t *testing.T) {
	dir, _ := auth.NewStatic(nil)
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	srv, err := New(Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	// Close before Run: Run returns at once.
	srv2, err := New(Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv2.Close()
	if err := srv2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Address: "127.0.0.1:0", Hub: hub}); err == nil {
		t.Fatal("New without Directory succeeded")
	}
	if err := srv.Run(context.Background()); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("second Run: %v, want an error", err)
	}
}

func TestFFmpegPublishH265Opus(t *testing.T) {
	needFFmpeg(t)
	clip := makeTS(t, 3, "libx265", "libopus")
	env := startServer(t, []auth.StaticEntry{{ID: "li1", StreamKey: testKey}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		stderr, err = publish(ctx, clip, srtURL(env.port, "publish:"+testKey, "", 0, false))
		done <- err
	}()
	s := waitStream(t, env.hub, "li1", 10*time.Second)
	sum := readUnits(t, s, 2*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	checkAV(t, sum, "h265", "opus")
	if c := sum.tracks[1].Codec.(stream.Opus); c.ChannelCount != 1 {
		t.Errorf("opus channels %d, want 1 (mono sine)", c.ChannelCount)
	}
	if h := sum.tracks[0].Codec.(stream.H265); len(h.VPS) == 0 || len(h.SPS) == 0 || len(h.PPS) == 0 {
		t.Error("H.265 track without VPS/SPS/PPS")
	}
}
