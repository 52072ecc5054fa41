package restream

import (
	"bytes"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/amf0"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// AV1 sequence header OBU without its size field (obu_type 1, AV1 spec
// §5.3.2): profile 0, level 3.1, 8 bit 4:2:0, the same bytes the RTMP ingest
// tests use.
var testAV1SeqHdr = []byte{0x08, 0x00, 0x00, 0x00, 0x2c, 0xcf, 0x7f, 0x0d, 0xbf, 0xff, 0x30, 0x08}

// TestFLVAV1Opus checks the Enhanced RTMP tag bodies of an AV1 + Opus
// stream byte by byte against the spec: ExVideoTagHeader (IsExHeader,
// FrameType, PacketType SequenceStart 0 / CodedFrames 1, FourCC av01) with
// the av1C record (AV1-ISOBMFF §2.3.3), coded frames without a
// composition time and with OBUs in the low overhead format; the
// ExAudioTagHeader (SoundFormat 9, FourCC Opus) with the OpusHead (RFC
// 7845 §5.1) and the packets as they are.
func TestFLVAV1Opus(t *testing.T) {
	tracks := []stream.Track{{Codec: stream.AV1{SequenceHeader: testAV1SeqHdr}}, {Codec: stream.Opus{ChannelCount: 2}}}
	m, err := newFLVMuxer(tracks)
	if err != nil {
		t.Fatal(err)
	}
	md, err := amf0.Decode(m.metadata(), 0)
	if err != nil || len(md) != 3 {
		t.Fatalf("metadata %v %v", md, err)
	}
	props, _ := md[2].(map[string]any)
	if props["videocodecid"] != float64(0x61763031) || props["audiocodecid"] != float64(0x4f707573) {
		t.Fatalf("metadata codec ids %v", props)
	}

	td := []byte{0x12, 0x00}                // temporal delimiter, with its (zero) size field
	frame := []byte{0x30, 0xaa, 0xbb, 0xcc} // OBU_FRAME without a size field
	sized := []byte{0x1a, 0x02, 0x01, 0x02} // OBU_FRAME_HEADER with obu_size 2
	inter := &stream.Unit{Track: 0, DTS: 0, PTS: 0, NALUs: [][]byte{td, frame}}
	if tags := m.tags(nil, inter); len(tags) != 0 {
		t.Fatalf("inter frame before the first key frame sent %d tags", len(tags))
	}
	key := &stream.Unit{Track: 0, DTS: 100 * time.Millisecond, PTS: 140 * time.Millisecond, Key: true,
		NALUs: [][]byte{td, testAV1SeqHdr, frame, sized}}
	tags := m.tags(nil, key)
	if len(tags) != 2 {
		t.Fatalf("key frame: %d tags, want sequence start and frame", len(tags))
	}
	seqStart := []byte{0x90, 'a', 'v', '0', '1', // IsExHeader | FrameType 1 (key) | SequenceStart
		0x81,       // marker 1, version 1
		0x05,       // seq_profile 0, seq_level_idx_0 5 (3.1)
		0x0c,       // tier 0, 8 bit, not mono, subsampling_x 1, subsampling_y 1, chroma position 0
		0x00,       // no initial presentation delay
		0x0a, 0x0b} // configOBUs: the sequence header with obu_has_size_field and obu_size 11
	seqStart = append(seqStart, testAV1SeqHdr[1:]...)
	if tags[0].typ != msgVideo || tags[0].ts != 100 || !bytes.Equal(tags[0].body, seqStart) {
		t.Fatalf("SequenceStart %d@%d\n got % x\nwant % x", tags[0].typ, tags[0].ts, tags[0].body, seqStart)
	}
	coded := []byte{0x91, 'a', 'v', '0', '1'} // key | CodedFrames, then no SI24 composition time
	coded = append(coded, 0x0a, 0x0b)
	coded = append(coded, testAV1SeqHdr[1:]...)
	coded = append(coded, 0x32, 0x03, 0xaa, 0xbb, 0xcc, 0x1a, 0x02, 0x01, 0x02)
	if !bytes.Equal(tags[1].body, coded) {
		t.Fatalf("key CodedFrames\n got % x\nwant % x", tags[1].body, coded)
	}
	inter.DTS, inter.PTS = 133*time.Millisecond, 133*time.Millisecond
	tags = m.tags(nil, inter)
	if want := []byte{0xa1, 'a', 'v', '0', '1', 0x32, 0x03, 0xaa, 0xbb, 0xcc}; len(tags) != 1 || tags[0].ts != 133 || !bytes.Equal(tags[0].body, want) {
		t.Fatalf("inter CodedFrames %+v, want % x at 133", tags, want)
	}

	opus := &stream.Unit{Track: 1, DTS: 140 * time.Millisecond, PTS: 140 * time.Millisecond, Data: []byte{0xfc, 0x01, 0x02}}
	tags = m.tags(nil, opus)
	head := []byte{0x90, 'O', 'p', 'u', 's', // SoundFormat 9 (ExHeader) | SequenceStart
		'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, // version 1, 2 channels
		0x38, 0x01, // pre-skip 312, little endian
		0x80, 0xbb, 0x00, 0x00, // input sample rate 48000
		0x00, 0x00, // output gain
		0x00} // channel mapping family 0
	if len(tags) != 2 || tags[0].typ != msgAudio || tags[0].ts != 140 || !bytes.Equal(tags[0].body, head) {
		t.Fatalf("Opus SequenceStart %+v\nwant % x", tags, head)
	}
	if want := []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 0x01, 0x02}; !bytes.Equal(tags[1].body, want) {
		t.Fatalf("Opus CodedFrames % x, want % x", tags[1].body, want)
	}
}

// TestFLVHEVCUnchanged: H.265 stays hvc1 with its SI24 composition time.
func TestFLVHEVCUnchanged(t *testing.T) {
	u := &stream.Unit{DTS: 0, PTS: 66 * time.Millisecond, NALUs: [][]byte{{0x46, 0x01, 0x50}, {0x02, 0x01, 0xaa}}} // AUD, TRAIL_R
	want := []byte{0xa1, 'h', 'v', 'c', '1', 0, 0, 66, 0, 0, 0, 3, 0x02, 0x01, 0xaa}
	if got := videoFrame(u, stream.H265{}); !bytes.Equal(got, want) {
		t.Fatalf("hvc1 CodedFrames % x, want % x", got, want)
	}
}

// FuzzFLVMuxerAV1 feeds the muxer AV1 sequence headers and OBUs as a
// publisher could send them (the hub passes them through unchecked): it
// must not panic, and every coded frame keeps its Enhanced RTMP header.
func FuzzFLVMuxerAV1(f *testing.F) {
	f.Add(testAV1SeqHdr, []byte{0x30, 0xaa}, true)
	f.Add([]byte{0x0a, 0x01}, []byte{0x12, 0x00}, true)
	f.Add([]byte{}, []byte{0x34, 0x80}, false)
	f.Add([]byte{0x0e, 0x00, 0x00}, []byte{0x36, 0x00}, true)
	f.Fuzz(func(t *testing.T, seq, obu []byte, key bool) {
		m, err := newFLVMuxer([]stream.Track{{Codec: stream.AV1{SequenceHeader: seq}}})
		if err != nil {
			t.Fatal(err)
		}
		_ = m.metadata()
		for i := range 3 {
			u := &stream.Unit{DTS: time.Duration(i) * 33 * time.Millisecond, Key: key || i == 0, NALUs: [][]byte{obu, seq, nil}}
			for _, tg := range m.tags(nil, u) {
				if len(tg.body) < 5 || tg.body[0]&0x80 == 0 || string(tg.body[1:5]) != "av01" {
					t.Fatalf("tag % x", tg.body)
				}
			}
		}
	})
}
