package rtmp

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/internal/amf0"
)

// amfString / amfNumber build AMF0 values.
func amfString(s string) []byte {
	return append([]byte{amf0.String, byte(len(s) >> 8), byte(len(s))}, s...)
}

func amfNumber(v float64) []byte {
	b := []byte{amf0.Number, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(v))
	return b
}

// amfECMA builds an ECMA array of the given name/value pairs.
func amfECMA(kv ...any) []byte {
	b := []byte{amf0.ECMAArray, 0, 0, 0, byte(len(kv) / 2)}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		b = append(b, byte(len(k)>>8), byte(len(k)))
		b = append(b, k...)
		b = append(b, kv[i+1].([]byte)...)
	}
	return append(b, 0, 0, amf0.ObjectEnd)
}

func TestParseMetadata(t *testing.T) {
	ffmpeg := append(amfString("onMetaData"), amfECMA(
		"duration", amfNumber(0), "width", amfNumber(320), "videocodecid", amfNumber(7),
		"audiocodecid", amfNumber(10), "encoder", amfString("Lavf59.27.100"),
		"nested", []byte{amf0.Object, 0, 1, 'a', amf0.Null, 0, 0, amf0.ObjectEnd},
		"list", []byte{amf0.StrictArray, 0, 0, 0, 1, amf0.Boolean, 1},
	)...)
	tests := []struct {
		name     string
		in       []byte
		withName bool
		want     metadata
		wantErr  bool
	}{
		{"ffmpeg H.264 + AAC", ffmpeg, true, metadata{Known: true, Video: true, Audio: true, VideoCodec: videoH264, AudioCodec: audioAAC}, false},
		{"without name", amfECMA("videocodecid", amfNumber(fourCChvc1)), false, metadata{Known: true, Video: true, VideoCodec: videoH265}, false},
		{"audio only", append(amfString("onMetaData"), amfECMA("audiocodecid", amfNumber(10))...), true, metadata{Known: true, Audio: true, AudioCodec: audioAAC}, false},
		{"Opus and av01 FourCC", append(amfString("onMetaData"), amfECMA("audiocodecid", amfNumber(fourCCOpus), "videocodecid", amfNumber(fourCCav01))...), true,
			metadata{Known: true, Video: true, Audio: true, VideoCodec: videoAV1, AudioCodec: audioOpus}, false},
		{"string codec ids", append(amfString("onMetaData"), amfECMA("videocodecid", amfString("avc1"), "audiocodecid", amfString("mp4a"))...), true,
			metadata{Known: true, Video: true, Audio: true, VideoCodec: videoH264, AudioCodec: audioAAC}, false},
		{"MP3 audio is not expected", append(amfString("onMetaData"), amfECMA("audiocodecid", amfNumber(2), "videocodecid", amfNumber(7))...), true,
			metadata{Known: true, Video: true, VideoCodec: videoH264}, false},
		{"no codec ids", append(amfString("onMetaData"), amfECMA("width", amfNumber(1))...), true, metadata{}, false},
		{"other script data", append(amfString("onCuePoint"), amfECMA()...), true, metadata{}, true},
		{"truncated", ffmpeg[:40], true, metadata{}, true},
		{"bad marker", append(amfString("onMetaData"), 0x42), true, metadata{}, true},
		{"too deep", append(amfString("onMetaData"), []byte(strings.Repeat("\x03\x00\x01a", 20))...), true, metadata{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMetadata(tt.in, tt.withName)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// chunk builds a type-0 chunk header (1-byte basic header) plus payload.
func chunk(csid byte, typ byte, length int, payload []byte) []byte {
	b := []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ, 1, 0, 0, 0}
	return append(b, payload...)
}

func handshakeBytes() []byte {
	b := make([]byte, handshakeSize)
	b[0] = 3
	return b
}

func TestChunkGuard(t *testing.T) {
	big := make([]byte, 300)
	tests := []struct {
		name    string
		in      [][]byte
		wantErr string
	}{
		{"handshake only", [][]byte{handshakeBytes()}, ""},
		{"bad version", [][]byte{{0x47, 0x45}}, "handshake version"},
		{"message in 128-byte chunks", [][]byte{handshakeBytes(), chunk(6, 9, 300, big[:128]), {0xc6}, big[:128], {0xc6}, big[:44]}, ""},
		{"set chunk size then one chunk", [][]byte{handshakeBytes(), chunk(2, 1, 4, []byte{0, 0, 1, 0}), chunk(6, 9, 256, make([]byte, 256))}, ""},
		{"extended timestamp", [][]byte{handshakeBytes(), {0x06, 0xff, 0xff, 0xff, 0, 0, 2, 9, 1, 0, 0, 0, 0, 0, 0, 1, 7, 7}}, ""},
		{"fmt 1 then fmt 3 reuse", [][]byte{handshakeBytes(), {0x46, 0, 0, 0, 0, 0, 1, 9, 5}, {0xc6, 5}}, ""},
		{"byte by byte", split(append(handshakeBytes(), chunk(6, 9, 3, []byte{1, 2, 3})...)), ""},
		{"chunk size 0", [][]byte{handshakeBytes(), chunk(2, 1, 4, []byte{0, 0, 0, 0})}, "chunk size 0"},
		{"chunk size 2^31", [][]byte{handshakeBytes(), chunk(2, 1, 4, []byte{0x80, 0, 0, 0})}, "chunk size 2147483648"},
		{"short set chunk size", [][]byte{handshakeBytes(), chunk(2, 1, 2, []byte{0, 1})}, "set chunk size message of 2 bytes"},
		{"zero length", [][]byte{handshakeBytes(), chunk(6, 9, 0, nil)}, "zero-length"},
		{"too large", [][]byte{handshakeBytes(), chunk(6, 9, 1<<20+1, nil)}, "exceeds the limit"},
		{"continuation without header", [][]byte{handshakeBytes(), {0xc7, 1}}, "never started"},
		{"new header mid-message", [][]byte{handshakeBytes(), chunk(6, 9, 300, big[:128]), chunk(6, 9, 10, nil)}, "before its message completed"},
		{"too many chunk streams", [][]byte{handshakeBytes(), chunk(3, 9, 1, []byte{1}), chunk(4, 9, 1, []byte{1}), chunk(5, 9, 1, []byte{1})}, "more than 2 chunk streams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newChunkGuard(1<<20, 2)
			var err error
			for _, p := range tt.in {
				if err = g.feed(p); err != nil {
					break
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if g.feed([]byte{0}) == nil {
				t.Fatal("guard accepted bytes after an error")
			}
		})
	}
}

func split(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

func TestChunkGuardBufferedLimit(t *testing.T) {
	g := newChunkGuard(1000, 8)
	_ = g.feed(handshakeBytes())
	// three chunk streams each with an incomplete 1000-byte message
	var err error
	for cs := byte(3); cs < 6 && err == nil; cs++ {
		err = g.feed(chunk(cs, 9, 1000, make([]byte, 128)))
		for i := 0; i < 6 && err == nil; i++ {
			err = g.feed(append([]byte{0xc0 | cs}, make([]byte, 128)...))
		}
	}
	if err == nil || !strings.Contains(err.Error(), "buffered") {
		t.Fatalf("err = %v, want buffered limit", err)
	}
}

func TestTimeline(t *testing.T) {
	type step struct {
		slot     int
		raw      uint32
		wantMS   int64
		wantDisc bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"monotonic", []step{{slotVideo, 0, 0, false}, {slotAudio, 10, 10, false}, {slotVideo, 33, 33, false}, {slotAudio, 31, 31, false}}},
		{"wrap at 2^32 ms", []step{{slotVideo, math.MaxUint32 - 40, math.MaxUint32 - 40, false}, {slotVideo, math.MaxUint32 - 7, math.MaxUint32 - 7, false}, {slotVideo, 26, 1<<32 + 26, false}, {slotAudio, 20, 1<<32 + 20, false}}},
		{"backward jump", []step{{slotVideo, 5000, 5000, false}, {slotVideo, 5040, 5040, false}, {slotAudio, 5030, 5030, false}, {slotVideo, 100, 5080, true}, {slotAudio, 90, 5070, true}, {slotVideo, 140, 5120, false}}},
		{"forward jump", []step{{slotVideo, 0, 0, false}, {slotVideo, 33, 33, false}, {slotVideo, 60_000, 66, true}, {slotVideo, 60_033, 99, false}}},
		{"small jitter clamped", []step{{slotAudio, 100, 100, false}, {slotAudio, 90, 101, false}, {slotAudio, 130, 130, false}}},
		{"new track starts after wrap", []step{{slotVideo, math.MaxUint32 - 5, math.MaxUint32 - 5, false}, {slotVideo, 10, 1<<32 + 10, false}, {slotAudio, 12, 1<<32 + 12, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTimeline(10_000, 100)
			for i, s := range tt.steps {
				ms, disc := tl.convert(s.slot, s.raw)
				if ms != s.wantMS || disc != s.wantDisc {
					t.Fatalf("step %d (slot %d raw %d): got %d %v, want %d %v", i, s.slot, s.raw, ms, disc, s.wantMS, s.wantDisc)
				}
			}
		})
	}
}

func TestStreamKey(t *testing.T) {
	tests := []struct{ app, name, want string }{
		{"live", "KEY", "KEY"},
		{"live", "KEY?foo=bar", "KEY"},
		{"live/KEY", "", "KEY"},
		{"live/KEY?x=1", "", "KEY"},
		{"live", "sub/KEY", "KEY"},
		{"live?token=1", "KEY", "KEY"},
		{"live", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := streamKey(tt.app, tt.name); got != tt.want {
			t.Errorf("streamKey(%q, %q) = %q, want %q", tt.app, tt.name, got, tt.want)
		}
	}
}
