package hls

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not on PATH: install ffmpeg to run the decode checks", b)
		}
	}
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" && name == "ffmpeg" {
		t.Fatalf("%s %v reported errors:\n%s", name, args, s)
	}
	return out
}

type probePacket struct {
	video    bool
	pts, dts time.Duration
	key      bool
}

func probePackets(t *testing.T, file string) []probePacket {
	out := run(t, "ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time,flags", "-of", "csv=p=0", file)
	var pkts []probePacket
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 4 {
			continue
		}
		sec := func(s string) time.Duration {
			v, _ := strconv.ParseFloat(s, 64)
			return time.Duration(v * float64(time.Second))
		}
		pkts = append(pkts, probePacket{video: f[0] == "video", pts: sec(f[1]), dts: sec(f[2]), key: strings.HasPrefix(f[3], "K")})
	}
	return pkts
}

// splitAnnexB splits an Annex-B stream into access units at AUDs.
func splitAnnexB(b []byte) [][][]byte {
	var nalus [][]byte
	for {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			break
		}
		b = b[i+3:]
		j := bytes.Index(b, []byte{0, 0, 1})
		n := b
		if j >= 0 {
			n = b[:j]
		}
		nalus = append(nalus, bytes.TrimRight(n, "\x00"))
		if j < 0 {
			break
		}
	}
	var aus [][][]byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if n[0]&0x1F == 9 {
			aus = append(aus, nil)
			continue
		}
		if len(aus) > 0 {
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	return aus
}

func TestFFmpegDecode(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	ts := filepath.Join(dir, "in.ts")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-g", "30", "-x264-params", "aud=1",
		"-c:a", "aac", "-ac", "2", "-b:a", "96k", "-f", "mpegts", ts)
	h264 := filepath.Join(dir, "in.h264")
	aac := filepath.Join(dir, "in.aac")
	run(t, "ffmpeg", "-v", "error", "-i", ts, "-map", "0:v", "-c", "copy", "-f", "h264", h264, "-map", "0:a", "-c", "copy", "-f", "adts", aac)
	pkts := probePackets(t, ts)
	vb, _ := os.ReadFile(h264)
	ab, _ := os.ReadFile(aac)
	aus := splitAnnexB(vb)

	var vp, ap []probePacket
	for _, p := range pkts {
		if p.video {
			vp = append(vp, p)
		} else {
			ap = append(ap, p)
		}
	}
	if len(aus) != len(vp) {
		t.Fatalf("%d access units, %d packets", len(aus), len(vp))
	}
	var params H264
	for _, n := range aus[0] {
		switch n[0] & 0x1F {
		case 7:
			params.SPS = n
		case 8:
			params.PPS = n
		}
	}
	// ADTS frames (ISO/IEC 14496-3 §1.A.2)
	var frames [][]byte
	var asc []byte
	for len(ab) > 7 {
		l := int(ab[3]&3)<<11 | int(ab[4])<<3 | int(ab[5])>>5
		hl := 7
		if ab[1]&1 == 0 {
			hl = 9
		}
		if asc == nil {
			aot := ab[2]>>6 + 1
			sfi := (ab[2] >> 2) & 0xF
			ch := (ab[2]&1)<<2 | ab[3]>>6
			asc = []byte{aot<<3 | sfi>>1, sfi<<7 | ch<<3}
		}
		frames = append(frames, ab[hl:l])
		ab = ab[l:]
	}

	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := m.AddRendition(RenditionConfig{Name: "av", Video: params, Audio: AAC{Config: asc}})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := m.AddRendition(RenditionConfig{Name: "audio", Audio: AAC{Config: asc}})
	if err != nil {
		t.Fatal(err)
	}
	ai := 0
	for i, au := range aus {
		for ai < len(frames) && ai < len(ap) && ap[ai].pts <= vp[i].dts {
			u := AudioUnit{PTS: ap[ai].pts, Wall: testWall.Add(ap[ai].pts), Frame: frames[ai]}
			if err := r.WriteAudio(u); err != nil {
				t.Fatal(err)
			}
			if err := ra.WriteAudio(u); err != nil {
				t.Fatal(err)
			}
			ai++
		}
		if err := r.WriteVideo(VideoUnit{DTS: vp[i].dts, PTS: vp[i].pts, Wall: testWall.Add(vp[i].dts), Key: vp[i].key, NALUs: au}); err != nil {
			t.Fatal(err)
		}
	}
	m.End()

	for _, name := range []string{"av", "audio"} {
		pl := getPlaylist(t, m, name+"/media.m3u8")
		_, _, initData := get(t, m, name+"/init0.mp4")
		all := append([]byte{}, initData...)
		for i, s := range pl.segments {
			_, _, seg := get(t, m, name+"/"+s.uri)
			all = append(all, seg...)
			f := filepath.Join(dir, name+"seg"+strconv.Itoa(i)+".mp4")
			if err := os.WriteFile(f, append(append([]byte{}, initData...), seg...), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "ffmpeg", "-v", "error", "-i", f, "-f", "null", "-")
			for j, p := range s.parts {
				_, _, pb := get(t, m, name+"/"+p.uri)
				pf := filepath.Join(dir, name+"part"+strconv.Itoa(i)+"_"+strconv.Itoa(j)+".mp4")
				if err := os.WriteFile(pf, append(append([]byte{}, initData...), pb...), 0o644); err != nil {
					t.Fatal(err)
				}
				out := run(t, "ffprobe", "-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0", pf)
				if len(bytes.TrimSpace(out)) == 0 {
					t.Fatalf("part %s: no packets", p.uri)
				}
			}
		}
		f := filepath.Join(dir, name+"all.mp4")
		if err := os.WriteFile(f, all, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "ffmpeg", "-v", "error", "-i", f, "-f", "null", "-")
		if name == "av" {
			out := run(t, "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames,codec_name,width,height", "-of", "csv=p=0", f)
			if got := strings.TrimSpace(string(out)); got != "h264,320,240,"+strconv.Itoa(len(aus)) {
				t.Fatalf("ffprobe: %q, want %d frames", got, len(aus))
			}
		}
	}
}

// needEncoder skips the test when ffmpeg lacks the encoder.
func needEncoder(t *testing.T, enc string) {
	t.Helper()
	needFFmpeg(t)
	out := run(t, "ffmpeg", "-hide_banner", "-encoders")
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == enc {
			return
		}
	}
	t.Skipf("ffmpeg has no %s encoder: skipping its decode check", enc)
}

// splitAnnexBHEVC splits an H.265 Annex-B stream into access units at AUDs
// (ITU-T H.265 §7.4.2.4.4, NAL unit type 35).
func splitAnnexBHEVC(b []byte) [][][]byte {
	var aus [][][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			break
		}
		b = b[i+3:]
		n := b
		if j := bytes.Index(b, []byte{0, 0, 1}); j >= 0 {
			n, b = b[:j], b[j:]
		} else {
			b = nil
		}
		n = bytes.TrimRight(n, "\x00")
		if len(n) < 2 {
			continue
		}
		if (n[0]>>1)&0x3F == 35 {
			aus = append(aus, nil)
			continue
		}
		if len(aus) > 0 {
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	return aus
}

// oggPackets returns the packets of an Ogg stream (RFC 3533 §6).
func oggPackets(t *testing.T, b []byte) [][]byte {
	var pkts [][]byte
	var cur []byte
	for len(b) >= 27 {
		if string(b[:4]) != "OggS" {
			t.Fatalf("ogg: lost sync")
		}
		nseg := int(b[26])
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		b = body
	}
	return pkts
}

// checkDecode fetches every segment and part of a rendition through
// ServeHTTP, decodes each segment and the whole stream (init + segments)
// with ffmpeg, probes every part, and returns ffprobe's
// codec_name,codec_tag_string of the whole stream's first stream of kind sel ("v" or "a").
func checkDecode(t *testing.T, m *Muxer, dir, name, sel string) string {
	t.Helper()
	pl := getPlaylist(t, m, name+"/media.m3u8")
	if len(pl.segments) < 2 {
		t.Fatalf("%s: %d segments", name, len(pl.segments))
	}
	_, _, initData := get(t, m, name+"/init0.mp4")
	all := append([]byte{}, initData...)
	for i, s := range pl.segments {
		_, _, seg := get(t, m, name+"/"+s.uri)
		all = append(all, seg...)
		f := filepath.Join(dir, name+"seg"+strconv.Itoa(i)+".mp4")
		if err := os.WriteFile(f, append(append([]byte{}, initData...), seg...), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "ffmpeg", "-v", "error", "-i", f, "-f", "null", "-")
		for j, p := range s.parts {
			_, _, pb := get(t, m, name+"/"+p.uri)
			pf := filepath.Join(dir, name+"part"+strconv.Itoa(i)+"_"+strconv.Itoa(j)+".mp4")
			if err := os.WriteFile(pf, append(append([]byte{}, initData...), pb...), 0o644); err != nil {
				t.Fatal(err)
			}
			if out := run(t, "ffprobe", "-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0", pf); len(bytes.TrimSpace(out)) == 0 {
				t.Fatalf("%s part %s: no packets", name, p.uri)
			}
		}
	}
	f := filepath.Join(dir, name+"all.mp4")
	if err := os.WriteFile(f, all, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "ffmpeg", "-v", "error", "-i", f, "-f", "null", "-")
	out := run(t, "ffprobe", "-v", "error", "-select_streams", sel+":0", "-show_entries", "stream=codec_name,codec_tag_string", "-of", "csv=p=0", f)
	return strings.TrimSpace(string(out))
}

func TestFFmpegDecodeH265(t *testing.T) {
	needEncoder(t, "libx265")
	dir := t.TempDir()
	ts := filepath.Join(dir, "in.ts")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "5",
		"-c:v", "libx265", "-preset", "ultrafast", "-g", "30", "-bf", "2",
		"-x265-params", "aud=1:log-level=error:keyint=30:min-keyint=30:scenecut=0", "-f", "mpegts", ts)
	hevc := filepath.Join(dir, "in.hevc")
	run(t, "ffmpeg", "-v", "error", "-i", ts, "-map", "0:v", "-c", "copy", "-f", "hevc", hevc)
	var vp []probePacket
	for _, p := range probePackets(t, ts) {
		if p.video {
			vp = append(vp, p)
		}
	}
	vb, _ := os.ReadFile(hevc)
	aus := splitAnnexBHEVC(vb)
	if len(aus) != len(vp) {
		t.Fatalf("%d access units, %d packets", len(aus), len(vp))
	}
	var params H265
	for _, n := range aus[0] {
		switch (n[0] >> 1) & 0x3F {
		case 32:
			params.VPS = n
		case 33:
			params.SPS = n
		case 34:
			params.PPS = n
		}
	}
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := m.AddRendition(RenditionConfig{Name: "v", Video: params})
	if err != nil {
		t.Fatal(err)
	}
	for i, au := range aus {
		if err := r.WriteVideo(VideoUnit{DTS: vp[i].dts, PTS: vp[i].pts, Wall: testWall.Add(vp[i].dts), Key: vp[i].key, NALUs: au}); err != nil {
			t.Fatal(err)
		}
	}
	m.End()
	if got := checkDecode(t, m, dir, "v", "v"); got != "hevc,hvc1" {
		t.Fatalf("ffprobe codec: %q, want hevc,hvc1", got)
	}
	mv := getMultivariant(t, m)
	if !strings.Contains(mv, `CODECS="hvc1.`) {
		t.Fatalf("multivariant playlist lacks an hvc1 CODECS string:\n%s", mv)
	}
}

func TestFFmpegDecodeOpus(t *testing.T) {
	needEncoder(t, "libopus")
	needEncoder(t, "libx264")
	dir := t.TempDir()
	ts := filepath.Join(dir, "in.ts")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-x264-params", "aud=1",
		"-c:a", "libopus", "-ac", "2", "-b:a", "64k", "-f", "mpegts", ts)
	h264 := filepath.Join(dir, "in.h264")
	ogg := filepath.Join(dir, "in.ogg")
	run(t, "ffmpeg", "-v", "error", "-i", ts, "-map", "0:v", "-c", "copy", "-f", "h264", h264, "-map", "0:a", "-c", "copy", "-f", "ogg", ogg)
	var vp, ap []probePacket
	for _, p := range probePackets(t, ts) {
		if p.video {
			vp = append(vp, p)
		} else {
			ap = append(ap, p)
		}
	}
	vb, _ := os.ReadFile(h264)
	aus := splitAnnexB(vb)
	if len(aus) != len(vp) {
		t.Fatalf("%d access units, %d packets", len(aus), len(vp))
	}
	ob, _ := os.ReadFile(ogg)
	frames := oggPackets(t, ob)
	if len(frames) < 2 || !bytes.HasPrefix(frames[0], []byte("OpusHead")) {
		t.Fatalf("ogg: no OpusHead")
	}
	frames = frames[2:] // OpusHead, OpusTags (RFC 7845 §5)
	if len(frames) != len(ap) {
		t.Fatalf("%d opus packets, %d probed", len(frames), len(ap))
	}
	var params H264
	for _, n := range aus[0] {
		switch n[0] & 0x1F {
		case 7:
			params.SPS = n
		case 8:
			params.PPS = n
		}
	}
	m, err := NewMuxer(MuxerConfig{SegmentDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rav, err := m.AddRendition(RenditionConfig{Name: "av", Video: params, Audio: Opus{ChannelCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := m.AddRendition(RenditionConfig{Name: "audio", Audio: Opus{ChannelCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ai := 0
	for i, au := range aus {
		for ai < len(frames) && ap[ai].pts <= vp[i].dts {
			u := AudioUnit{PTS: ap[ai].pts, Wall: testWall.Add(ap[ai].pts), Frame: frames[ai]}
			if err := rav.WriteAudio(u); err != nil {
				t.Fatal(err)
			}
			if err := ra.WriteAudio(u); err != nil {
				t.Fatal(err)
			}
			ai++
		}
		if err := rav.WriteVideo(VideoUnit{DTS: vp[i].dts, PTS: vp[i].pts, Wall: testWall.Add(vp[i].dts), Key: vp[i].key, NALUs: au}); err != nil {
			t.Fatal(err)
		}
	}
	m.End()
	if got := checkDecode(t, m, dir, "audio", "a"); got != "opus,Opus" {
		t.Fatalf("audio rendition: ffprobe codec %q, want opus,Opus", got)
	}
	if got := checkDecode(t, m, dir, "av", "a"); got != "opus,Opus" {
		t.Fatalf("muxed rendition: ffprobe audio codec %q, want opus,Opus", got)
	}
	mv := getMultivariant(t, m)
	if !strings.Contains(mv, `opus"`) || !strings.Contains(mv, `TYPE=AUDIO`) {
		t.Fatalf("multivariant playlist lacks opus / the audio group:\n%s", mv)
	}
}

func getMultivariant(t *testing.T, m *Muxer) string {
	t.Helper()
	code, _, body := get(t, m, "index.m3u8")
	if code != 200 {
		t.Fatalf("GET index.m3u8: %d", code)
	}
	return string(body)
}
