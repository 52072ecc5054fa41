package ffmpeg

import (
	"bytes"
	"testing"
)

// adtsFrame is one ADTS frame of AAC-LC 48 kHz stereo with a 4-byte AU.
var adtsFrame = []byte{0xff, 0xf1, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 0x01, 0x02, 0x03, 0x04}

func TestReadADTS(t *testing.T) {
	two := append(append([]byte(nil), adtsFrame...), adtsFrame...)
	f, used, err := ReadADTS(two)
	if err != nil || used != len(adtsFrame) || !bytes.Equal(f.Data, []byte{1, 2, 3, 4}) || !bytes.Equal(f.Config, []byte{0x11, 0x90}) {
		t.Fatalf("ReadADTS = %+v, %d, %v", f, used, err)
	}
	if _, used, err := ReadADTS(adtsFrame[:9]); used != 0 || err != nil {
		t.Fatalf("partial frame: %d %v", used, err)
	}
	if _, _, err := ReadADTS([]byte("garbage!")); err == nil {
		t.Fatal("garbage accepted")
	}
}

// FuzzReadADTS: the ADTS reader of the encoders' output never panics and
// never claims more bytes than it was given.
func FuzzReadADTS(f *testing.F) {
	f.Add(adtsFrame)
	f.Add([]byte{0xff, 0xf1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, used, err := ReadADTS(b)
		if used > len(b) || (err != nil && used != 0) {
			t.Fatalf("used %d of %d, err %v", used, len(b), err)
		}
	})
}
