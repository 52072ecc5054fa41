package restream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/mpegflow/mpegflow/internal/amf0"
)

// answer builds a command message a target could send.
func answer(vals ...any) []byte {
	var b []byte
	for _, v := range vals {
		b = amf0.Append(b, v)
	}
	return b
}

// chunked frames body as one message on chunk stream 3 with 128-byte
// chunks.
func chunked(typ uint8, body []byte) []byte {
	var buf bytes.Buffer
	w := chunkWriter{w: &buf, size: 128}
	_ = w.write(csidCommand, typ, 0, 0, body)
	return buf.Bytes()
}

// FuzzParseCommand covers the AMF0 decoding of a target's command answers
// (_result, _error, onStatus).
func FuzzParseCommand(f *testing.F) {
	f.Add(answer("_result", 1, amf0.Obj{kv("fmsVer", "FMS/3,0,1,123")}, amf0.Obj{kv("level", "status"), kv("code", "NetConnection.Connect.Success")}))
	f.Add(answer("_result", 4, nil, 1))
	f.Add(answer("onStatus", 0, nil, amf0.Obj{kv("level", "error"), kv("code", "NetStream.Publish.BadName"), kv("description", "no")}))
	f.Add(answer("_error", 1, nil, amf0.ECMA{kv("code", "NetConnection.Connect.Rejected")}))
	f.Add([]byte{amf0.StrictArray, 0, 0, 0, 2, amf0.Null, amf0.Number})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCommand(b)
		if err != nil {
			if !errors.Is(err, amf0.ErrDecode) {
				t.Fatalf("error %v does not wrap amf0.ErrDecode", err)
			}
			return
		}
		if c.level == "error" && c.refusal("x").Code == "" {
			t.Fatal("refusal without code")
		}
	})
}

// FuzzChunkReader covers the reassembly of a target's chunk stream.
func FuzzChunkReader(f *testing.F) {
	f.Add(chunked(msgCommandAMF0, answer("_result", 1, nil, amf0.Obj{kv("level", "status")})))
	f.Add(chunked(msgWindowAckSize, binary.BigEndian.AppendUint32(nil, 2500000)))
	f.Add(append(chunked(msgSetChunkSize, binary.BigEndian.AppendUint32(nil, 4096)), chunked(msgCommandAMF0, bytes.Repeat([]byte{5}, 300))...))
	f.Add(chunked(msgUserControl, []byte{0, 6, 1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newChunkReader(bytes.NewReader(b))
		for range 64 {
			m, err := r.next()
			if err != nil {
				if !errors.Is(err, errChunk) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(m.body) > maxInMessage {
				t.Fatalf("message of %d bytes", len(m.body))
			}
			if m.typ == msgCommandAMF0 {
				_, _ = parseCommand(m.body)
			}
		}
	})
}

func TestChunkRoundTrip(t *testing.T) {
	body := bytes.Repeat([]byte("abcdefgh"), 1000)
	var buf bytes.Buffer
	w := chunkWriter{w: &buf, size: 128}
	if err := w.write(csidVideo, msgVideo, 1, 0x1000000, body); err != nil {
		t.Fatal(err)
	}
	if err := w.write(csidVideo, msgVideo, 1, 5, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	r := newChunkReader(&buf)
	m, err := r.next()
	if err != nil || m.typ != msgVideo || m.ts != 0x1000000 || m.streamID != 1 || !bytes.Equal(m.body, body) {
		t.Fatalf("first message %v ts %d len %d", err, m.ts, len(m.body))
	}
	if m, err = r.next(); err != nil || m.ts != 5 || len(m.body) != 3 {
		t.Fatalf("second message %v %+v", err, m)
	}
}

func TestParseCommandStatus(t *testing.T) {
	c, err := parseCommand(answer("onStatus", 0, nil, amf0.Obj{kv("level", "error"), kv("code", "NetStream.Publish.BadName"), kv("description", "bad key")}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.refusal("fallback")
	if r.Code != "NetStream.Publish.BadName" || r.Description != "bad key" {
		t.Fatalf("%+v", r)
	}
}
