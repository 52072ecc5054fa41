package rtmp

import (
	"bytes"
	"io"
	"testing"

	"github.com/mpegflow/mpegflow/internal/amf0"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; these f.Add seeds repeat
// the most important shapes so a plain `go test` exercises them too.

func FuzzVideoTag(f *testing.F) {
	f.Add(legacyAVCSeqHeader(testSPS, testPPS))
	f.Add(legacyAVCFrame(true, -33, []byte{0x65, 1, 2}))
	f.Add(exVideo(1, exVideoSequenceStart, "hvc1", rtmptest.HVCC(testVPS, testH5S, testH5P)...))
	f.Add(exVideo(2, exVideoCodedFrames, "hvc1", 0, 0, 0x21, 0, 0, 0, 2, 0x26, 1))
	f.Add(exVideo(1, exVideoSequenceStart, "av01", append([]byte{0x81, 0, 0x0c, 0}, testAV1SeqOBU...)...))
	f.Add(exVideo(1, exVideoCodedFrames, "av01", testAV1SeqOBU...))
	f.Add([]byte{0x80 | 2<<4 | exVideoModEx, 0, 0x55, exVideoCodedFramesX, 'h', 'v', 'c', '1', 0, 0, 0, 1, 0x26})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := parseVideoTag(b)
		if err != nil {
			return
		}
		if len(tag.Payload) > len(b) {
			t.Fatalf("payload longer than the tag")
		}
		switch tag.Kind {
		case tagConfig:
			switch tag.Codec {
			case videoH264:
				_, _, _ = parseAVCConfig(tag.Payload)
			case videoH265:
				_, _, _ = parseHEVCConfig(tag.Payload)
			case videoAV1:
				_, _ = parseAV1Config(tag.Payload)
			}
		case tagFrame:
			if tag.Codec == videoAV1 {
				_, _ = splitOBUs(tag.Payload)
				return
			}
			for _, ls := range []int{1, 2, 4} {
				nalus, err := splitLengthPrefixed(tag.Payload, ls)
				if err == nil && len(nalus) == 0 {
					t.Fatal("no error and no NAL units")
				}
			}
		}
	})
}

func FuzzAudioTag(f *testing.F) {
	f.Add(legacyAACSeqHeader(testASC))
	f.Add(legacyAACFrame([]byte{0x21, 0x10, 4}))
	f.Add(append([]byte{0x90 | exAudioSequenceStart, 'O', 'p', 'u', 's'}, append([]byte("OpusHead"), 1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0)...))
	f.Add([]byte{0x90 | exAudioCodedFrames, 'm', 'p', '4', 'a', 9})
	f.Add([]byte{0x90 | exAudioModEx, 1, 0, 0, exAudioCodedFrames, 'O', 'p', 'u', 's', 0xfc})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := parseAudioTag(b)
		if err != nil || tag.Kind != tagConfig {
			return
		}
		switch tag.Codec {
		case audioAAC:
			_, _ = parseAACConfig(tag.Payload)
		case audioOpus:
			_, _ = parseOpusHead(tag.Payload)
		}
	})
}

func FuzzScriptData(f *testing.F) {
	f.Add(append(amfString("onMetaData"), amfECMA("videocodecid", amfNumber(7), "audiocodecid", amfNumber(10))...), true)
	f.Add(amfECMA("videocodecid", amfNumber(fourCChvc1), "encoder", amfString("obs")), false)
	f.Add(append(amfString("onMetaData"), []byte{amf0.Object, 0, 1, 'a', amf0.StrictArray, 0, 0, 0, 1, amf0.Date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, amf0.ObjectEnd}...), true)
	f.Fuzz(func(t *testing.T, b []byte, withName bool) {
		m, err := parseMetadata(b, withName)
		if err == nil && (m.Video != (m.VideoCodec != videoNone) || m.Audio != (m.AudioCodec != audioNone)) {
			t.Fatalf("inconsistent metadata %+v", m)
		}
	})
}

// FuzzChunkGuard feeds the guard a chunk stream (after a valid handshake,
// unless handshake is set and b itself starts with C0) whole and in pieces of
// step bytes: both must agree, on the error and on the filtered output, the
// output must not be longer than the input, and the buffered byte count and
// the bound of the bytes the message in progress still needs must stay
// within the message size limit.
func FuzzChunkGuard(f *testing.F) {
	f.Add(chunk(2, 1, 4, []byte{0, 0, 16, 0}), 7, false)
	f.Add(append(chunk(6, 9, 300, make([]byte, 128)), 0xc6, 1, 2), 1, false)
	f.Add([]byte{0xc6, 1, 2}, 3, false)
	f.Add([]byte{0x06, 0xff, 0xff, 0xff, 0, 0, 2, 9, 1, 0, 0, 0, 0, 0, 0, 1, 7, 7}, 5, false)
	f.Add([]byte{0x01, 5, 1, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 1}, 2, false)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 3, true)
	// extended timestamps repeated (or not) after type-3 headers
	f.Add(append(append([]byte{0x06, 0xff, 0xff, 0xff, 0, 0, 200, 9, 1, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 128)...), 0xc6, 1, 0, 0, 0, 7, 7), 17, false)
	f.Add(append(append([]byte{0x06, 0xff, 0xff, 0xff, 0, 0, 130, 9, 1, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 128)...), 0xc6, 7, 7, 0x06, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 5), 2, false)
	f.Add(append(append([]byte{0x00, 5, 0xff, 0xff, 0xff, 0, 0, 130, 9, 1, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 128)...), 0xc0, 5, 1, 0, 0, 0, 1, 2), 1, false)
	f.Fuzz(func(t *testing.T, b []byte, step int, handshake bool) {
		if step <= 0 || step > 4096 {
			step = 1
		}
		newGuard := func() *chunkGuard {
			g := newChunkGuard(1<<12, 8)
			if !handshake {
				g.handshakeLeft = 0
			}
			return g
		}
		g, whole := newGuard(), newGuard()
		outWhole, errWhole := whole.filter(nil, b)
		if len(outWhole) > len(b) {
			t.Fatalf("output of %d bytes for %d", len(outWhole), len(b))
		}
		var out []byte
		var err error
		for in := b; len(in) > 0 && err == nil; {
			n := min(step, len(in))
			out, err = g.filter(out, in[:n])
			in = in[n:]
		}
		if (err == nil) != (errWhole == nil) {
			t.Fatalf("split feeding disagrees: %v vs %v", err, errWhole)
		}
		if err == nil && !bytes.Equal(out, outWhole) {
			t.Fatalf("split filtering disagrees:\n% x\n% x", out, outWhole)
		}
		if g.buffered < 0 || g.buffered > g.maxBuffered {
			t.Fatalf("buffered %d", g.buffered)
		}
		if p, _ := g.pendingWire(); err == nil && (p < 0 || p > 2*int(g.maxMessage)) {
			t.Fatalf("pending wire bytes %d", p)
		}
	})
}

// FuzzChunkFilter builds a chunk stream from ops (6 bytes an operation: a
// message of type 0-3 header on one of a few chunk streams, with or without
// an extended timestamp, repeated after its type-3 headers or not; or a Set
// Chunk Size) and checks that the guard's filter turns it into the stream
// go-rtmp frames, whole and split at split, and that go-rtmp reads the
// messages through conn.Read. Payload bytes are below 0x80 and extended
// timestamps above 0x80000000, so no payload is taken for an omitted field
// (the heuristic's blind spot, which no filter can see through).
func FuzzChunkFilter(f *testing.F) {
	f.Add([]byte{0, 2, 1, 44, 1, 1}, 150)
	f.Add([]byte{0, 2, 1, 44, 1, 1, 1, 2, 1, 3, 3, 3, 3, 2, 0, 0, 0, 0, 2, 2, 0, 0, 5, 1}, 300)
	f.Add([]byte{0, 0, 0, 130, 1, 1, 0, 1, 0, 3, 4, 0, 4, 0, 1, 0, 0, 0, 0, 0, 0, 131, 1, 0}, 131)
	f.Add([]byte{0, 3, 3, 0, 9, 1, 4, 0, 0, 99, 0, 0, 1, 3, 2, 0, 7, 3, 3, 3, 0, 0, 0, 1}, 40)
	f.Add([]byte{0, 4, 0, 200, 3, 1, 0, 1, 0, 200, 5, 0, 3, 4, 0, 0, 0, 1}, 7)
	f.Fuzz(func(t *testing.T, ops []byte, split int) {
		b := fuzzChunkStream(ops)
		newGuard := func() *chunkGuard {
			g := newChunkGuard(1<<16, 16)
			g.handshakeLeft = 0
			return g
		}
		got, err := newGuard().filter(nil, b.wire)
		if err != nil || !bytes.Equal(got, b.want) {
			t.Fatalf("whole: err %v\ngot  % x\nwant % x", err, got, b.want)
		}
		split = max(0, split) % (len(b.wire) + 1)
		g := newGuard()
		got, err = g.filter(nil, b.wire[:split])
		if err == nil {
			got, err = g.filter(got, b.wire[split:])
		}
		if err != nil || !bytes.Equal(got, b.want) {
			t.Fatalf("split at %d: err %v\ngot  % x\nwant % x", split, err, got, b.want)
		}
		wire := append(handshakeBytes(), b.wire...)
		raw := &scriptedConn{pieces: [][]byte{wire[: handshakeSize+split : handshakeSize+split], wire[handshakeSize+split:]}}
		c := &conn{s: &Server{}, raw: raw, rw: raw, guard: newChunkGuard(1<<16, 16)}
		if _, err := io.ReadFull(c, make([]byte, handshakeSize)); err != nil {
			t.Fatal(err)
		}
		msgs, err := decodeChunks(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(b.msgs) {
			t.Fatalf("%d messages, want %d", len(msgs), len(b.msgs))
		}
		for i := range msgs {
			if msgs[i] != b.msgs[i] {
				t.Fatalf("message %d: csid %d ts %#x type %d, want csid %d ts %#x type %d", i,
					msgs[i].csid, msgs[i].ts, msgs[i].typ, b.msgs[i].csid, b.msgs[i].ts, b.msgs[i].typ)
			}
		}
	})
}

func fuzzChunkStream(ops []byte) *chunkBuilder {
	b := newChunkBuilder()
	for n := 0; len(ops) >= 6 && n < 40; n++ {
		op := ops[:6]
		ops = ops[6:]
		num := int(op[2])<<8 | int(op[3])
		if op[0]%5 == 4 {
			b.setChunkSize(1 + num%1000)
			continue
		}
		format := op[0] % 5
		csid := []int{3, 4, 6, 70, 319}[op[1]%5]
		ts := uint32(op[4])
		if op[4]&1 != 0 {
			ts = 0x80000000 | uint32(op[4])<<16 | uint32(op[3])
		}
		typ := byte(8)
		if op[5]&2 != 0 {
			typ = 9
		}
		length := 1 + num%700
		st := b.streams[csid]
		if st == nil {
			format = 0
		} else if format >= 2 {
			length = st.length
		}
		p := make([]byte, length)
		for i := range p {
			p[i] = byte(i*31+int(op[5])) & 0x7f
		}
		b.msg(csid, format, ts, typ, p, op[5]&1 != 0)
	}
	return b
}
