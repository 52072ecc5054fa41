package rtmp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest"
)

// chunked returns the chunk stream of one message on chunk stream 6 as an
// encoder sends it: a type-0 (first) or type-1 header, then the payload in
// chunks of chunkSize, each after the first behind a one-byte type-3
// header (RTMP spec §5.3.1). It returns the writes, one per element, as
// FFmpeg issues them.
func chunked(first bool, typ byte, payload []byte, chunkSize int) [][]byte {
	n := len(payload)
	var hdr []byte
	if first {
		hdr = []byte{0x06, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n), typ, 1, 0, 0, 0}
	} else {
		hdr = []byte{0x46, 0, 0, 33, byte(n >> 16), byte(n >> 8), byte(n), typ}
	}
	writes := [][]byte{hdr}
	for off := 0; off < n; off += chunkSize {
		if off > 0 {
			writes = append(writes, []byte{0xc6})
		}
		writes = append(writes, payload[off:min(off+chunkSize, n)])
	}
	return writes
}

func TestPendingWire(t *testing.T) {
	g := newChunkGuard(1<<20, 8)
	g.handshakeLeft = 0
	if got, _ := g.pendingWire(); got != 0 {
		t.Fatalf("before any chunk: %d", got)
	}
	payload := make([]byte, 1000)
	ws := chunked(true, 9, payload, defaultChunkSize)
	var stream []byte
	for _, w := range ws {
		stream = append(stream, w...)
	}
	// after each prefix, the bound must not exceed what the message still
	// needs on the wire, and must be 0 between messages
	for i := 0; i <= len(stream); i++ {
		g := newChunkGuard(1<<20, 8)
		g.handshakeLeft = 0
		if _, err := g.filter(nil, stream[:i]); err != nil {
			t.Fatal(err)
		}
		left := len(stream) - i
		got, _ := g.pendingWire()
		if got > left {
			t.Fatalf("after %d bytes: bound %d exceeds the %d bytes left", i, got, left)
		}
		if i >= 12 && i < len(stream) && got == 0 {
			t.Fatalf("after %d bytes: no bound inside the message", i)
		}
		if i == len(stream) && got != 0 {
			t.Fatalf("after the message: bound %d", got)
		}
	}
	if n, _ := (&chunkGuard{handshakeLeft: 5}).pendingWire(); n != 0 {
		t.Fatal("bound during the handshake")
	}
}

// testReadConn returns a publishing conn over the server side of a loopback
// TCP connection and the client side, without go-rtmp: the test reads
// conn itself. lowat false reads without SO_RCVLOWAT, as before.
func testReadConn(tb testing.TB, lowat bool) (*conn, *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	sv, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close(); sv.Close() })
	_ = cl.(*net.TCPConn).SetNoDelay(true) // every write a segment, as on a real network
	s := &Server{cfg: Config{Metrics: ingest.NopMetrics{}}, protocol: ProtocolRTMP, log: slog.New(slog.DiscardHandler)}
	s.cfg.setDefaults()
	s.cfg.IdleTimeout = 5 * time.Second
	c := &conn{s: s, ctx: context.Background(), raw: sv, rw: sv, guard: newChunkGuard(s.cfg.MaxMessageSize, defaultMaxChunkStreams),
		log: s.log, admitted: true, handshakeDeadline: time.Now().Add(time.Minute)}
	c.sock, c.lowat, c.lowatOff = socketOf(sv), 1, !lowat
	if c.sock == nil {
		tb.Fatal("no raw socket")
	}
	return c, cl.(*net.TCPConn)
}

// readN reads n filtered bytes from c.
func readN(c *conn, buf []byte, n int) ([]byte, error) {
	var out []byte
	for len(out) < n {
		k, err := c.Read(buf[:min(len(buf), n-len(out))])
		out = append(out, buf[:k]...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// TestLowatSplitMessage sends a video message in two parts with a pause
// between them and then a small audio message: with SO_RCVLOWAT set for
// the rest of the video message, both must still arrive whole and at once,
// never held until the read deadline.
func TestLowatSplitMessage(t *testing.T) {
	c, cl := testReadConn(t, true)
	video := bytes.Repeat([]byte{0xab}, 5000)
	audio := bytes.Repeat([]byte{0xcd}, 40)
	var first, rest []byte
	for i, w := range chunked(true, 9, video, defaultChunkSize) {
		if i < 10 {
			first = append(first, w...)
		} else {
			rest = append(rest, w...)
		}
	}
	var tail []byte
	for _, w := range chunked(false, 8, audio, defaultChunkSize) {
		tail = append(tail, w...)
	}
	sent := make(chan time.Time, 2)
	go func() {
		_, _ = cl.Write(handshakeBytes())
		_, _ = cl.Write(first)
		time.Sleep(150 * time.Millisecond)
		sent <- time.Now()
		_, _ = cl.Write(rest)
		time.Sleep(150 * time.Millisecond)
		sent <- time.Now()
		_, _ = cl.Write(tail)
	}()
	buf := make([]byte, 64<<10)
	if _, err := readN(c, buf, handshakeSize+len(first)); err != nil {
		t.Fatal(err)
	}
	if _, err := readN(c, buf, len(rest)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(<-sent); d > time.Second {
		t.Fatalf("rest of the message read %v after it was sent", d)
	}
	if c.lowat <= 1 {
		t.Fatalf("SO_RCVLOWAT %d: never set inside a 5000-byte message sent in two parts", c.lowat)
	}
	got, err := readN(c, buf, len(tail))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(<-sent); d > time.Second {
		t.Fatalf("small message read %v after it was sent", d)
	}
	if !bytes.Equal(got, tail) {
		t.Fatal("small message altered")
	}
	if c.lowat != 1 {
		t.Fatalf("SO_RCVLOWAT %d after the messages, want 1", c.lowat)
	}
}

// BenchmarkConnRead is the RTMP read path per MB of video: 10 KB messages
// (a 2.5 Mb/s 30 fps frame) sent as FFmpeg sends them, 128-byte chunks each
// a write of its own, one message at a time. reads/MB is the socket reads.
func BenchmarkConnRead(b *testing.B) {
	for _, lowat := range []bool{false, true} {
		name := "plain"
		if lowat {
			name = "rcvlowat"
		}
		b.Run(name, func(b *testing.B) {
			c, cl := testReadConn(b, lowat)
			frame := bytes.Repeat([]byte{0x17}, 10<<10)
			writes := chunked(false, 9, frame, defaultChunkSize)
			wire := 0
			for _, w := range writes {
				wire += len(w)
			}
			const perOp = 100 // messages per op: about 1 MB
			buf := make([]byte, 64<<10)
			next := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				w := func(p []byte) bool { _, err := cl.Write(p); return err == nil }
				if !w(handshakeBytes()) || !w(chunked(true, 9, frame[:1], defaultChunkSize)[0]) || !w(frame[:1]) {
					return
				}
				for range next {
					for _, p := range writes {
						if !w(p) {
							return
						}
					}
				}
			}()
			if _, err := readN(c, buf, handshakeSize+12+1); err != nil {
				b.Fatal(err)
			}
			c.rawReads = 0
			b.SetBytes(perOp * int64(wire))
			b.ResetTimer()
			for b.Loop() {
				for range perOp {
					next <- struct{}{}
					if _, err := readN(c, buf, wire); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			close(next)
			cl.Close()
			<-done
			b.ReportMetric(float64(c.rawReads)/float64(b.N), "reads/MB")
		})
	}
}

var _ io.Reader = (*conn)(nil)

// TestLowatNeverHoldsAMessage sends messages of random sizes (some on a
// second chunk stream, after a Set Chunk Size), each in writes split at
// random points with short pauses, and waits for the reader to have each
// message whole before sending the next: a low-water mark above what a
// message still needs would hold it until the read deadline.
func TestLowatNeverHoldsAMessage(t *testing.T) {
	t.Parallel()
	c, cl := testReadConn(t, true)
	rng := rand.New(rand.NewPCG(1, 2))
	type msg struct{ wire []byte }
	var msgs []msg
	setChunk := []byte{0x02, 0, 0, 0, 0, 0, 4, msgSetChunkSize, 0, 0, 0, 0, 0, 0, 4, 0} // 1024
	chunkSize := defaultChunkSize
	for i := range 120 {
		if i == 60 {
			msgs = append(msgs, msg{setChunk})
			chunkSize = 1024
			continue
		}
		n := 1 + rng.IntN(20000)
		if i%3 == 0 {
			n = 1 + rng.IntN(600)
		}
		var w []byte
		for _, p := range chunked(i == 0, 9, bytes.Repeat([]byte{byte(i)}, n), chunkSize) {
			w = append(w, p...)
		}
		msgs = append(msgs, msg{w})
	}
	got := make(chan int, 1) // bytes read so far, after each read
	go func() {
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(got)
				return
			}
			total += n
			select {
			case <-got:
			default:
			}
			got <- total
		}
	}()
	if _, err := cl.Write(handshakeBytes()); err != nil {
		t.Fatal(err)
	}
	want := handshakeSize
	waitFor := func(n int, what string) {
		deadline := time.After(2 * time.Second)
		for {
			select {
			case total, ok := <-got:
				if !ok {
					t.Fatalf("%s: read failed", what)
				}
				if total >= n {
					return
				}
			case <-deadline:
				t.Fatalf("%s: held (SO_RCVLOWAT %d)", what, c.lowat)
			}
		}
	}
	waitFor(want, "handshake")
	for i, m := range msgs {
		for w := m.wire; len(w) > 0; {
			k := min(len(w), 1+rng.IntN(3000))
			if _, err := cl.Write(w[:k]); err != nil {
				t.Fatal(err)
			}
			w = w[k:]
			if rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		want += len(m.wire)
		waitFor(want, fmt.Sprintf("message %d (%d bytes)", i, len(m.wire)))
	}
}

// TestLowatOffForNagleSender: a sender with Nagle's algorithm on (FFmpeg's
// default) holds each chunk until the previous one is acknowledged, which
// Linux does late for bytes nobody reads: the connection must notice and
// read without low-water marks, and each message must still arrive.
func TestLowatOffForNagleSender(t *testing.T) {
	t.Parallel()
	c, cl := testReadConn(t, true)
	if err := cl.SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	if _, err := cl.Write(handshakeBytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := readN(c, buf, handshakeSize); err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0x17}, 5000)
	for i := 0; i < 40 && !c.lowatOff; i++ {
		writes := chunked(i == 0, 9, frame, defaultChunkSize)
		wire := 0
		go func() {
			for j, p := range writes {
				if _, err := cl.Write(p); err != nil {
					return
				}
				if j == 0 { // the reader takes the header alone, then waits for the rest
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
		for _, p := range writes {
			wire += len(p)
		}
		if _, err := readN(c, buf, wire); err != nil {
			t.Fatal(err)
		}
	}
	if !c.lowatOff {
		t.Fatalf("low-water marks still on after %d waits, %d slow", c.lowatWaits, c.lowatSlow)
	}
	t.Logf("off after %d waits, %d slow", c.lowatWaits, c.lowatSlow)
}
