package restream

import (
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
	pushToTarget(t, tg, "li_hevc", []stream.Track{{Codec: codec}}, func(pub *stream.Publisher, i int, d time.Duration) {
		au := aus[i%len(aus)]
		key := false
		for _, n := range au {
			if t := (n[0] >> 1) & 0x3F; t >= 16 && t <= 23 {
				key = true
			}
		}
		pub.Write(&stream.Unit{DTS: d, PTS: d, Wall: time.Now(), Key: key, NALUs: au})
	})
	units := tg.waitUnits(t, 45, 20*time.Second)
	tracks := tg.hub.Get(targetID).Tracks()
	if len(tracks) != 1 || !tracks[0].Codec.Equal(codec) {
		t.Fatalf("target tracks %+v", tracks)
	}
	if !units[0].Key {
		t.Fatal("first unit at the target is not a key frame")
	}
}
