package rtmp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

var (
	testVPS = []byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff}
	testH5S = []byte{0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d}
	testH5P = []byte{0x44, 0x01, 0xc1, 0x72}
	// AV1 sequence header OBU (with obu_size) from mediacommon's tests
	testAV1SeqOBU = []byte{0x0a, 0x0b, 0x00, 0x00, 0x00, 0x2c, 0xcf, 0x7f, 0x0d, 0xbf, 0xff, 0x30, 0x08}
)

func exVideo(frameType, pktType byte, fourCC string, rest ...byte) []byte {
	return append(append([]byte{0x80 | frameType<<4 | pktType}, fourCC...), rest...)
}

func TestParseVideoTag(t *testing.T) {
	hvcc := rtmptest.HVCC(testVPS, testH5S, testH5P)
	nalu := []byte{0, 0, 0, 3, 0x26, 0x01, 0xaf}
	tests := []struct {
		name    string
		in      []byte
		want    videoTag
		wantErr error
	}{
		{"legacy AVC sequence header", legacyAVCSeqHeader(testSPS, testPPS),
			videoTag{Codec: videoH264, Kind: tagConfig, Key: true, Payload: avcConfigRecord(testSPS, testPPS)}, nil},
		{"legacy AVC key frame", legacyAVCFrame(true, 66, []byte{0x65, 1}),
			videoTag{Codec: videoH264, Kind: tagFrame, Key: true, CTS: 66, Payload: []byte{0, 0, 0, 2, 0x65, 1}}, nil},
		{"legacy AVC negative composition time", legacyAVCFrame(false, -33, []byte{0x41, 1}),
			videoTag{Codec: videoH264, Kind: tagFrame, CTS: -33, Payload: []byte{0, 0, 0, 2, 0x41, 1}}, nil},
		{"legacy AVC end of sequence", []byte{0x17, 2, 0, 0, 0}, videoTag{Codec: videoH264, Kind: tagIgnore, Key: true}, nil},
		{"legacy truncated", []byte{0x17, 1, 0}, videoTag{}, errTruncated},
		{"legacy VP6", []byte{0x14, 0, 0}, videoTag{}, errUnsupported},
		{"empty", nil, videoTag{}, errTruncated},
		{"hvc1 SequenceStart", exVideo(1, exVideoSequenceStart, "hvc1", hvcc...),
			videoTag{Codec: videoH265, Kind: tagConfig, Key: true, Payload: hvcc}, nil},
		{"hvc1 CodedFrames", exVideo(2, exVideoCodedFrames, "hvc1", append([]byte{0, 0, 0x21}, nalu...)...),
			videoTag{Codec: videoH265, Kind: tagFrame, CTS: 33, Payload: nalu}, nil},
		{"hvc1 CodedFramesX", exVideo(1, exVideoCodedFramesX, "hvc1", nalu...),
			videoTag{Codec: videoH265, Kind: tagFrame, Key: true, Payload: nalu}, nil},
		{"hvc1 CodedFrames truncated", exVideo(2, exVideoCodedFrames, "hvc1", 0), videoTag{}, errTruncated},
		{"avc1 CodedFramesX", exVideo(2, exVideoCodedFramesX, "avc1", nalu...),
			videoTag{Codec: videoH264, Kind: tagFrame, Payload: nalu}, nil},
		{"av01 SequenceStart", exVideo(1, exVideoSequenceStart, "av01", 0x81, 0, 0x0c, 0),
			videoTag{Codec: videoAV1, Kind: tagConfig, Key: true, Payload: []byte{0x81, 0, 0x0c, 0}}, nil},
		{"av01 CodedFrames has no composition time", exVideo(1, exVideoCodedFrames, "av01", testAV1SeqOBU...),
			videoTag{Codec: videoAV1, Kind: tagFrame, Key: true, Payload: testAV1SeqOBU}, nil},
		{"hvc1 SequenceEnd", exVideo(1, exVideoSequenceEnd, "hvc1"), videoTag{Codec: videoH265, Kind: tagIgnore, Key: true}, nil},
		{"hvc1 Metadata", exVideo(1, exVideoMetadata, "hvc1", 2, 0, 0), videoTag{Codec: videoH265, Kind: tagIgnore, Key: true}, nil},
		{"ModEx then CodedFramesX", append([]byte{0x80 | 2<<4 | exVideoModEx, 0, 0x55, 0<<4 | exVideoCodedFramesX}, append([]byte("hvc1"), nalu...)...),
			videoTag{Codec: videoH265, Kind: tagFrame, Payload: nalu}, nil},
		{"ModEx truncated", []byte{0x80 | exVideoModEx, 5}, videoTag{}, errTruncated},
		{"command frame", []byte{0x80 | 5<<4 | exVideoCodedFrames, 0}, videoTag{Kind: tagIgnore}, nil},
		{"multitrack", exVideo(1, exVideoMultitrack, "hvc1"), videoTag{}, errUnsupported},
		{"vp09", exVideo(1, exVideoCodedFrames, "vp09", 1), videoTag{}, errUnsupported},
		{"FourCC truncated", []byte{0x90, 'h', 'v'}, videoTag{}, errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVideoTag(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Codec != tt.want.Codec || got.Kind != tt.want.Kind || got.Key != tt.want.Key ||
				got.CTS != tt.want.CTS || !bytes.Equal(got.Payload, tt.want.Payload) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAudioTag(t *testing.T) {
	opusHead := append([]byte("OpusHead"), 1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0)
	tests := []struct {
		name    string
		in      []byte
		want    audioTag
		wantErr error
	}{
		{"AAC sequence header", legacyAACSeqHeader(testASC), audioTag{Codec: audioAAC, Kind: tagConfig, Payload: testASC}, nil},
		{"AAC raw", legacyAACFrame([]byte{1, 2, 3}), audioTag{Codec: audioAAC, Kind: tagFrame, Payload: []byte{1, 2, 3}}, nil},
		{"AAC truncated", []byte{0xaf}, audioTag{}, errTruncated},
		{"AAC bad packet type", []byte{0xaf, 7}, audioTag{}, errUnsupported},
		{"MP3", []byte{0x2f, 1, 2}, audioTag{}, errUnsupported},
		{"empty", nil, audioTag{}, errTruncated},
		{"Opus SequenceStart", append([]byte{0x90 | exAudioSequenceStart, 'O', 'p', 'u', 's'}, opusHead...),
			audioTag{Codec: audioOpus, Kind: tagConfig, Payload: opusHead}, nil},
		{"Opus CodedFrames", []byte{0x90 | exAudioCodedFrames, 'O', 'p', 'u', 's', 0xfc, 1},
			audioTag{Codec: audioOpus, Kind: tagFrame, Payload: []byte{0xfc, 1}}, nil},
		{"mp4a CodedFrames", []byte{0x90 | exAudioCodedFrames, 'm', 'p', '4', 'a', 9},
			audioTag{Codec: audioAAC, Kind: tagFrame, Payload: []byte{9}}, nil},
		{"ex SequenceEnd", []byte{0x90 | exAudioSequenceEnd, 'm', 'p', '4', 'a'}, audioTag{Codec: audioAAC, Kind: tagIgnore}, nil},
		{"ex multitrack", []byte{0x90 | exAudioMultitrack, 0}, audioTag{}, errUnsupported},
		{"ex fLaC", []byte{0x90 | exAudioCodedFrames, 'f', 'L', 'a', 'C', 1}, audioTag{}, errUnsupported},
		{"ex truncated", []byte{0x90 | exAudioCodedFrames, 'O'}, audioTag{}, errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAudioTag(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Codec != tt.want.Codec || got.Kind != tt.want.Kind || !bytes.Equal(got.Payload, tt.want.Payload) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfigRecords(t *testing.T) {
	h, ls, err := parseAVCConfig(avcConfigRecord(testSPS, testPPS))
	if err != nil || ls != 4 || !bytes.Equal(h.SPS, testSPS) || !bytes.Equal(h.PPS, testPPS) {
		t.Fatalf("AVC: %+v %d %v", h, ls, err)
	}
	h5, ls, err := parseHEVCConfig(rtmptest.HVCC(testVPS, testH5S, testH5P))
	if err != nil || ls != 4 || !bytes.Equal(h5.VPS, testVPS) || !bytes.Equal(h5.SPS, testH5S) || !bytes.Equal(h5.PPS, testH5P) {
		t.Fatalf("HEVC: %+v %d %v", h5, ls, err)
	}
	sh, err := parseAV1Config(append([]byte{0x81, 0, 0x0c, 0}, testAV1SeqOBU...))
	if err != nil || len(sh) == 0 || sh[0]>>3&0x0f != 1 {
		t.Fatalf("AV1: %x %v", sh, err)
	}
	if sh, err := parseAV1Config([]byte{0x81, 0, 0x0c, 0}); err != nil || sh != nil {
		t.Fatalf("AV1 without configOBUs: %x %v", sh, err)
	}
	bad := []struct {
		name string
		f    func() error
	}{
		{"AVC truncated", func() error { _, _, err := parseAVCConfig([]byte{1, 0x42, 0, 0x1e}); return err }},
		{"AVC version 0", func() error {
			_, _, err := parseAVCConfig(append([]byte{0}, avcConfigRecord(testSPS, testPPS)[1:]...))
			return err
		}},
		{"AVC SPS overruns", func() error {
			_, _, err := parseAVCConfig([]byte{1, 0x42, 0, 0x1e, 0xff, 0xe1, 0xff, 0xff, 1})
			return err
		}},
		{"AVC no PPS", func() error {
			r := avcConfigRecord(testSPS, testPPS)
			_, _, err := parseAVCConfig(r[:8+len(testSPS)])
			return err
		}},
		{"HEVC truncated", func() error { _, _, err := parseHEVCConfig(make([]byte, 10)); return err }},
		{"HEVC without PPS", func() error {
			r := rtmptest.HVCC(testVPS, testH5S, testH5P)
			r[22] = 2
			_, _, err := parseHEVCConfig(r)
			return err
		}},
		{"AV1 bad marker", func() error { _, err := parseAV1Config([]byte{1, 0, 0, 0}); return err }},
		{"AAC garbage", func() error { _, err := parseAACConfig([]byte{0xff}); return err }},
		{"Opus not OpusHead", func() error { _, err := parseOpusHead([]byte("OpusTags01234567890")); return err }},
	}
	for _, b := range bad {
		if err := b.f(); !errors.Is(err, errBadConfig) {
			t.Errorf("%s: err = %v, want errBadConfig", b.name, err)
		}
	}
}

func TestSplitLengthPrefixed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		size int
		want int
		ok   bool
	}{
		{"two NALUs", []byte{0, 0, 0, 1, 9, 0, 0, 0, 2, 1, 2}, 4, 2, true},
		{"2-byte lengths", []byte{0, 1, 9, 0, 1, 8}, 2, 2, true},
		{"zero length skipped", []byte{0, 0, 0, 0, 0, 0, 0, 1, 5}, 4, 1, true},
		{"only empty", []byte{0, 0, 0, 0}, 4, 0, false},
		{"overrun", []byte{0, 0, 0, 9, 1}, 4, 0, false},
		{"short prefix", []byte{0, 0}, 4, 0, false},
		{"bad size", []byte{1, 1}, 3, 0, false},
	}
	for _, tt := range tests {
		got, err := splitLengthPrefixed(tt.in, tt.size)
		if (err == nil) != tt.ok || len(got) != tt.want {
			t.Errorf("%s: got %d NALUs, err %v", tt.name, len(got), err)
		}
	}
}
