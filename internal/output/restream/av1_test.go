package restream

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// av1Units encodes seconds of AV1 (SVT-AV1, a key frame a second) and
// returns the temporal units as the hub carries them (OBUs without size
// fields) and the sequence header.
func av1Units(t *testing.T, seconds string) ([][][]byte, []byte) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	file := filepath.Join(t.TempDir(), "v.ivf")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", seconds,
		"-c:v", "libsvtav1", "-preset", "12", "-g", "30", "-b:v", "300k", "-f", "ivf", file).CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode AV1 here: %v %s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := whiptest.ReadIVF(b)
	if err != nil {
		t.Fatal(err)
	}
	var tus [][][]byte
	var seq []byte
	for _, f := range frames {
		var bs av1.Bitstream
		if err := bs.Unmarshal(f); err != nil {
			t.Fatal(err)
		}
		for _, o := range bs {
			var h av1.OBUHeader
			if seq == nil && h.Unmarshal(o) == nil && h.Type == av1.OBUTypeSequenceHeader {
				seq = o
			}
		}
		tus = append(tus, bs)
	}
	if seq == nil {
		t.Fatal("no sequence header in the AV1 stream")
	}
	return tus, seq
}

// TestRTMPPushAV1 pushes AV1 + Opus as Enhanced RTMP (av01, Opus): the
// target's ingest sees the same sequence header, Opus, and a key frame
// first.
func TestRTMPPushAV1(t *testing.T) {
	tus, seq := av1Units(t, "4")
	codec := stream.AV1{SequenceHeader: seq}
	tg := newTarget(t, "")
	pushToTarget(t, tg, "li_av1", []stream.Track{{Codec: codec}, {Codec: stream.Opus{ChannelCount: 2}}}, func(pub *stream.Publisher, i int, d time.Duration) {
		tu := tus[i%len(tus)]
		pub.Write(&stream.Unit{Track: 0, DTS: d, PTS: d, Wall: time.Now(), Key: av1.IsRandomAccess2(tu), NALUs: tu})
		pub.Write(&stream.Unit{Track: 1, DTS: d, PTS: d, Wall: time.Now(), Data: []byte{0xfc, 0xff, 0xfe}}) // a 20 ms CELT frame
	})
	units := tg.waitUnits(t, 60, 20*time.Second)
	tracks := tg.hub.Get(targetID).Tracks()
	if len(tracks) != 2 || !tracks[0].Codec.Equal(codec) || !tracks[1].Codec.Equal(stream.Opus{ChannelCount: 2}) {
		t.Fatalf("target tracks %+v", tracks)
	}
	checkMedia(t, units)
}

// TestSRTAV1Unsupported: MPEG-TS here carries no AV1; the SRT output says
// so and does not retry.
func TestSRTAV1Unsupported(t *testing.T) {
	tg := newTarget(t, "")
	hub := stream.NewHub(stream.HubConfig{})
	defer hub.Close()
	pub, err := hub.Publish("li_av1", []stream.Track{{Codec: stream.AV1{SequenceHeader: testAV1SeqHdr}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.End()
	o := New(Config{ID: "out_srt_av1", LiveInputID: "li_av1", Logger: testLog(),
		Target: Target{URL: "srt://" + tg.srtAddr + "?streamid=publish:" + targetKey + "&passphrase=" + targetPassphrase}})
	runOutput(t, o, pub.Stream())
	st := waitState(t, o, StateErrored, 10*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeUnsupportedCodec || st.Attempts != 1 {
		t.Fatalf("status %+v %+v", st, st.LastError)
	}
	t.Logf("last error: %s", st.LastError.Message)
}
