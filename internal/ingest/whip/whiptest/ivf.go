package whiptest

import (
	"encoding/binary"
	"errors"
)

// ReadIVF returns the frames of an IVF file (the libvpx container that
// `ffmpeg -c:v libvpx -f ivf` writes: a "DKIF" header, then a 12-byte
// header per frame), for Session.StreamFrames.
func ReadIVF(b []byte) ([][]byte, error) {
	if len(b) < 32 || string(b[:4]) != "DKIF" {
		return nil, errors.New("whiptest: not an ivf file")
	}
	hl := int(binary.LittleEndian.Uint16(b[6:]))
	if hl < 32 || hl > len(b) {
		return nil, errors.New("whiptest: bad ivf header length")
	}
	b = b[hl:]
	var out [][]byte
	for len(b) >= 12 {
		n := int(binary.LittleEndian.Uint32(b))
		if n > len(b)-12 {
			return nil, errors.New("whiptest: truncated ivf frame")
		}
		out = append(out, b[12:12+n])
		b = b[12+n:]
	}
	return out, nil
}
