package restream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RTMP message type ids (RTMP spec §5.4, §7.1).
const (
	msgSetChunkSize     = 1
	msgAbort            = 2
	msgAck              = 3
	msgUserControl      = 4
	msgWindowAckSize    = 5
	msgSetPeerBandwidth = 6
	msgAudio            = 8
	msgVideo            = 9
	msgDataAMF0         = 18
	msgCommandAMF0      = 20
)

// Chunk stream ids the client writes on (RTMP spec §5.3.1.1: 2 is
// protocol control; the others are free and follow common practice).
const (
	csidControl = 2
	csidCommand = 3
	csidAudio   = 4
	csidVideo   = 6
	csidData    = 5
)

// Limits on what a target may send (its answers are untrusted).
const (
	maxInMessage      = 1 << 20
	maxInChunkStreams = 16
	// outChunkSize is the chunk size the client announces and writes with.
	outChunkSize = 4096
)

var errChunk = errors.New("bad RTMP chunk stream")

// message is one reassembled RTMP message.
type message struct {
	typ      uint8
	streamID uint32
	ts       uint32
	body     []byte
}

// chunkWriter writes RTMP messages as chunks (RTMP spec §5.3): a type 0
// header on the first chunk of every message, type 3 on the rest.
type chunkWriter struct {
	w    io.Writer
	size int
	hdr  []byte
}

// write sends one message; the caller serialises writes.
func (c *chunkWriter) write(csid int, typ uint8, streamID, ts uint32, body []byte) error {
	ext := ts >= 0xFFFFFF
	h := c.hdr[:0]
	h = append(h, byte(csid)) // fmt 0, csid 2..63
	t := ts
	if ext {
		t = 0xFFFFFF
	}
	h = append(h, byte(t>>16), byte(t>>8), byte(t))
	h = append(h, byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	h = append(h, typ)
	h = binary.LittleEndian.AppendUint32(h, streamID) // §5.3.1.2.1: little-endian
	if ext {
		h = binary.BigEndian.AppendUint32(h, ts)
	}
	c.hdr = h
	if _, err := c.w.Write(h); err != nil {
		return err
	}
	for first := true; first || len(body) > 0; first = false {
		if !first {
			cont := []byte{0xC0 | byte(csid)}
			if ext {
				cont = binary.BigEndian.AppendUint32(cont, ts)
			}
			if _, err := c.w.Write(cont); err != nil {
				return err
			}
		}
		n := min(len(body), c.size)
		if _, err := c.w.Write(body[:n]); err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// chunkReader reassembles the messages a target sends (RTMP spec §5.3),
// bounding message size and the number of chunk streams.
type chunkReader struct {
	r       *bufio.Reader
	size    int
	streams map[uint32]*inStream
	n       uint64 // bytes read, for acknowledgements (§5.4.3)
}

type inStream struct {
	ts, delta uint32
	length    int
	typ       uint8
	streamID  uint32
	ext       bool
	buf       []byte
	started   bool
}

func newChunkReader(r io.Reader) *chunkReader {
	return &chunkReader{r: bufio.NewReaderSize(r, 4096), size: 128, streams: map[uint32]*inStream{}}
}

func (c *chunkReader) read(p []byte) error {
	n, err := io.ReadFull(c.r, p)
	c.n += uint64(n)
	return err
}

func (c *chunkReader) byte1() (byte, error) {
	var b [1]byte
	err := c.read(b[:])
	return b[0], err
}

// next returns the next complete message. Set Chunk Size is applied here.
func (c *chunkReader) next() (*message, error) {
	for {
		m, err := c.chunk()
		if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		if m.typ == msgSetChunkSize {
			if len(m.body) < 4 {
				return nil, fmt.Errorf("%w: short set chunk size", errChunk)
			}
			sz := int(binary.BigEndian.Uint32(m.body) & 0x7FFFFFFF)
			if sz < 1 || sz > 0xFFFFFF {
				return nil, fmt.Errorf("%w: chunk size %d", errChunk, sz)
			}
			c.size = sz
		}
		return m, nil
	}
}

// chunk reads one chunk and returns the message it completes, if any.
func (c *chunkReader) chunk() (*message, error) {
	b0, err := c.byte1()
	if err != nil {
		return nil, err
	}
	fmtType := b0 >> 6
	csid := uint32(b0 & 0x3F)
	switch csid {
	case 0:
		b, err := c.byte1()
		if err != nil {
			return nil, err
		}
		csid = uint32(b) + 64
	case 1:
		var b [2]byte
		if err := c.read(b[:]); err != nil {
			return nil, err
		}
		csid = uint32(b[1])*256 + uint32(b[0]) + 64
	}
	st := c.streams[csid]
	if st == nil {
		if fmtType != 0 {
			return nil, fmt.Errorf("%w: chunk stream %d starts with header type %d", errChunk, csid, fmtType)
		}
		if len(c.streams) >= maxInChunkStreams {
			return nil, fmt.Errorf("%w: more than %d chunk streams", errChunk, maxInChunkStreams)
		}
		st = &inStream{}
		c.streams[csid] = st
	}
	var h [11]byte
	hl := [4]int{11, 7, 3, 0}[fmtType]
	if err := c.read(h[:hl]); err != nil {
		return nil, err
	}
	if hl > 0 && len(st.buf) > 0 {
		return nil, fmt.Errorf("%w: new message header inside a message on chunk stream %d", errChunk, csid)
	}
	if hl >= 3 {
		t := uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		st.ext = t == 0xFFFFFF
		if fmtType == 0 {
			st.ts, st.delta = t, 0
		} else {
			st.delta = t
		}
	}
	if hl >= 7 {
		st.length = int(h[3])<<16 | int(h[4])<<8 | int(h[5])
		st.typ = h[6]
		if st.length > maxInMessage {
			return nil, fmt.Errorf("%w: message of %d bytes", errChunk, st.length)
		}
	}
	if hl == 11 {
		st.streamID = binary.LittleEndian.Uint32(h[7:11])
	}
	if st.ext {
		var e [4]byte
		if err := c.read(e[:]); err != nil {
			return nil, err
		}
		if fmtType == 0 {
			st.ts = binary.BigEndian.Uint32(e[:])
		} else if len(st.buf) == 0 {
			st.delta = binary.BigEndian.Uint32(e[:])
		}
	}
	if len(st.buf) == 0 && fmtType != 0 {
		st.ts += st.delta
	}
	if !st.started && fmtType != 0 {
		return nil, fmt.Errorf("%w: chunk stream %d has no message header", errChunk, csid)
	}
	st.started = true
	n := min(c.size, st.length-len(st.buf))
	if st.buf == nil {
		st.buf = make([]byte, 0, st.length)
	}
	start := len(st.buf)
	st.buf = st.buf[:start+n]
	if err := c.read(st.buf[start:]); err != nil {
		return nil, err
	}
	if len(st.buf) < st.length {
		return nil, nil
	}
	m := &message{typ: st.typ, streamID: st.streamID, ts: st.ts, body: st.buf}
	st.buf = nil
	return m, nil
}
