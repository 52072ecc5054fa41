package rtmptest

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// ServerMessages reassembles the messages in what an RTMP server sent on
// one connection (S0, S1 and S2, then chunks; RTMP spec 5.3), following Set
// Chunk Size, and returns their payloads in order of completion. A test
// that looks for an onStatus code must look in these: the chunks of two
// messages interleave on the wire, so a code can be split by another
// message's chunk. It stops at the first truncated chunk.
func ServerMessages(b []byte) ([][]byte, error) {
	const handshake = 1 + 1536 + 1536
	if len(b) < handshake {
		return nil, errors.New("rtmptest: shorter than the handshake")
	}
	b = b[handshake:]
	type cstate struct {
		length  int
		typ     byte
		pending []byte
	}
	streams := map[uint32]*cstate{}
	chunkSize := 128
	var out [][]byte
	for len(b) > 0 {
		f := b[0] >> 6
		csid := uint32(b[0] & 0x3f)
		n := 1
		switch csid {
		case 0:
			if len(b) < 2 {
				return out, nil
			}
			csid, n = uint32(b[1])+64, 2
		case 1:
			if len(b) < 3 {
				return out, nil
			}
			csid, n = uint32(b[1])+uint32(b[2])*256+64, 3
		}
		st := streams[csid]
		if st == nil {
			st = &cstate{}
			streams[csid] = st
		}
		hdr := [4]int{11, 7, 3, 0}[f]
		if len(b) < n+hdr {
			return out, nil
		}
		h := b[n : n+hdr]
		ts := uint32(0)
		if hdr >= 3 {
			ts = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		}
		if hdr >= 7 {
			st.length = int(h[3])<<16 | int(h[4])<<8 | int(h[5])
			st.typ = h[6]
		}
		n += hdr
		if ts == 0xffffff {
			n += 4
		}
		want := min(chunkSize, st.length-len(st.pending))
		if want < 0 || len(b) < n+want {
			return out, nil
		}
		st.pending = append(st.pending, b[n:n+want]...)
		b = b[n+want:]
		if len(st.pending) == st.length {
			msg := st.pending
			st.pending = nil
			if st.typ == 1 && len(msg) >= 4 { // Set Chunk Size (5.4.1)
				chunkSize = int(binary.BigEndian.Uint32(msg) & 0x7fffffff)
			}
			out = append(out, msg)
		}
	}
	return out, nil
}

// ServerSent reports whether a message the server sent contains s.
func ServerSent(b []byte, s string) bool {
	msgs, _ := ServerMessages(b)
	for _, m := range msgs {
		if bytes.Contains(m, []byte(s)) {
			return true
		}
	}
	return false
}
