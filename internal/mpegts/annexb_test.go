package mpegts

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

func TestSplitAnnexB(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want [][]byte
		err  bool
	}{
		{"3-byte codes", []byte{0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2}, [][]byte{{0x67, 1}, {0x68, 2}}, false},
		{"4-byte codes", []byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 3, 4}, [][]byte{{0x09, 0xf0}, {0x65, 3, 4}}, false},
		{"trailing zeros", []byte{0, 0, 1, 0x65, 7, 0, 0}, [][]byte{{0x65, 7}}, false},
		{"emulation prevention kept", []byte{0, 0, 1, 0x65, 0, 0, 3, 1, 9}, [][]byte{{0x65, 0, 0, 3, 1, 9}}, false},
		{"no start code", []byte{0x65, 1, 2}, nil, true},
		{"garbage before", []byte{7, 0, 0, 1, 0x65}, nil, true},
		{"only start codes", []byte{0, 0, 1, 0, 0, 1}, nil, true},
		{"empty", nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitAnnexB(tt.in, nil)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if !tt.err && !equalNALUs(got, tt.want) {
				t.Fatalf("got %x, want %x", got, tt.want)
			}
		})
	}
}

func equalNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// FuzzSplitAnnexB checks the splitter against mediacommon's byte-wise one
// wherever the latter accepts the input.
func FuzzSplitAnnexB(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88})
	f.Add([]byte{0, 0, 1, 0x65, 0, 0, 3, 0, 0, 0, 1, 0x41})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := splitAnnexB(b, nil)
		var ref h264.AnnexB
		if rerr := ref.Unmarshal(b); rerr != nil || err != nil {
			return
		}
		// mediacommon keeps zero bytes that precede a 3-byte start code
		// inside the previous NAL unit; compare without them.
		want := make([][]byte, 0, len(ref))
		for _, n := range ref {
			if n = trimZeros(n); len(n) > 0 {
				want = append(want, n)
			}
		}
		if !equalNALUs(got, want) {
			t.Fatalf("split %x: got %x, want %x", b, got, want)
		}
	})
}

func BenchmarkSplitAnnexB(b *testing.B) {
	frame := append([]byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41}, bytes.Repeat([]byte{0x9a, 0x21, 0x7f}, 4000)...)
	var dst [][]byte
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		dst, _ = splitAnnexB(frame, dst[:0])
	}
}
