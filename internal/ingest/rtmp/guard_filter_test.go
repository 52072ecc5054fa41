package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// feed checks b with the guard, discarding what it passes on.
func (g *chunkGuard) feed(b []byte) error {
	_, err := g.filter(nil, b)
	return err
}

// chunkBuilder writes a client chunk stream twice: wire, as an encoder sends
// it (optionally repeating the extended timestamp after type-3 headers), and
// want, as go-rtmp v0.0.7 frames it (never repeating it). msgs are the
// messages go-rtmp must decode, with timestamps by RTMP spec §5.3.1.2.
type chunkBuilder struct {
	wire, want []byte
	chunkSize  int
	streams    map[int]*builderStream
	msgs       []decodedMsg
}

type builderStream struct {
	ts, delta uint32
	ext       bool   // last type 0/1/2 header had an extended timestamp
	extField  uint32 // its value
	length    int
	typ       byte
	msid      uint32
}

type decodedMsg struct {
	csid    int
	ts      uint32
	typ     byte
	payload string
}

func newChunkBuilder() *chunkBuilder {
	return &chunkBuilder{chunkSize: defaultChunkSize, streams: map[int]*builderStream{}}
}

func (b *chunkBuilder) both(p ...byte) {
	b.wire = append(b.wire, p...)
	b.want = append(b.want, p...)
}

func basicHeader(format byte, csid int) []byte {
	switch {
	case csid < 64:
		return []byte{format<<6 | byte(csid)}
	case csid < 320:
		return []byte{format << 6, byte(csid - 64)}
	default:
		return []byte{format<<6 | 1, byte((csid - 64) % 256), byte((csid - 64) / 256)}
	}
}

// msg writes one message on csid starting with a header of the given format
// (3: reuse everything), ts being the timestamp field (absolute for type 0,
// a delta else), then type-3 chunks, with the repeated extended timestamp
// when repeat is set.
func (b *chunkBuilder) msg(csid int, format byte, ts uint32, typ byte, payload []byte, repeat bool) {
	st := b.streams[csid]
	if st == nil {
		st = &builderStream{msid: 1}
		b.streams[csid] = st
	}
	b.both(basicHeader(format, csid)...)
	field := min(ts, 0xffffff)
	switch format {
	case 0:
		st.ts, st.delta = ts, 0
		b.both(byte(field>>16), byte(field>>8), byte(field), byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload)), typ, 1, 0, 0, 0)
	case 1:
		st.delta = ts
		b.both(byte(field>>16), byte(field>>8), byte(field), byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload)), typ)
	case 2:
		st.delta = ts
		b.both(byte(field>>16), byte(field>>8), byte(field))
	}
	if format < 3 {
		st.ext, st.extField = field == 0xffffff, ts
		if st.ext {
			b.both(binary.BigEndian.AppendUint32(nil, ts)...)
		}
		if format < 2 {
			st.length, st.typ = len(payload), typ
		}
	} else if repeat && st.ext {
		b.wire = binary.BigEndian.AppendUint32(b.wire, st.extField)
	}
	if len(payload) != st.length {
		panic("payload length differs from the stream's")
	}
	for i := 0; i < len(payload); i += b.chunkSize {
		if i > 0 {
			b.both(basicHeader(3, csid)...)
			if repeat && st.ext {
				b.wire = binary.BigEndian.AppendUint32(b.wire, st.extField)
			}
		}
		b.both(payload[i:min(i+b.chunkSize, len(payload))]...)
	}
	st.ts += st.delta
	b.msgs = append(b.msgs, decodedMsg{csid, st.ts, st.typ, string(payload)})
}

// setChunkSize writes a Set Chunk Size message on csid 2.
func (b *chunkBuilder) setChunkSize(n int) {
	b.msg(2, 0, 0, msgSetChunkSize, binary.BigEndian.AppendUint32(nil, uint32(n)), false)
	b.msgs = b.msgs[:len(b.msgs)-1] // go-rtmp's control layer takes it
	b.chunkSize = n
}

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

const bigTS = 0x01000000 // past 0xFFFFFF ms (~4.66 h)

func filterCases() []struct {
	name string
	b    *chunkBuilder
} {
	var cases []struct {
		name string
		b    *chunkBuilder
	}
	add := func(name string, f func(b *chunkBuilder)) {
		b := newChunkBuilder()
		f(b)
		cases = append(cases, struct {
			name string
			b    *chunkBuilder
		}{name, b})
	}
	for _, repeat := range []bool{true, false} {
		sfx := fmt.Sprintf(" repeat=%v", repeat)
		add("type 0 ext, 3 chunks"+sfx, func(b *chunkBuilder) {
			b.msg(6, 0, bigTS, 9, payload(300, 1), repeat)
		})
		add("ts exactly 0xffffff"+sfx, func(b *chunkBuilder) {
			b.msg(6, 0, 0xffffff, 9, payload(200, 2), repeat)
		})
		add("type 1, 2 and 3 messages with ext"+sfx, func(b *chunkBuilder) {
			b.msg(6, 0, bigTS, 9, payload(300, 3), repeat)
			b.msg(6, 1, 0x01000021, 9, payload(260, 4), repeat)
			b.msg(6, 2, 0x01000021, 0, payload(260, 5), repeat)
			b.msg(6, 3, 0, 0, payload(260, 6), repeat)
		})
		add("interleaved audio and video"+sfx, func(b *chunkBuilder) {
			b.msg(4, 0, bigTS, 8, payload(20, 7), repeat)
			b.msg(6, 0, bigTS+5, 9, payload(129, 8), repeat)
			b.msg(4, 1, 0x01000017, 8, payload(300, 9), repeat)
		})
		add("2-byte chunk stream IDs"+sfx, func(b *chunkBuilder) {
			b.msg(100, 0, bigTS, 9, payload(300, 10), repeat)
			b.msg(319, 0, 0xfffffffe, 8, payload(129, 11), repeat)
			b.msg(100, 3, 0, 9, payload(300, 12), repeat)
		})
		add("3-byte chunk stream IDs"+sfx, func(b *chunkBuilder) {
			b.msg(400, 0, bigTS, 9, payload(300, 26), repeat)
			b.msg(65599, 0, 0xfffffffe, 8, payload(129, 27), repeat)
			b.msg(400, 3, 0, 9, payload(300, 28), repeat)
		})
		add("set chunk size then ext"+sfx, func(b *chunkBuilder) {
			b.msg(6, 0, bigTS, 9, payload(300, 13), repeat)
			b.setChunkSize(256)
			b.msg(6, 1, 0x01000000, 9, payload(600, 14), repeat)
			b.setChunkSize(60)
			b.msg(6, 3, 0, 9, payload(600, 15), repeat)
		})
		add("message remainder shorter than the field"+sfx, func(b *chunkBuilder) {
			b.msg(6, 0, bigTS, 9, payload(130, 16), repeat)
			b.msg(6, 0, bigTS, 9, payload(129, 17), repeat)
			b.msg(4, 0, 5, 8, payload(3, 18), repeat)
			b.msg(6, 0, bigTS, 9, payload(131, 19), repeat)
			b.msg(4, 2, 1, 8, payload(3, 20), repeat)
		})
	}
	add("ext cleared by a plain header", func(b *chunkBuilder) {
		b.msg(6, 0, bigTS, 9, payload(300, 21), true)
		// a payload that starts with the old extended timestamp
		p := append(binary.BigEndian.AppendUint32(nil, bigTS), payload(200, 22)...)
		p[128], p[129], p[130], p[131] = 1, 0, 0, 0
		b.msg(6, 0, 40, 9, p, true)
	})
	add("payload equal to ext after an omitted field", func(b *chunkBuilder) {
		// The heuristic's known blind spot: an encoder that omits the field
		// and whose payload starts with it. Not made here; instead a payload
		// that differs from the field in its last byte only.
		p := payload(300, 23)
		copy(p[128:], []byte{1, 0, 0, 1})
		copy(p[256:], []byte{1, 0, 0})
		b.msg(6, 0, bigTS, 9, p, false)
	})
	add("no extended timestamps", func(b *chunkBuilder) {
		b.msg(6, 0, 1000, 9, payload(300, 24), true)
		b.msg(6, 1, 33, 9, payload(300, 25), true)
	})
	return cases
}

func TestChunkGuardFilter(t *testing.T) {
	for _, tc := range filterCases() {
		t.Run(tc.name, func(t *testing.T) {
			wire, want := tc.b.wire, tc.b.want
			newGuard := func() *chunkGuard {
				g := newChunkGuard(1<<16, 16)
				g.handshakeLeft = 0
				return g
			}
			got, err := newGuard().filter(nil, wire)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("whole: got\n% x\nwant\n% x", got, want)
			}
			for i := 0; i <= len(wire); i++ {
				g := newGuard()
				out, err := g.filter(nil, wire[:i])
				if err == nil {
					out, err = g.filter(out, wire[i:])
				}
				if err != nil || !bytes.Equal(out, want) {
					t.Fatalf("split at %d: err %v, output equal %v", i, err, bytes.Equal(out, want))
				}
			}
			g, out := newGuard(), []byte(nil)
			for i := range wire {
				if out, err = g.filter(out, wire[i:i+1]); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(out, want) {
				t.Fatal("byte by byte: output differs")
			}
		})
	}
}

// scriptedConn is a net.Conn whose reads return the given pieces.
type scriptedConn struct {
	net.Conn
	pieces [][]byte
}

func (s *scriptedConn) Read(p []byte) (int, error) {
	for len(s.pieces) > 0 && len(s.pieces[0]) == 0 {
		s.pieces = s.pieces[1:]
	}
	if len(s.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	return n, nil
}

func (s *scriptedConn) SetReadDeadline(time.Time) error { return nil }

// smallReader passes at most n bytes per Read, like a tight bufio.Reader.
type smallReader struct {
	r io.Reader
	n int
}

func (s smallReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// decodeChunks reads messages from r with go-rtmp's chunk reader until r
// ends; a panic in go-rtmp (it panics on some misframed input) is an error.
func decodeChunks(r io.Reader) (msgs []decodedMsg, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("go-rtmp panic: %v", p)
		}
	}()
	cs := gortmp.NewChunkStreamer(r, io.Discard, nil)
	defer cs.Close()
	for {
		var cm gortmp.ChunkMessage
		csid, ts, err := cs.Read(&cm)
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		switch m := cm.Message.(type) {
		case *message.SetChunkSize:
			if err := cs.PeerState().SetChunkSize(m.ChunkSize); err != nil {
				return msgs, err
			}
		case *message.VideoMessage:
			p, _ := io.ReadAll(m.Payload)
			msgs = append(msgs, decodedMsg{csid, ts, 9, string(p)})
		case *message.AudioMessage:
			p, _ := io.ReadAll(m.Payload)
			msgs = append(msgs, decodedMsg{csid, ts, 8, string(p)})
		default:
			return msgs, fmt.Errorf("unexpected message %T", m)
		}
	}
}

// TestConnReadFilter feeds crafted chunk streams (after a handshake) through
// conn.Read, the peer's bytes arriving in pieces split at every offset, and
// has go-rtmp's chunk reader decode the messages.
func TestConnReadFilter(t *testing.T) {
	for _, tc := range filterCases() {
		if strings.HasPrefix(tc.name, "3-byte") {
			// go-rtmp v0.0.7 reads a 3-byte basic header with
			// io.ReadAtLeast(r, buf[1:], 2) on its 64 KiB cache buffer,
			// swallowing what follows: it cannot decode those at all.
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			wire := append(handshakeBytes(), tc.b.wire...)
			want := tc.b.msgs
			run := func(pieces [][]byte, readSize int) {
				t.Helper()
				raw := &scriptedConn{pieces: pieces}
				c := &conn{s: &Server{}, raw: raw, rw: raw, guard: newChunkGuard(1<<16, 16)}
				hs := make([]byte, handshakeSize)
				if _, err := io.ReadFull(smallReader{c, readSize}, hs); err != nil {
					t.Fatal(err)
				}
				got, err := decodeChunks(smallReader{c, readSize})
				if err != nil {
					t.Fatalf("pieces %d, reads of %d: %v", len(pieces), readSize, err)
				}
				if len(got) != len(want) {
					t.Fatalf("pieces %d, reads of %d: %d messages, want %d", len(pieces), readSize, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("pieces %d, reads of %d: message %d: csid %d ts %#x type %d len %d, want csid %d ts %#x type %d len %d",
							len(pieces), readSize, i, got[i].csid, got[i].ts, got[i].typ, len(got[i].payload),
							want[i].csid, want[i].ts, want[i].typ, len(want[i].payload))
					}
				}
			}
			run([][]byte{wire}, 64<<10)
			run([][]byte{wire}, 5)
			for i := handshakeSize; i <= len(wire); i++ {
				run([][]byte{wire[:i:i], wire[i:]}, 64<<10)
			}
			var ones [][]byte
			for i := range wire {
				ones = append(ones, wire[i:i+1])
			}
			run(ones, 3)
		})
	}
}

// TestGoRTMPMisframesRepeatedExt shows the bug the filter works around: fed
// the raw stream, go-rtmp decodes the wrong messages.
func TestGoRTMPMisframesRepeatedExt(t *testing.T) {
	b := newChunkBuilder()
	b.msg(6, 0, bigTS, 9, payload(300, 1), true)
	b.msg(6, 1, 33, 9, payload(300, 2), true)
	got, err := decodeChunks(bytes.NewReader(b.wire))
	if err == nil && len(got) == len(b.msgs) && got[0] == b.msgs[0] && got[1] == b.msgs[1] {
		t.Fatal("go-rtmp decoded repeated extended timestamps; the filter may be unneeded")
	}
}
