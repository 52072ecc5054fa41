package transcode

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// flvTag builds one FLV tag with its PreviousTagSize.
func flvTag(typ byte, ts uint32, body []byte) []byte {
	n := len(body)
	b := []byte{typ, byte(n >> 16), byte(n >> 8), byte(n), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
	b = append(b, body...)
	s := uint32(len(b))
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

func flvSample() []byte {
	b := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	sps, pps := []byte{0x67, 0x64, 0x00, 0x1e, 0xac}, []byte{0x68, 0xee, 0x3c, 0x80}
	avcc := []byte{1, 0x64, 0, 0x1e, 0xff, 0xe1, 0, byte(len(sps))}
	avcc = append(avcc, sps...)
	avcc = append(avcc, 1, 0, byte(len(pps)))
	avcc = append(avcc, pps...)
	b = append(b, flvTag(9, 0, append([]byte{0x17, 0, 0, 0, 0}, avcc...))...)
	b = append(b, flvTag(8, 0, []byte{0xAF, 0, 0x11, 0x90})...)
	b = append(b, flvTag(9, 10_000, []byte{0x17, 1, 0, 0, 33, 0, 0, 0, 3, 0x65, 1, 2})...)      // key, CTS 33 ms
	b = append(b, flvTag(8, 10_005, []byte{0xAF, 1, 0xDE, 0xAD})...)                            // AAC frame
	b = append(b, flvTag(9, 10_033, []byte{0x27, 1, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 0x41, 9})...) // CTS -1 ms
	b = append(b, flvTag(18, 0, []byte{2, 0, 10})...)                                           // script data: skipped
	return b
}

func TestFLVReader(t *testing.T) {
	r := newFLVReader(bytes.NewReader(flvSample()))
	var got []*flvFrame
	for {
		f, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if len(got) != 5 {
		t.Fatalf("%d frames, want 5", len(got))
	}
	if c, ok := got[0].Codec.(stream.H264); !ok || !bytes.Equal(c.PPS, []byte{0x68, 0xee, 0x3c, 0x80}) {
		t.Errorf("video config %+v", got[0].Codec)
	}
	if c, ok := got[1].Codec.(stream.AAC); !ok || !bytes.Equal(c.Config, []byte{0x11, 0x90}) {
		t.Errorf("audio config %+v", got[1].Codec)
	}
	if f := got[2]; !f.Video || !f.Key || f.DTS.Milliseconds() != 10_000 || f.PTS.Milliseconds() != 10_033 || len(f.NALUs) != 1 {
		t.Errorf("key frame %+v", f)
	}
	if f := got[3]; f.Video || !bytes.Equal(f.Data, []byte{0xDE, 0xAD}) {
		t.Errorf("audio frame %+v", f)
	}
	if f := got[4]; f.Key || f.PTS.Milliseconds() != 10_032 {
		t.Errorf("negative CTS frame %+v", f)
	}
}

func TestFLVReaderErrors(t *testing.T) {
	good := flvSample()
	tests := []struct {
		name string
		in   []byte
	}{
		{"bad signature", append([]byte("FLX"), good[3:]...)},
		{"NAL length past the tag", append(good[:13:13], flvTag(9, 0, []byte{0x17, 1, 0, 0, 0, 0, 0, 1, 0, 1})...)},
		{"short AVC configuration", append(good[:13:13], flvTag(9, 0, []byte{0x17, 0, 0, 0, 0, 1})...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFLVReader(bytes.NewReader(tt.in))
			for range 10 {
				if _, err := r.next(); err != nil {
					if errors.Is(err, io.EOF) {
						t.Fatal("EOF, want an error")
					}
					return
				}
			}
			t.Fatal("no error")
		})
	}
}

// FuzzFLVReader feeds arbitrary bytes as ffmpeg's output: the reader must
// return frames or an error, never panic or loop.
func FuzzFLVReader(f *testing.F) {
	f.Add(flvSample())
	f.Add(flvSample()[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newFLVReader(bytes.NewReader(b))
		for range 1000 {
			fr, err := r.next()
			if err != nil {
				return
			}
			for _, n := range fr.NALUs {
				if len(n) == 0 {
					t.Fatal("empty NAL unit")
				}
			}
		}
	})
}
