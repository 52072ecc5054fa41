package transcode

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// ivfFrames splits an IVF file (the libvpx container: a 32-byte header,
// then 12-byte frame headers) into frames.
func ivfFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) < 32 || string(b[:4]) != "DKIF" {
		t.Fatal("not ivf")
	}
	b = b[binary.LittleEndian.Uint16(b[6:]):]
	var out [][]byte
	for len(b) >= 12 {
		n := int(binary.LittleEndian.Uint32(b))
		if 12+n > len(b) {
			break
		}
		out = append(out, b[12:12+n])
		b = b[12+n:]
	}
	return out
}

// adtsFrames splits ADTS (ISO/IEC 14496-3 §1.A.2) into raw AAC frames.
func adtsFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) >= 7 && b[0] == 0xFF && b[1]&0xF0 == 0xF0 {
		hl := 7
		if b[1]&1 == 0 {
			hl = 9
		}
		n := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5]>>5)
		if n < hl || n > len(b) {
			break
		}
		out = append(out, b[hl:n])
		b = b[n:]
	}
	return out
}

// TestMKVMuxerFFmpeg muxes VP8 (VP9) frames and AAC frames made by ffmpeg
// and has ffmpeg decode the result from a pipe without a warning.
func TestMKVMuxerFFmpeg(t *testing.T) {
	for _, codec := range []string{"vp8", "vp9"} {
		t.Run(codec, func(t *testing.T) { testMKVMuxerFFmpeg(t, codec) })
	}
}

func testMKVMuxerFFmpeg(t *testing.T, codec string) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tracks, units := vpxClipUnits(t, codec, 2, 3*time.Second)
	var buf bytes.Buffer
	m, err := newMKVMuxer(&buf, tracks, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if err := m.write(u); err != nil {
			t.Fatal(err)
		}
	}
	probe := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,sample_rate,channels",
		"-of", "csv=p=0", "-f", "matroska", "-i", "pipe:0")
	probe.Stdin = bytes.NewReader(buf.Bytes())
	out, err := probe.CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	if s := string(out); !strings.Contains(s, codec+",320,240") || !strings.Contains(s, "aac,48000,2") {
		t.Fatalf("ffprobe: %s", s)
	}
	dec := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "warning", "-copyts", "-f", "matroska", "-i", "pipe:0",
		"-f", "framemd5", "-")
	dec.Stdin = bytes.NewReader(buf.Bytes())
	var stderr bytes.Buffer
	dec.Stderr = &stderr
	md5, err := dec.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("decode: %v: %s", err, stderr.String())
	}
	var video int
	var num, den int
	first := true
	for _, l := range strings.Split(string(md5), "\n") {
		if strings.HasPrefix(l, "#tb 0:") {
			_, _ = fmt.Sscanf(strings.TrimSpace(l[6:]), "%d/%d", &num, &den)
		}
		if strings.HasPrefix(l, "0,") {
			video++
			if first {
				first = false
				var pts int
				_, _ = fmt.Sscanf(strings.TrimSpace(strings.Split(l, ",")[2]), "%d", &pts)
				if den == 0 || time.Duration(pts)*time.Duration(num)*time.Second/time.Duration(den) != tsPad {
					t.Fatalf("first video pts %d x %d/%d s, want tsPad", pts, num, den)
				}
			}
		}
	}
	if video != 60 {
		t.Fatalf("decoded %d video frames, want 60", video)
	}
}

// vp8ClipUnits encodes a 320x240 30 fps VP8 clip (key frame every second)
// with AAC audio and returns its units, interleaved, starting at base.
func vp8ClipUnits(t *testing.T, seconds int, base time.Duration) ([]stream.Track, []*stream.Unit) {
	t.Helper()
	return vpxClipUnits(t, "vp8", seconds, base)
}

// vpxClipUnits is vp8ClipUnits for codec "vp8" (libvpx) or "vp9"
// (libvpx-vp9, profile 0).
func vpxClipUnits(t *testing.T, codec string, seconds int, base time.Duration) ([]stream.Track, []*stream.Unit) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	dir := t.TempDir()
	d := strconv.Itoa(seconds)
	enc := []string{"-c:v", "libvpx"}
	if codec == "vp9" {
		enc = []string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"}
	}
	args := []string{"-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=s=320x240:r=30", "-f", "lavfi", "-i", "sine=r=48000",
		"-t", d, "-map", "0:v"}
	args = append(args, enc...)
	gen := exec.Command("ffmpeg", append(args, "-g", "30", "-b:v", "300k", "-f", "ivf", filepath.Join(dir, "v.ivf"),
		"-map", "1:a", "-c:a", "aac", "-ac", "2", "-t", d, "-f", "adts", filepath.Join(dir, "a.aac"))...)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v: %s", err, out)
	}
	ivf, _ := os.ReadFile(filepath.Join(dir, "v.ivf"))
	aac, _ := os.ReadFile(filepath.Join(dir, "a.aac"))
	frames, afr := ivfFrames(t, ivf), adtsFrames(t, aac)
	if len(frames) != 30*seconds || len(afr) < 45*seconds {
		t.Fatalf("%d video, %d audio frames", len(frames), len(afr))
	}
	tracks := []stream.Track{{Codec: stream.VP8{Width: 320, Height: 240}}, {Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}
	key := func(f []byte) bool { return f[0]&1 == 0 } // RFC 6386 §9.1
	if codec == "vp9" {
		tracks[0].Codec = stream.VP9{Width: 320, Height: 240}
		// profile 0: frame_marker 2, profile, show_existing_frame, frame_type
		key = func(f []byte) bool { return f[0]&0x0c == 0 }
	}
	var units []*stream.Unit
	wall := time.Now()
	ai := 0
	for i, f := range frames {
		pts := base + time.Duration(i)*time.Second/30
		units = append(units, &stream.Unit{Track: 0, DTS: pts, PTS: pts, Key: key(f), NALUs: [][]byte{f}, Wall: wall.Add(pts - base)})
		for ; ai < len(afr); ai++ {
			apts := base + time.Duration(ai)*1024*time.Second/48000
			if apts > pts {
				break
			}
			units = append(units, &stream.Unit{Track: 1, DTS: apts, PTS: apts, Key: true, Data: afr[ai], Wall: wall.Add(apts - base)})
		}
	}
	return tracks, units
}

func TestMKVMuxerRejects(t *testing.T) {
	if _, err := newMKVMuxer(&bytes.Buffer{}, []stream.Track{{Codec: stream.H264{}}}, 0); err == nil {
		t.Fatal("h264 accepted")
	}
	if _, err := newMKVMuxer(&bytes.Buffer{}, []stream.Track{{Codec: stream.AAC{Config: []byte{0x11, 0x90}}}}, 0); err == nil {
		t.Fatal("no video accepted")
	}
	if _, err := newMKVMuxer(&bytes.Buffer{}, []stream.Track{{Codec: stream.VP8{}}, {Codec: stream.AAC{Config: []byte{0x11}}}}, 0); err == nil {
		t.Fatal("short asc accepted")
	}
	m, err := newMKVMuxer(&bytes.Buffer{}, []stream.Track{{Codec: stream.VP8{}}, {Codec: stream.Opus{ChannelCount: 2}}}, 0)
	if err != nil || m.aIdx != 1 {
		t.Fatalf("opus: %v", err)
	}
	if h := opusHead(2); len(h) != 19 || string(h[:8]) != "OpusHead" {
		t.Fatalf("opus head %x", h)
	}
}
