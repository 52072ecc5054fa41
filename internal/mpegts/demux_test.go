package mpegts

import (
	"bytes"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// recUnit is one unit a Demuxer produced.
type recUnit struct {
	kind  stream.Kind
	codec stream.Codec
	u     *stream.Unit
}

// recSink records a Demuxer's output.
type recSink struct {
	units    []recUnit
	tsErrors map[string]int
	drops    map[stream.Kind]int
}

func newRecSink() *recSink {
	return &recSink{tsErrors: map[string]int{}, drops: map[stream.Kind]int{}}
}

func (r *recSink) Unit(k stream.Kind, c stream.Codec, u *stream.Unit) {
	r.units = append(r.units, recUnit{k, c, u})
}
func (r *recSink) TSError(reason string) { r.tsErrors[reason]++ }
func (r *recSink) Dropped(k stream.Kind) { r.drops[k]++ }
func (r *recSink) of(k stream.Kind) []recUnit {
	var out []recUnit
	for _, u := range r.units {
		if u.kind == k {
			out = append(out, u)
		}
	}
	return out
}

func demux(t testing.TB, ts []byte, chunk int) *recSink {
	t.Helper()
	sink := newRecSink()
	d := NewDemuxer(sink, slog.New(slog.DiscardHandler), 10*time.Second)
	now := time.Unix(1700000000, 0)
	for len(ts) > 0 {
		n := min(chunk, len(ts))
		d.Feed(ts[:n], now)
		ts = ts[n:]
	}
	return sink
}

// checkMonotonic fails when a kind's DTS does not increase or PTS < DTS.
func checkMonotonic(t *testing.T, units []recUnit) {
	t.Helper()
	last := map[stream.Kind]time.Duration{}
	for i, r := range units {
		if p, ok := last[r.kind]; ok && r.u.DTS <= p {
			t.Fatalf("unit %d (%s): DTS %v after %v", i, r.kind, r.u.DTS, p)
		}
		if r.u.PTS < r.u.DTS {
			t.Fatalf("unit %d: PTS %v < DTS %v", i, r.u.PTS, r.u.DTS)
		}
		last[r.kind] = r.u.DTS
	}
}

func TestDemuxH264AAC(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 90, 30, 900000, nil)
	for _, chunk := range []int{1316, 188, 7, 100000} {
		sink := demux(t, m.Out, chunk)
		video, audio := sink.of(stream.KindVideo), sink.of(stream.KindAudio)
		if len(video) != 90 {
			t.Fatalf("chunk %d: %d video units, want 90", chunk, len(video))
		}
		if len(audio) < 130 {
			t.Fatalf("chunk %d: %d audio units", chunk, len(audio))
		}
		if len(sink.tsErrors) != 0 {
			t.Fatalf("chunk %d: errors %v", chunk, sink.tsErrors)
		}
		checkMonotonic(t, sink.units)
		v0 := video[0]
		if !v0.u.Key || !v0.codec.Equal(stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}) || v0.u.Codec != nil {
			t.Fatalf("first video unit: key %v codec %+v unit codec %v", v0.u.Key, v0.codec, v0.u.Codec)
		}
		if v0.u.DTS != 10*time.Second || v0.u.PTS != 10*time.Second+2*time.Second/30 {
			t.Fatalf("first video DTS %v PTS %v", v0.u.DTS, v0.u.PTS)
		}
		for _, n := range v0.u.NALUs {
			if n[0]&0x1F == h264AUD {
				t.Fatal("access unit delimiter not removed")
			}
		}
		if c := audio[0].codec.(stream.AAC); !bytes.Equal(c.Config, []byte{0x11, 0x90}) {
			t.Fatalf("AudioSpecificConfig %x, want 1190 (AAC-LC 48 kHz stereo)", c.Config)
		}
		if len(audio[0].u.Data) != 50 || !audio[0].u.Key || audio[0].u.Wall.IsZero() {
			t.Fatalf("audio unit %+v", audio[0].u)
		}
		keys := 0
		for _, v := range video {
			if v.u.Key {
				keys++
			}
		}
		if keys != 3 {
			t.Fatalf("%d key frames, want 3", keys)
		}
	}
}

func TestDemuxTimestamps(t *testing.T) {
	tests := []struct {
		name      string
		start     int64
		mod       func(i int, m *mpegtstest.Muxer) bool
		wantDisc  int // video units flagged
		shiftFrom int // video frame from which raw timestamps jump (0: none)
	}{
		{name: "33-bit wrap is continuous", start: tsWrap - 45000},
		{name: "pcr discontinuity indicator", start: 900000, mod: func(i int, m *mpegtstest.Muxer) bool { return i == 45 }, wantDisc: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
			mpegtstest.AVClip(m, 90, 30, tc.start, tc.mod)
			sink := demux(t, m.Out, 1316)
			checkMonotonic(t, sink.units)
			video := sink.of(stream.KindVideo)
			if len(video) != 90 {
				t.Fatalf("%d video units", len(video))
			}
			disc := 0
			for i, v := range video {
				if v.u.Discontinuity {
					disc++
				}
				if tc.wantDisc == 0 && i > 0 {
					if d := v.u.DTS - video[i-1].u.DTS; (d - 100*time.Millisecond/3).Abs() > 1 {
						t.Fatalf("frame %d: DTS step %v", i, d)
					}
				}
			}
			if disc != tc.wantDisc {
				t.Fatalf("%d discontinuities, want %d", disc, tc.wantDisc)
			}
		})
	}
}

// TestDemuxTimestampJump: a publisher whose clock jumps by an hour (an
// encoder restart behind the same SRT connection) continues on a
// monotonic timeline, both tracks flagged once.
func TestDemuxTimestampJump(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 30, 30, 900000, nil)
	jump := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	jump.CC = m.CC
	mpegtstest.AVClip(jump, 30, 30, 900000+3600*tsClock, nil)
	sink := demux(t, append(m.Out, jump.Out...), 1316)
	checkMonotonic(t, sink.units)
	for _, k := range []stream.Kind{stream.KindVideo, stream.KindAudio} {
		disc := 0
		var step time.Duration
		units := sink.of(k)
		for i, r := range units {
			if r.u.Discontinuity {
				disc++
				step = r.u.DTS - units[i-1].u.DTS
			}
		}
		if disc != 1 || step > time.Second {
			t.Errorf("%s: %d discontinuities (step %v), want 1 small step", k, disc, step)
		}
	}
}

// TestDemuxLoss cuts and corrupts TS packets: lost video drops until the
// next key frame and is counted, audio goes on.
func TestDemuxLoss(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 90, 30, 900000, nil)
	clean := demux(t, m.Out, 1316)
	// find the packets of video frame 40 (mid-GOP) and drop one of them
	packets := splitPackets(m.Out)
	var frameStarts []int
	for i, p := range packets {
		tp, _ := parseTSPacket(p)
		if tp.pid == m.VideoPID && tp.pusi {
			frameStarts = append(frameStarts, i)
		}
	}
	cut := frameStarts[40] + 1
	tests := []struct {
		name   string
		mangle func([][]byte) [][]byte
		reason string
	}{
		{"packet lost", func(p [][]byte) [][]byte { return append(p[:cut:cut], p[cut+1:]...) }, ErrContinuity},
		{"transport error indicator", func(p [][]byte) [][]byte {
			q := bytes.Clone(p[cut])
			q[1] |= 0x80
			out := append([][]byte{}, p...)
			out[cut] = q
			return out
		}, ErrTransport},
		{"packet cut short", func(p [][]byte) [][]byte {
			out := append([][]byte{}, p[:cut]...)
			out = append(out, p[cut][:100])
			return append(out, p[cut+1:]...)
		}, ErrContinuity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := demux(t, bytes.Join(tc.mangle(packets), nil), 1316)
			checkMonotonic(t, sink.units)
			if sink.tsErrors[tc.reason] == 0 {
				t.Fatalf("errors %v, want %s", sink.tsErrors, tc.reason)
			}
			video := sink.of(stream.KindVideo)
			// frames 40..59 are lost: 40 is hit, 41..59 wait for key frame 60
			if got, want := len(video), 90-20; got != want {
				t.Fatalf("%d video units, want %d", got, want)
			}
			if sink.drops[stream.KindVideo] != 19 {
				t.Fatalf("dropped %d video units, want 19", sink.drops[stream.KindVideo])
			}
			for i, v := range video {
				if i == 40 && (!v.u.Key || v.u.DTS != clean.of(stream.KindVideo)[60].u.DTS) {
					t.Fatalf("video resumed at DTS %v key %v, want frame 60", v.u.DTS, v.u.Key)
				}
			}
			if a, ca := len(sink.of(stream.KindAudio)), len(clean.of(stream.KindAudio)); a < ca-2 {
				t.Fatalf("audio %d units of %d", a, ca)
			}
		})
	}
}

func splitPackets(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= tsPacketSize {
		out = append(out, b[:tsPacketSize])
		b = b[tsPacketSize:]
	}
	return out
}

func TestDemuxDuplicatePacketsIgnored(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 30, 30, 900000, nil)
	var dup []byte
	for i, p := range splitPackets(m.Out) {
		dup = append(dup, p...)
		if i%7 == 3 {
			dup = append(dup, p...) // §2.4.3.3: one duplicate is allowed
		}
	}
	sink := demux(t, dup, 1316)
	if len(sink.of(stream.KindVideo)) != 30 || len(sink.tsErrors) != 0 {
		t.Fatalf("%d video units, errors %v", len(sink.of(stream.KindVideo)), sink.tsErrors)
	}
}

func TestDemuxGarbageResync(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 30, 30, 900000, nil)
	in := append([]byte("garbage before the stream"), m.Out...)
	sink := demux(t, in, 1316)
	if sink.tsErrors[ErrSync] != 1 || len(sink.of(stream.KindVideo)) != 30 {
		t.Fatalf("errors %v, %d video units", sink.tsErrors, len(sink.of(stream.KindVideo)))
	}
}

func TestDemuxSPSChange(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, 0)
	m.Tables()
	for i := range 60 {
		sps := mpegtstest.SPS
		if i >= 30 {
			sps = mpegtstest.SPS2
		}
		dts := int64(900000 + i*3000)
		m.PES(m.VideoPID, dts, dts, mpegtstest.H264Frame(i%30 == 0, sps, 100), false)
	}
	m.Packet(m.VideoPID, true, nil, []byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0})
	sink := demux(t, m.Out, 1316)
	video := sink.of(stream.KindVideo)
	if len(video) != 60 {
		t.Fatalf("%d video units", len(video))
	}
	for i, v := range video {
		switch {
		case i == 30:
			want := stream.H264{SPS: mpegtstest.SPS2, PPS: mpegtstest.PPS}
			if v.u.Codec == nil || !v.u.Codec.Equal(want) || !v.codec.Equal(want) {
				t.Fatalf("unit 30: Codec %v, want the new SPS", v.u.Codec)
			}
		case v.u.Codec != nil:
			t.Fatalf("unit %d carries a codec change", i)
		}
	}
	if len(sink.units) != 60 {
		t.Fatal("audio from a program without audio")
	}
}

func TestDemuxOpus(t *testing.T) {
	m := mpegtstest.NewMuxer(0, streamTypePrivate)
	m.AudioDesc = []byte{0x05, 4, 'O', 'p', 'u', 's', 0x7F, 2, 0x80, 2}
	m.Tables()
	// TOC 0xFC: config 31 (CELT FB 20 ms), one frame
	pkt := append([]byte{0xFC}, make([]byte, 300)...)
	for i := range 10 {
		pts := int64(900000 + i*2*1800)
		m.PES(m.AudioPID, pts, -1, mpegtstest.OpusAU(pkt, pkt), false)
	}
	sink := demux(t, m.Out, 1316)
	audio := sink.of(stream.KindAudio)
	if len(audio) != 20 {
		t.Fatalf("%d opus units, want 20; errors %v", len(audio), sink.tsErrors)
	}
	checkMonotonic(t, sink.units)
	if !audio[0].codec.Equal(stream.Opus{ChannelCount: 2}) || len(audio[0].u.Data) != 301 {
		t.Fatalf("codec %v, %d bytes", audio[0].codec, len(audio[0].u.Data))
	}
	if d := audio[1].u.DTS - audio[0].u.DTS; d != 20*time.Millisecond {
		t.Fatalf("second packet of a PES %v after the first, want 20ms", d)
	}
}

func TestParseADTS(t *testing.T) {
	withCRC := []byte{0xFF, 0xF0, 0x4C, 0x80, 0x01, 0x7F, 0xFC, 0xAB, 0xCD, 1, 2}
	tests := []struct {
		name   string
		in     []byte
		frames int
		err    bool
	}{
		{"two frames", mpegtstest.ADTS([]byte{1, 2, 3}, []byte{4}), 2, false},
		{"with CRC", withCRC, 1, false},
		{"truncated", mpegtstest.ADTS([]byte{1, 2, 3})[:8], 0, true},
		{"no sync", []byte{0, 1, 2, 3, 4, 5, 6, 7}, 0, true},
		{"channel config in PCE", []byte{0xFF, 0xF1, 0x4C, 0x00, 0x01, 0x1F, 0xFC, 0}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseADTS(tc.in)
			if (err != nil) != tc.err || len(f) != tc.frames {
				t.Fatalf("got %d frames, err %v", len(f), err)
			}
		})
	}
}

// TestDemuxFFmpegClipWithLoss drops TS packets from a real ffmpeg
// recording: every loss is counted, and no video unit between a loss and
// the next key frame comes out.
func TestDemuxFFmpegClipWithLoss(t *testing.T) {
	data, err := os.ReadFile(ffmpegTS(t, 3, "libx264"))
	if err != nil {
		t.Fatal(err)
	}
	packets := splitPackets(data)
	var kept [][]byte
	for i, p := range packets {
		if i != len(packets)/3 && i != len(packets)*2/3+40 {
			kept = append(kept, p)
		}
	}
	clean := demux(t, data, 1316)
	sink := demux(t, bytes.Join(kept, nil), 1316)
	checkMonotonic(t, sink.units)
	cv, lv := len(clean.of(stream.KindVideo)), len(sink.of(stream.KindVideo))
	t.Logf("clean %d video units; with %d of %d packets lost: %d video units, %d dropped, errors %v",
		cv, len(packets)-len(kept), len(packets), lv, sink.drops[stream.KindVideo], sink.tsErrors)
	if sink.tsErrors[ErrContinuity] == 0 || sink.drops[stream.KindVideo] == 0 {
		t.Fatal("losses not counted")
	}
	if lv >= cv || lv == 0 {
		t.Fatalf("%d video units of %d", lv, cv)
	}
	// every video unit that follows a dropped one in decode order must be
	// a key frame: compare against the clean run
	cleanDTS := map[time.Duration]int{}
	for i, u := range clean.of(stream.KindVideo) {
		cleanDTS[u.u.DTS] = i
	}
	prev := -1
	for _, u := range sink.of(stream.KindVideo) {
		i, ok := cleanDTS[u.u.DTS]
		if !ok {
			t.Fatalf("unit DTS %v not in the clean run", u.u.DTS)
		}
		if i != prev+1 && !u.u.Key {
			t.Fatalf("non-key unit %d follows a gap after %d", i, prev)
		}
		prev = i
	}
}

// TestDemuxFlush: the last video PES (no PES_packet_length) comes out at
// Flush, not before.
func TestDemuxFlush(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, 0)
	m.Tables()
	for i := range 3 {
		dts := int64(900000 + i*3000)
		m.PES(m.VideoPID, dts, dts, mpegtstest.H264Frame(i == 0, mpegtstest.SPS, 100), false)
	}
	sink := newRecSink()
	d := NewDemuxer(sink, slog.New(slog.DiscardHandler), 10*time.Second)
	d.Feed(m.Out, time.Now())
	if n := len(sink.of(stream.KindVideo)); n != 2 {
		t.Fatalf("%d video units before Flush, want 2", n)
	}
	d.Flush(time.Now())
	if n := len(sink.of(stream.KindVideo)); n != 3 {
		t.Fatalf("%d video units after Flush, want 3", n)
	}
	d.Flush(time.Now()) // idempotent
	if n := len(sink.of(stream.KindVideo)); n != 3 {
		t.Fatalf("%d video units after a second Flush", n)
	}
}

// TestDemuxStuffedPacketEndsVideoPES: ffmpeg's video PES packets have no
// length and end in a stuffed packet; once that has held for a few
// frames, an access unit is handed out with its last packet instead of
// at the start of the next PES, a frame later: every frame of the file is
// out once the file is in, the last one too.
func TestDemuxStuffedPacketEndsVideoPES(t *testing.T) {
	b, err := os.ReadFile(ffmpegTS(t, 2, "libx264"))
	if err != nil {
		t.Fatal(err)
	}
	sink := demux(t, b, 1316)
	if n := len(sink.of(stream.KindVideo)); n != 60 {
		t.Fatalf("%d video units out of 60 frames", n)
	}
	if len(sink.tsErrors) != 0 {
		t.Fatalf("errors %v", sink.tsErrors)
	}
}

// TestDemuxStuffingInsidePES: a muxer that stuffs a packet inside a video
// PES (not only its last) must not have its access units cut: the
// demuxer sees the PES go on after the stuffed packet and ends units at
// the next PES start, as before.
func TestDemuxStuffingInsidePES(t *testing.T) {
	m := mpegtstest.NewMuxer(streamTypeH264, 0)
	m.Tables()
	var want [][]byte
	for i := range 20 {
		frame := mpegtstest.H264Frame(i%10 == 0, mpegtstest.SPS, 600)
		pts := int64(900000 + i*3000)
		hdr := append([]byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5}, mpegtstest.Timestamp(0x2, pts)...)
		payload := append(hdr, frame...)
		// a short first packet (stuffed), then full ones, then the rest
		n := m.Packet(m.VideoPID, true, nil, payload[:100])
		payload = payload[n:]
		for len(payload) > 0 {
			payload = payload[m.Packet(m.VideoPID, false, nil, payload):]
		}
		want = append(want, frame)
	}
	m.Packet(m.VideoPID, true, nil, append([]byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0}, make([]byte, tsPacketSize-4-9)...))
	sink := demux(t, m.Out, 188)
	got := sink.of(stream.KindVideo)
	if len(got) != len(want) || len(sink.tsErrors) != 0 {
		t.Fatalf("%d video units of %d, errors %v", len(got), len(want), sink.tsErrors)
	}
	for i, u := range got {
		n := 0
		for _, b := range u.u.NALUs {
			n += len(b)
		}
		if n < 600 {
			t.Fatalf("unit %d: %d bytes of NAL units, want the whole frame (>= 600)", i, n)
		}
	}
}
