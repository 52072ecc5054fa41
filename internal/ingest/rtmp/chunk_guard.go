package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrProtocol is wrapped by every error that closes a connection because the
// peer broke the RTMP protocol (bad handshake, malformed chunks, oversized
// messages, bad chunk size).
var ErrProtocol = errors.New("rtmp protocol violation")

// RTMP constants (Adobe RTMP spec 1.0, §5.2 handshake, §5.3 chunking,
// §5.4.1 Set Chunk Size).
const (
	rtmpVersion       = 3
	handshakeSize     = 1 + 1536 + 1536 // C0 + C1 + C2
	defaultChunkSize  = 128
	maxChunkSizeValue = 0xffffff // go-rtmp clamps larger sizes to this
	msgSetChunkSize   = 1
	maxChunkHeader    = 3 + 11 + 4
)

// chunkGuard follows the client-to-server byte stream of an RTMP connection
// in front of go-rtmp's own reader: the C0+C1+C2 handshake (RTMP spec §5.2),
// then the chunk stream (§5.3.1), tracking Set Chunk Size (§5.4.1). It fails
// on what go-rtmp does not check: a handshake that is not RTMP version 3, a
// message length of 0 or above the configured maximum, a new message header
// on a chunk stream whose message is incomplete, a type 2/3 chunk on a chunk
// stream that never had a header, too many chunk streams, too many bytes
// buffered in incomplete messages, and a chunk size of 0 or with the high bit
// set.
//
// It also rewrites the stream for go-rtmp v0.0.7, which reads an extended
// timestamp only after type 0-2 chunk headers. Encoders (FFmpeg, OBS) repeat
// the extended timestamp after a type-3 header when the chunk stream's last
// type 0/1/2 header had one (§5.3.1.3), which happens once timestamps reach
// 0xFFFFFF ms (~4.66 h); go-rtmp would take those 4 bytes as payload and lose
// the framing. Like SRS and nginx-rtmp, filter takes the 4 bytes after such
// a type-3 basic header for the repeated field, and drops them, when they
// equal the stored extended timestamp (some encoders omit the field); else
// they are payload and pass through (as soon as one byte differs).
type chunkGuard struct {
	maxMessage      uint32
	maxBuffered     int
	maxChunkStreams int

	handshakeLeft int
	chunkSize     uint32
	hdr           [maxChunkHeader]byte
	hdrN          int
	payloadLeft   uint32
	cur           *guardStream
	streams       map[int]*guardStream
	buffered      int
	err           error
}

type guardStream struct {
	length uint32
	typ    uint8
	got    uint32
	ok     bool
	ctl    [4]byte
	ext    bool   // the last type 0/1/2 header had an extended timestamp
	extTS  uint32 // its value
}

func newChunkGuard(maxMessage, maxChunkStreams int) *chunkGuard {
	return &chunkGuard{
		maxMessage:      uint32(maxMessage),
		maxBuffered:     2 * maxMessage,
		maxChunkStreams: maxChunkStreams,
		handshakeLeft:   handshakeSize,
		chunkSize:       defaultChunkSize,
		streams:         map[int]*guardStream{},
	}
}

func (g *chunkGuard) fail(format string, args ...any) error {
	g.err = fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
	return g.err
}

// headerLen returns the length of the chunk header whose first hdrN bytes
// are in g.hdr, as far as it is known from them.
func (g *chunkGuard) headerLen() int {
	b0 := g.hdr[0]
	basic := 1
	switch b0 & 0x3f {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	format := b0 >> 6
	n := basic + [4]int{11, 7, 3, 0}[format]
	if g.hdrN < n {
		return n
	}
	if format < 3 && g.hdr[basic] == 0xff && g.hdr[basic+1] == 0xff && g.hdr[basic+2] == 0xff {
		n += 4
	}
	if format == 3 {
		if st := g.streams[g.csid()]; st != nil && st.ext {
			// The candidate repeated extended timestamp, as far as its
			// bytes match: a byte that differs ends the header at once,
			// so payload is not held back waiting for more bytes.
			for i := n; i < g.hdrN; i++ {
				if g.hdr[i] != byte(st.extTS>>(8*(3-(i-n)))) {
					return g.hdrN
				}
			}
			n += 4
		}
	}
	return n
}

// csid returns the chunk stream ID of the complete basic header in g.hdr.
func (g *chunkGuard) csid() int {
	switch id := int(g.hdr[0] & 0x3f); id {
	case 0:
		return int(g.hdr[1]) + 64
	case 1:
		return int(g.hdr[2])*256 + int(g.hdr[1]) + 64
	default:
		return id
	}
}

// filter checks the next bytes read from the peer and appends what go-rtmp
// is to read to dst: the same bytes, less the repeated extended timestamps
// after type-3 chunk headers. A chunk header is appended once complete, so
// the bytes of an incomplete header at the end of p are held back until a
// later call completes it.
func (g *chunkGuard) filter(dst, p []byte) ([]byte, error) {
	for len(p) > 0 {
		if g.err != nil {
			return dst, g.err
		}
		switch {
		case g.handshakeLeft > 0:
			if g.handshakeLeft == handshakeSize && p[0] != rtmpVersion {
				return dst, g.fail("handshake version byte 0x%02x, want 0x03", p[0])
			}
			n := min(len(p), g.handshakeLeft)
			g.handshakeLeft -= n
			dst = append(dst, p[:n]...)
			p = p[n:]
		case g.payloadLeft > 0:
			n := min(uint32(len(p)), g.payloadLeft)
			st := g.cur
			if st.typ == msgSetChunkSize && st.got < 4 {
				copy(st.ctl[st.got:], p[:n])
			}
			st.got += n
			g.payloadLeft -= n
			g.buffered += int(n)
			dst = append(dst, p[:n]...)
			p = p[n:]
			if g.buffered > g.maxBuffered {
				return dst, g.fail("%d bytes buffered in incomplete messages", g.buffered)
			}
			if st.got == st.length {
				if err := g.complete(st); err != nil {
					return dst, err
				}
			}
		default:
			g.hdr[g.hdrN] = p[0]
			g.hdrN++
			p = p[1:]
			if g.hdrN == g.headerLen() {
				var err error
				if dst, err = g.header(dst); err != nil {
					return dst, err
				}
			}
		}
	}
	return dst, g.err
}

// header handles the complete chunk header in g.hdr and appends it to dst,
// less a repeated extended timestamp after a type-3 basic header.
func (g *chunkGuard) header(dst []byte) ([]byte, error) {
	h := g.hdr[:g.hdrN]
	g.hdrN = 0
	csid, basic := g.csid(), 1
	switch h[0] & 0x3f {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	st := g.streams[csid]
	if st == nil {
		if len(g.streams) >= g.maxChunkStreams {
			return dst, g.fail("more than %d chunk streams", g.maxChunkStreams)
		}
		st = &guardStream{}
		g.streams[csid] = st
	}
	var rest []byte // bytes after a type-3 basic header that are payload
	switch format := h[0] >> 6; format {
	case 0, 1:
		if st.got > 0 {
			return dst, g.fail("new message header on chunk stream %d before its message completed", csid)
		}
		m := h[basic+3:]
		length := uint32(m[0])<<16 | uint32(m[1])<<8 | uint32(m[2])
		if length == 0 {
			return dst, g.fail("zero-length message on chunk stream %d", csid)
		}
		if length > g.maxMessage {
			return dst, g.fail("message length %d exceeds the limit of %d", length, g.maxMessage)
		}
		st.length, st.typ, st.ok = length, m[3], true
		fallthrough
	case 2:
		if format == 2 && !st.ok {
			return dst, g.fail("chunk stream %d continues a message it never started", csid)
		}
		st.ext = len(h) == basic+[3]int{11, 7, 3}[format]+4
		if st.ext {
			st.extTS = binary.BigEndian.Uint32(h[len(h)-4:])
		}
		dst = append(dst, h...)
	default:
		if !st.ok {
			return dst, g.fail("chunk stream %d continues a message it never started", csid)
		}
		dst = append(dst, h[:basic]...)
		if len(h) > basic && (len(h) < basic+4 || binary.BigEndian.Uint32(h[basic:]) != st.extTS) {
			var b [4]byte
			rest = b[:copy(b[:], h[basic:])]
		}
	}
	g.cur = st
	g.payloadLeft = min(st.length-st.got, g.chunkSize)
	if rest != nil { // not the repeated field: go on with them as payload
		return g.filter(dst, rest)
	}
	return dst, nil
}

// complete handles the end of a message on st.
func (g *chunkGuard) complete(st *guardStream) error {
	g.buffered -= int(st.length)
	st.got = 0
	if st.typ != msgSetChunkSize {
		return nil
	}
	if st.length < 4 {
		return g.fail("set chunk size message of %d bytes", st.length)
	}
	v := binary.BigEndian.Uint32(st.ctl[:])
	if v&0x80000000 != 0 || v == 0 {
		return g.fail("chunk size %d", v)
	}
	g.chunkSize = min(v, maxChunkSizeValue)
	return nil
}

// pendingWire is a lower bound of the bytes the peer still has to send to
// complete the message in progress (0 when none is): its payload not yet
// read, plus one basic header byte (RTMP spec §5.3.1.1) for each further
// chunk it needs. The bound holds whatever the peer sends in between, so a
// reader may wait for that many bytes without waiting past the message.
// more reports whether the message needs a further chunk after the current
// one (encoders that write chunk by chunk then write again).
func (g *chunkGuard) pendingWire() (n int, more bool) {
	st := g.cur
	// a message is in progress from its first chunk header on: complete
	// resets got to 0 once the last payload byte is in
	if g.handshakeLeft > 0 || st == nil || (g.payloadLeft == 0 && st.got == 0) || st.got >= st.length {
		return 0, false
	}
	rest := st.length - st.got
	w := rest
	if rest > g.payloadLeft {
		w += (rest - g.payloadLeft) / g.chunkSize
	}
	return int(w), rest > g.payloadLeft
}
