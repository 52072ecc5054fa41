package whip

import (
	"errors"
	"fmt"
)

var errADTS = errors.New("invalid adts frame")

// adtsFrame is one AAC frame of an ADTS stream.
type adtsFrame struct {
	Config []byte // MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1)
	Data   []byte // raw_data_block
}

// parseADTS reads one ADTS frame (ISO/IEC 14496-3 §1.A.2.2) from the start of
// b and returns it and its total length. It returns n == 0 and no error when
// b holds only part of a frame.
func parseADTS(b []byte) (f adtsFrame, n int, err error) {
	if len(b) < 7 {
		return f, 0, nil
	}
	if b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return f, 0, fmt.Errorf("%w: no syncword", errADTS)
	}
	protectionAbsent := b[1]&1 == 1
	profile := b[2] >> 6
	sfi := (b[2] >> 2) & 0x0f
	channels := (b[2]&1)<<2 | b[3]>>6
	length := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	blocks := b[6] & 3
	hdr := 7
	if !protectionAbsent {
		hdr = 9
	}
	if sfi > 12 || channels == 0 || blocks != 0 || length <= hdr {
		return f, 0, fmt.Errorf("%w: sampling index %d, channels %d, blocks %d, length %d", errADTS, sfi, channels, blocks+1, length)
	}
	if len(b) < length {
		return f, 0, nil
	}
	ot := profile + 1
	f.Config = []byte{ot<<3 | sfi>>1, (sfi&1)<<7 | channels<<3}
	f.Data = append([]byte(nil), b[hdr:length]...)
	return f, length, nil
}
