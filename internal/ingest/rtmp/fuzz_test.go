package rtmp

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; these f.Add seeds repeat
// the most important shapes so a plain `go test` exercises them too.

func FuzzVideoTag(f *testing.F) {
	f.Add(legacyAVCSeqHeader(testSPS, testPPS))
	f.Add(legacyAVCFrame(true, -33, []byte{0x65, 1, 2}))
	f.Add(exVideo(1, exVideoSequenceStart, "hvc1", rtmptest.HVCC(testVPS, testH5S, testH5P)...))
	f.Add(exVideo(2, exVideoCodedFrames, "hvc1", 0, 0, 0x21, 0, 0, 0, 2, 0x26, 1))
	f.Add(exVideo(1, exVideoSequenceStart, "av01", append([]byte{0x81, 0, 0x0c, 0}, testAV1SeqOBU...)...))
	f.Add(exVideo(1, exVideoCodedFrames, "av01", testAV1SeqOBU...))
	f.Add([]byte{0x80 | 2<<4 | exVideoModEx, 0, 0x55, exVideoCodedFramesX, 'h', 'v', 'c', '1', 0, 0, 0, 1, 0x26})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := parseVideoTag(b)
		if err != nil {
			return
		}
		if len(tag.Payload) > len(b) {
			t.Fatalf("payload longer than the tag")
		}
		switch tag.Kind {
		case tagConfig:
			switch tag.Codec {
			case videoH264:
				_, _, _ = parseAVCConfig(tag.Payload)
			case videoH265:
				_, _, _ = parseHEVCConfig(tag.Payload)
			case videoAV1:
				_, _ = parseAV1Config(tag.Payload)
			}
		case tagFrame:
			if tag.Codec == videoAV1 {
				_, _ = splitOBUs(tag.Payload)
				return
			}
			for _, ls := range []int{1, 2, 4} {
				nalus, err := splitLengthPrefixed(tag.Payload, ls)
				if err == nil && len(nalus) == 0 {
					t.Fatal("no error and no NAL units")
				}
			}
		}
	})
}

func FuzzAudioTag(f *testing.F) {
	f.Add(legacyAACSeqHeader(testASC))
	f.Add(legacyAACFrame([]byte{0x21, 0x10, 4}))
	f.Add(append([]byte{0x90 | exAudioSequenceStart, 'O', 'p', 'u', 's'}, append([]byte("OpusHead"), 1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0)...))
	f.Add([]byte{0x90 | exAudioCodedFrames, 'm', 'p', '4', 'a', 9})
	f.Add([]byte{0x90 | exAudioModEx, 1, 0, 0, exAudioCodedFrames, 'O', 'p', 'u', 's', 0xfc})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := parseAudioTag(b)
		if err != nil || tag.Kind != tagConfig {
			return
		}
		switch tag.Codec {
		case audioAAC:
			_, _ = parseAACConfig(tag.Payload)
		case audioOpus:
			_, _ = parseOpusHead(tag.Payload)
		}
	})
}

func FuzzScriptData(f *testing.F) {
	f.Add(append(amfString("onMetaData"), amfECMA("videocodecid", amfNumber(7), "audiocodecid", amfNumber(10))...), true)
	f.Add(amfECMA("videocodecid", amfNumber(fourCChvc1), "encoder", amfString("obs")), false)
	f.Add(append(amfString("onMetaData"), []byte{amf0Object, 0, 1, 'a', amf0StrictArray, 0, 0, 0, 1, amf0Date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, amf0ObjectEnd}...), true)
	f.Fuzz(func(t *testing.T, b []byte, withName bool) {
		m, err := parseMetadata(b, withName)
		if err == nil && (m.Video != (m.VideoCodec != videoNone) || m.Audio != (m.AudioCodec != audioNone)) {
			t.Fatalf("inconsistent metadata %+v", m)
		}
	})
}

// FuzzChunkGuard feeds the guard a chunk stream (after a valid handshake,
// unless handshake is set and b itself starts with C0) whole and in pieces of
// step bytes: both must agree, and the buffered byte count must stay bounded.
func FuzzChunkGuard(f *testing.F) {
	f.Add(chunk(2, 1, 4, []byte{0, 0, 16, 0}), 7, false)
	f.Add(append(chunk(6, 9, 300, make([]byte, 128)), 0xc6, 1, 2), 1, false)
	f.Add([]byte{0xc6, 1, 2}, 3, false)
	f.Add([]byte{0x06, 0xff, 0xff, 0xff, 0, 0, 2, 9, 1, 0, 0, 0, 0, 0, 0, 1, 7, 7}, 5, false)
	f.Add([]byte{0x01, 5, 1, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 1}, 2, false)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 3, true)
	f.Fuzz(func(t *testing.T, b []byte, step int, handshake bool) {
		if step <= 0 || step > 4096 {
			step = 1
		}
		newGuard := func() *chunkGuard {
			g := newChunkGuard(1<<12, 8)
			if !handshake {
				g.handshakeLeft = 0
			}
			return g
		}
		g, whole := newGuard(), newGuard()
		errWhole := whole.feed(b)
		var err error
		for len(b) > 0 && err == nil {
			n := min(step, len(b))
			err = g.feed(b[:n])
			b = b[n:]
		}
		if (err == nil) != (errWhole == nil) {
			t.Fatalf("split feeding disagrees: %v vs %v", err, errWhole)
		}
		if g.buffered < 0 || g.buffered > g.maxBuffered {
			t.Fatalf("buffered %d", g.buffered)
		}
	})
}
