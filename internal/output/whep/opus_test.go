package whep

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// aacFrames makes seconds of AAC-LC 48 kHz stereo with ffmpeg and returns
// its raw frames (ADTS headers stripped) and AudioSpecificConfig.
func aacFrames(t *testing.T, seconds int) ([][]byte, []byte) {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	out := filepath.Join(t.TempDir(), "a.aac")
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", (time.Duration(seconds) * time.Second).String(), "-ac", "2", "-c:a", "aac", "-f", "adts", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for len(b) >= 7 && b[0] == 0xff && b[1]&0xf0 == 0xf0 {
		n := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
		hl := 7
		if b[1]&1 == 0 {
			hl = 9
		}
		if n < hl || n > len(b) {
			break
		}
		frames = append(frames, b[hl:n])
		b = b[n:]
	}
	// AAC LC (2), 48 kHz (index 3), 2 channels
	return frames, []byte{0x11, 0x90}
}

func TestADTSRoundTrip(t *testing.T) {
	f, ok := adts([]byte{0x11, 0x90}, []byte{1, 2, 3})
	if !ok || len(f) != 10 || f[0] != 0xff || f[1] != 0xf1 {
		t.Fatalf("adts header %x", f)
	}
	if n := int(f[3]&3)<<11 | int(f[4])<<3 | int(f[5])>>5; n != 10 {
		t.Fatalf("frame length %d", n)
	}
	var got [][]byte
	page := func(cont byte, segs []byte, body []byte) []byte {
		h := append([]byte("OggS"), 0, cont)
		h = append(h, make([]byte, 20)...)
		h = append(h, byte(len(segs)))
		return append(append(h, segs...), body...)
	}
	long := bytes.Repeat([]byte{7}, 300)
	stream := append(page(0, []byte{3, 255}, append([]byte{1, 2, 3}, long[:255]...)), page(1, []byte{45}, long[255:])...)
	_ = readOggPackets(bytes.NewReader(stream), func(p []byte) { got = append(got, p) })
	if len(got) != 2 || len(got[0]) != 3 || len(got[1]) != 300 {
		t.Fatalf("ogg packets: %d", len(got))
	}
}

// TestAACToOpus: a stream with AAC audio is played with Opus made by one
// ffmpeg for all viewers.
func TestAACToOpus(t *testing.T) {
	frames, cfg := aacFrames(t, 8)
	ff, _ := exec.LookPath("ffmpeg")
	e := newTestEnv(t, func(c *Config) { c.FFmpegPath = ff })
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pub, err := e.hub.Publish(testID, []stream.Track{{Codec: stream.H264{SPS: sps, PPS: []byte{0x68, 0xce, 0x3c, 0x80}}}, {Codec: stream.AAC{Config: cfg}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		v, a := 0, 0
		for ctx.Err() == nil && a < len(frames) {
			el := time.Since(start)
			for ; time.Duration(v)*time.Second/30 <= el; v++ {
				d := time.Duration(v) * time.Second / 30
				nal := []byte{0x41, 1, 2, 3}
				if v%15 == 0 {
					nal[0] = 0x65
				}
				pub.Write(&stream.Unit{Track: 0, DTS: d, PTS: d, Wall: time.Now(), Key: v%15 == 0, NALUs: [][]byte{nal}})
			}
			for ; a < len(frames) && time.Duration(a)*1024*time.Second/48000 <= el; a++ {
				d := time.Duration(a) * 1024 * time.Second / 48000
				pub.Write(&stream.Unit{Track: 1, DTS: d, PTS: d, Wall: time.Now(), Key: true, Data: frames[a]})
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { cancel(); wg.Wait(); pub.End() }()
	var cs []*wheptest.Client
	for i := 0; i < 2; i++ {
		c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		cs = append(cs, c)
	}
	for {
		if cs[0].AudioPackets() > 50 && cs[1].AudioPackets() > 50 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("opus packets received: %d, %d", cs[0].AudioPackets(), cs[1].AudioPackets())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
