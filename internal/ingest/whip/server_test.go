package whip

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/httperr"
	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

type unitStats struct {
	video, audio, keys    int
	firstVideo, lastVideo time.Duration
	firstAudio, lastAudio time.Duration
	backwards             int
}

// collect reads units until the stream ends or ctx is done.
func collect(ctx context.Context, r *stream.Reader, tracks []stream.Track) unitStats {
	var st unitStats
	lastV, lastA := time.Duration(-1), time.Duration(-1)
	for {
		u, err := r.Next(ctx)
		if err != nil {
			return st
		}
		if tracks[u.Track].Kind() == stream.KindVideo {
			if st.video == 0 {
				st.firstVideo = u.PTS
			}
			if u.DTS <= lastV {
				st.backwards++
			}
			lastV = u.DTS
			st.video++
			st.lastVideo = u.PTS
			if u.Key {
				st.keys++
			}
		} else {
			if st.audio == 0 {
				st.firstAudio = u.PTS
			}
			if u.DTS <= lastA {
				st.backwards++
			}
			lastA = u.DTS
			st.audio++
			st.lastAudio = u.PTS
		}
	}
}

func TestPublishH264Opus(t *testing.T) {
	h264, opus := testMedia(t, 4)
	e := newTestEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sess, err := whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if sess.ETag == "" {
		t.Error("no ETag")
	}
	streamed := make(chan error, 1)
	go func() { streamed <- sess.Stream(ctx, h264, 30, opus) }()

	var st startedStream
	select {
	case st = <-e.started:
	case <-ctx.Done():
		t.Fatal("stream never started")
	}
	tracks := st.s.Tracks()
	if len(tracks) != 2 {
		t.Fatalf("tracks = %d, want 2", len(tracks))
	}
	h, ok := tracks[0].Codec.(stream.H264)
	if !ok || len(h.SPS) == 0 || len(h.PPS) == 0 {
		t.Fatalf("video track %#v, want H.264 with SPS/PPS", tracks[0].Codec)
	}
	// Opus as it came: the live graph's transcode.audio node makes AAC
	if got := tracks[1].Codec.Name(); got != "opus" {
		t.Fatalf("audio track %s, want opus", got)
	}

	stats := make(chan unitStats, 1)
	go func() { stats <- collect(ctx, st.r, tracks) }()
	if err := <-streamed; err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the last frames through
	if err := sess.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.s.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end after DELETE")
	}
	s := <-stats
	t.Logf("units: %+v, PLIs sent: %d", s, sess.PLIs())
	if s.video < 90 || s.keys < 3 {
		t.Errorf("video units %d keys %d, want ≥ 90 and ≥ 3 of 120 frames", s.video, s.keys)
	}
	if s.audio < 100 {
		t.Errorf("audio units %d, want ≥ 100", s.audio)
	}
	if s.backwards != 0 {
		t.Errorf("%d units went backwards", s.backwards)
	}
	if s.firstVideo != 0 {
		t.Errorf("first video PTS %v, want 0", s.firstVideo)
	}
	if d := s.lastVideo - s.firstVideo; d < 2500*time.Millisecond || d > 4200*time.Millisecond {
		t.Errorf("video spans %v, want about 4 s", d)
	}
	if d := s.lastAudio - s.lastVideo; d < -700*time.Millisecond || d > 700*time.Millisecond {
		t.Errorf("audio ends %v after video, want A/V within 700 ms", d)
	}
	if s.firstAudio < 0 || s.firstAudio > 500*time.Millisecond {
		t.Errorf("first audio PTS %v", s.firstAudio)
	}
	if err := sess.Delete(ctx); err == nil {
		t.Error("second DELETE succeeded, want 404")
	}
}

func TestRejects(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	validOffer := func(t *testing.T) string {
		// an offer from the test client, captured via a dial to a bad key
		return minimalOffer
	}
	tests := []struct {
		name, id, bearer, ctype, body string
		code                          int
		contains                      string
	}{
		{"bad bearer", testID, "wrong", "application/sdp", minimalOffer, 401, "bearer"},
		{"no bearer", testID, "", "application/sdp", minimalOffer, 401, "bearer"},
		{"key of another input", testID, "other-key", "application/sdp", minimalOffer, 401, "bearer"},
		{"unknown id", "nope", testKey, "application/sdp", minimalOffer, 404, "live input"},
		{"malformed sdp", testID, testKey, "application/sdp", "hello", 400, "malformed"},
		{"garbage sdp", testID, testKey, "application/sdp", "v=0\r\nm=video x y\r\n", 400, "malformed"},
		{"wrong content type", testID, testKey, "text/plain", minimalOffer, 415, "application/sdp"},
		{"vp8 and vp9 only", testID, testKey, "application/sdp", vp8Offer, 406, "vp8, vp9"},
	}
	_ = validOffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := whiptest.Post(ctx, e.endpoint(tt.id), tt.bearer, tt.ctype, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.code, body)
			}
			if !containsFold(body, tt.contains) {
				t.Errorf("body %q does not mention %q", body, tt.contains)
			}
			var env httperr.Envelope // the API's error body
			if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Errorf("body %q is not {\"error\": {\"code\", \"message\"}}", body)
			}
		})
	}

	t.Run("vp8-only client", func(t *testing.T) {
		_, err := whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{Video: "vp8"})
		var se *whiptest.StatusError
		if !errors.As(err, &se) || se.Code != 406 || !containsFold(se.Body, "vp8") {
			t.Fatalf("err %v, want 406 naming vp8", err)
		}
	})
	t.Run("options", func(t *testing.T) {
		resp, _, err := doReq(ctx, "OPTIONS", e.endpoint(testID))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!containsFold(resp.Header.Get("Access-Control-Allow-Headers"), "authorization") {
			t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		for _, m := range []string{"DELETE", "PATCH"} {
			resp, _, err := doReq(ctx, m, e.endpoint(testID)+"/deadbeef")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 404 {
				t.Errorf("%s unknown session: %d, want 404", m, resp.StatusCode)
			}
		}
	})
}
