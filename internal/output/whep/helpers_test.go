package whep

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

const testID = "cam1"

type testEnv struct {
	srv  *Server
	hub  *stream.Hub
	ice  *webrtcice.Mux
	http *httptest.Server
}

// tokenGate stands for the playback gate: it admits ?token=good (a bearer
// token arrives there too) and refuses the rest with 401.
type tokenGate struct{}

func (tokenGate) Authorize(w http.ResponseWriter, r *http.Request, id string) (string, bool) {
	if r.URL.Query().Get("token") != "good" {
		writeError(w, http.StatusUnauthorized, "token_missing", "a playback token is required")
		return "", false
	}
	return id, true
}

func newTestEnv(t *testing.T, mod func(*Config)) *testEnv {
	return newTestEnvICE(t, webrtcice.Config{UDPAddress: "127.0.0.1:0"}, mod)
}

func newTestEnvICE(t *testing.T, ic webrtcice.Config, mod func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{hub: stream.NewHub(stream.HubConfig{ReconnectWindow: 500 * time.Millisecond})}
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: testID, StreamKey: "k1"}, {ID: "idle", StreamKey: "k2"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.ice, err = webrtcice.New(ic); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ICE: e.ice, Hub: e.hub, Inputs: dir,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if mod != nil {
		mod(&cfg)
	}
	if e.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		_ = e.srv.Close()
		e.hub.Close()
		_ = e.ice.Close()
	})
	return e
}

func (e *testEnv) endpoint(id string) string { return e.http.URL + "/whep/" + id }

func (e *testEnv) sessions() int {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	return len(e.srv.sessions)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// publish writes synthetic H.264 (30 fps, a key frame every gop frames,
// PTS = DTS unless bframes) and Opus (20 ms) into the hub until the
// returned stop is called; stop ends the stream, leave (of publishFor)
// only detaches the publisher, as a dropped connection does.
func publish(t *testing.T, hub *stream.Hub, id string, gop int, bframes bool) (stop func()) {
	end, _ := publishFor(t, hub, id, gop, bframes)
	return end
}

func publishFor(t *testing.T, hub *stream.Hub, id string, gop int, bframes bool) (end, leave func()) {
	t.Helper()
	return publishThen(t, hub, id, gop, bframes, nil)
}

// publishThen is publishFor calling before (when not nil) with the stream
// before the first unit is written.
func publishThen(t *testing.T, hub *stream.Hub, id string, gop int, bframes bool, before func(*stream.Stream)) (end, leave func()) {
	t.Helper()
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	pub, err := hub.Publish(id, []stream.Track{{Codec: stream.H264{SPS: sps, PPS: pps}}, {Codec: stream.Opus{ChannelCount: 2}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(pub.Stream())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		frames := 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				el := now.Sub(start)
				pub.Write(&stream.Unit{Track: 1, DTS: el, PTS: el, Wall: now, Key: true, Data: make([]byte, 80)})
				for ; time.Duration(frames)*time.Second/30 <= el; frames++ {
					dts := time.Duration(frames) * time.Second / 30
					pts := dts
					if bframes {
						pts += 2 * time.Second / 30
					}
					key := frames%gop == 0
					nal := make([]byte, 3000)
					nal[0] = 0x41
					if key {
						nal[0] = 0x65
					}
					pub.Write(&stream.Unit{Track: 0, DTS: dts, PTS: pts, Wall: now, Key: key, NALUs: [][]byte{nal}})
				}
			}
		}
	}()
	return func() {
			cancel()
			wg.Wait()
			pub.End()
		}, func() {
			cancel()
			wg.Wait()
			pub.Close()
		}
}
