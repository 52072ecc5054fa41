package restream

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestRTMPPushHEVC pushes H.265 as Enhanced RTMP (hvc1): the target's
// ingest sees the same parameter sets and key frames.
func TestRTMPPushHEVC(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "4",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=30:bframes=0:log-level=error", "-f", "hevc", "-").Output()
	if err != nil {
		t.Skipf("ffmpeg cannot encode H.265 here: %v", err)
	}
	aus := rtmptest.HEVCAccessUnits(rtmptest.SplitAnnexB(out))
	var codec stream.H265
	for _, n := range aus[0] {
		switch (n[0] >> 1) & 0x3F {
		case 32:
			codec.VPS = n
		case 33:
			codec.SPS = n
		case 34:
			codec.PPS = n
		}
	}
	tg := newTarget(t, "")
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	pub, err := hub.Publish("li_hevc", []stream.Track{{Codec: codec}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	o := New(Config{ID: "out_hevc", LiveInputID: "li_hevc", Logger: testLog(), Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey}})
	runOutput(t, o, pub.Stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			au := aus[i%len(aus)]
			key := false
			for _, n := range au {
				if t := (n[0] >> 1) & 0x3F; t >= 16 && t <= 23 {
					key = true
				}
			}
			d := time.Duration(i) * time.Second / 30
			pub.Write(&stream.Unit{DTS: d, PTS: d, Wall: time.Now(), Key: key, NALUs: au})
			time.Sleep(time.Second / 30)
		}
	}()
	defer func() { cancel(); <-done }()
	units := tg.waitUnits(t, 45, 20*time.Second)
	tracks := tg.hub.Get(targetID).Tracks()
	if len(tracks) != 1 || !tracks[0].Codec.Equal(codec) {
		t.Fatalf("target tracks %+v", tracks)
	}
	if !units[0].Key {
		t.Fatal("first unit at the target is not a key frame")
	}
}
