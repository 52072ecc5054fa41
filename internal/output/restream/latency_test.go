package restream

import (
	"context"
	"encoding/binary"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestAddedLatency measures the time from a unit's arrival in the source
// hub to its arrival in the target's hub (the target's ingest stamps
// Wall), over RTMP and SRT on loopback. The source stamps its send time
// into each video frame, which both protocols carry through unchanged.
func TestAddedLatency(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(tg *target) string
	}{
		{"rtmp", func(tg *target) string { return "rtmp://" + tg.rtmpAddr + "/live" }},
		{"srt", func(tg *target) string {
			return "srt://" + tg.srtAddr + "?" + url.Values{"passphrase": {targetPassphrase}, "latency": {"20"}}.Encode()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, "")
			hub := stream.NewHub(stream.HubConfig{})
			defer hub.Close()
			pub, err := hub.Publish("li_lat", []stream.Track{{Codec: stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}}}, false)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.End()
			o := New(Config{ID: "out_lat", LiveInputID: "li_lat", Logger: testLog(), Target: Target{URL: tc.url(tg), StreamKey: targetKey}})
			runOutput(t, o, pub.Stream())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(time.Second / 30)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					nal := make([]byte, 3000)
					nal[0] = 0x41
					if i%30 == 0 {
						nal[0] = 0x65
					}
					now := time.Now()
					binary.BigEndian.PutUint64(nal[1:], uint64(now.UnixNano()))
					d := time.Duration(i) * time.Second / 30
					pub.Write(&stream.Unit{DTS: d, PTS: d, Wall: now, Key: i%30 == 0, NALUs: [][]byte{nal}})
				}
			}()
			defer func() { cancel(); <-done }()
			waitState(t, o, StateBroadcasting, 10*time.Second)
			units := tg.waitUnits(t, 150, 20*time.Second)
			var lat []time.Duration
			for _, u := range units {
				for _, n := range u.NALUs {
					if len(n) >= 9 && (n[0] == 0x41 || n[0] == 0x65) {
						sent := time.Unix(0, int64(binary.BigEndian.Uint64(n[1:])))
						lat = append(lat, u.Wall.Sub(sent))
					}
				}
			}
			if len(lat) < 100 {
				t.Fatalf("%d stamped frames", len(lat))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			t.Logf("figure: added latency source hub → target ingest over %s: median %v, p95 %v (%d frames)",
				tc.name, lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*95/100].Round(10*time.Microsecond), len(lat))
		})
	}
}

// TestPublisherReconnectKeepsOutputs: the publisher leaves and comes back
// inside the reconnect window; the stream continues, and so do the
// outputs, on the connection they had.
func TestPublisherReconnectKeepsOutputs(t *testing.T) {
	tg := newTarget(t, "")
	st := &memOutputs{}
	st.set(&store.LiveInputOutput{ID: "out_a", LiveInputID: "li_src", URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey, Enabled: true})
	m := NewManager(ManagerConfig{Store: st, Logger: testLog()})
	defer m.Close()
	hub := stream.NewHub(stream.HubConfig{ReconnectWindow: 5 * time.Second, OnStart: m.Start, OnEnd: m.End})
	defer hub.Close()
	tracks := []stream.Track{{Codec: stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}}}
	feed := func(p *stream.Publisher, from, n int) {
		for i := from; i < from+n; i++ {
			d := time.Duration(i) * time.Second / 30
			nal := []byte{0x41, 1, 2, 3}
			if i%30 == 0 {
				nal[0] = 0x65
			}
			p.Write(&stream.Unit{DTS: d, PTS: d, Wall: time.Now(), Key: i%30 == 0, NALUs: [][]byte{nal}})
			time.Sleep(time.Second / 30)
		}
	}
	p1, err := hub.Publish("li_src", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	feed(p1, 0, 10)
	first := waitManaged(t, m, "li_src", "out_a", StateBroadcasting)
	feed(p1, 10, 30)
	p1.Close() // the encoder drops
	time.Sleep(500 * time.Millisecond)
	p2, err := hub.Publish("li_src", tracks, false)
	if err != nil {
		t.Fatal(err)
	}
	feed(p2, 0, 60) // its timestamps restart
	s, ok := m.Status("li_src", "out_a")
	if !ok || s.State != StateBroadcasting || !s.ConnectedAt.Equal(*first.ConnectedAt) {
		t.Fatalf("after the publisher's reconnect: running %v %+v (connected first at %v)", ok, s, first.ConnectedAt)
	}
	p2.End()
	waitManaged(t, m, "li_src", "out_a", "")
}
