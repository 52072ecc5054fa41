package transcode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// errFLV marks malformed FLV from ffmpeg.
var errFLV = errors.New("malformed flv")

// maxFLVTag bounds one tag's body: larger tags are malformed.
const maxFLVTag = 16 << 20

// flvFrame is one access unit read back from ffmpeg.
type flvFrame struct {
	Video bool
	// DTS and PTS are FLV timestamps (milliseconds, extended to 32 bits and
	// unwrapped) as durations.
	DTS, PTS time.Duration
	Key      bool
	// Codec, when non-nil, is a sequence header (stream.H264 or stream.AAC):
	// it applies to the frames that follow and carries no media.
	Codec stream.Codec
	NALUs [][]byte
	Data  []byte
}

// flvReader parses the FLV (Adobe FLV spec v10.1 §E) ffmpeg writes for one
// rung: AVC video (CodecID 7) and AAC audio (SoundFormat 10). Other tags
// (script data, other codecs) are skipped.
type flvReader struct {
	r      *bufio.Reader
	header bool
	hdr    [11]byte
	nalLen int // AVCC NAL unit length size
}

func newFLVReader(r io.Reader) *flvReader {
	return &flvReader{r: bufio.NewReaderSize(r, 64<<10), nalLen: 4}
}

// next returns the next frame or sequence header; io.EOF at a clean end.
func (f *flvReader) next() (*flvFrame, error) {
	if !f.header {
		var h [13]byte // header (9) + PreviousTagSize0 (4)
		if _, err := io.ReadFull(f.r, h[:]); err != nil {
			return nil, err
		}
		if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
			return nil, fmt.Errorf("%w: bad signature", errFLV)
		}
		off := binary.BigEndian.Uint32(h[5:9])
		if off < 9 || off > 1024 {
			return nil, fmt.Errorf("%w: header size %d", errFLV, off)
		}
		if _, err := f.r.Discard(int(off) - 9); err != nil {
			return nil, err
		}
		f.header = true
	}
	for {
		if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		typ := f.hdr[0] & 0x1F
		size := int(f.hdr[1])<<16 | int(f.hdr[2])<<8 | int(f.hdr[3])
		ts := int64(uint32(f.hdr[7])<<24 | uint32(f.hdr[4])<<16 | uint32(f.hdr[5])<<8 | uint32(f.hdr[6]))
		if size > maxFLVTag {
			return nil, fmt.Errorf("%w: tag of %d bytes", errFLV, size)
		}
		body := make([]byte, size+4) // + PreviousTagSize
		if _, err := io.ReadFull(f.r, body); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		body = body[:size]
		dts := time.Duration(ts) * time.Millisecond
		var fr *flvFrame
		var err error
		switch typ {
		case 9:
			fr, err = f.video(body, dts)
		case 8:
			fr, err = f.audio(body, dts)
		}
		if err != nil {
			return nil, err
		}
		if fr != nil {
			return fr, nil
		}
	}
}

func (f *flvReader) video(b []byte, dts time.Duration) (*flvFrame, error) {
	if len(b) < 5 || b[0]&0x0F != 7 {
		return nil, nil // not AVC (or an empty tag): skipped
	}
	key := b[0]>>4 == 1
	cts := int32(uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4])) << 8 >> 8 // signed 24 bits
	fr := &flvFrame{Video: true, DTS: dts, PTS: dts + time.Duration(cts)*time.Millisecond, Key: key}
	data := b[5:]
	switch b[1] {
	case 0:
		c, n, err := parseAVCC(data)
		if err != nil {
			return nil, err
		}
		f.nalLen = n
		fr.Codec = c
		return fr, nil
	case 1:
		for len(data) > 0 {
			if len(data) < f.nalLen {
				return nil, fmt.Errorf("%w: truncated NAL unit length", errFLV)
			}
			var n int
			for i := range f.nalLen {
				n = n<<8 | int(data[i])
			}
			data = data[f.nalLen:]
			if n > len(data) || n < 0 {
				return nil, fmt.Errorf("%w: NAL unit of %d bytes in %d", errFLV, n, len(data))
			}
			if n > 0 {
				fr.NALUs = append(fr.NALUs, data[:n])
			}
			data = data[n:]
		}
		if len(fr.NALUs) == 0 {
			return nil, nil
		}
		return fr, nil
	}
	return nil, nil // end of sequence
}

// parseAVCC reads SPS and PPS from an AVCDecoderConfigurationRecord
// (ISO/IEC 14496-15 §5.3.3.1) and the NAL unit length size.
func parseAVCC(b []byte) (stream.H264, int, error) {
	var c stream.H264
	if len(b) < 7 {
		return c, 0, fmt.Errorf("%w: short AVC configuration", errFLV)
	}
	nalLen := int(b[4]&3) + 1
	nsps := int(b[5] & 0x1F)
	p := 6
	readPS := func() ([]byte, error) {
		if p+2 > len(b) {
			return nil, fmt.Errorf("%w: truncated parameter set", errFLV)
		}
		l := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if p+l > len(b) {
			return nil, fmt.Errorf("%w: truncated parameter set", errFLV)
		}
		ps := b[p : p+l]
		p += l
		return ps, nil
	}
	for i := range nsps {
		ps, err := readPS()
		if err != nil {
			return c, 0, err
		}
		if i == 0 {
			c.SPS = ps
		}
	}
	if p >= len(b) {
		return c, 0, fmt.Errorf("%w: no PPS", errFLV)
	}
	npps := int(b[p])
	p++
	for i := range npps {
		ps, err := readPS()
		if err != nil {
			return c, 0, err
		}
		if i == 0 {
			c.PPS = ps
		}
	}
	if len(c.SPS) == 0 || len(c.PPS) == 0 {
		return c, 0, fmt.Errorf("%w: missing SPS or PPS", errFLV)
	}
	return c, nalLen, nil
}

func (f *flvReader) audio(b []byte, pts time.Duration) (*flvFrame, error) {
	if len(b) < 2 || b[0]>>4 != 10 {
		return nil, nil // not AAC: skipped
	}
	fr := &flvFrame{DTS: pts, PTS: pts, Key: true}
	if b[1] == 0 {
		if len(b) < 4 {
			return nil, nil // no configuration yet (copied AAC): a later header carries it
		}
		fr.Codec = stream.AAC{Config: b[2:]}
		return fr, nil
	}
	if len(b) == 2 {
		return nil, nil
	}
	fr.Data = b[2:]
	return fr, nil
}
