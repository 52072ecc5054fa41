package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rtmpHandshake performs the plain RTMP handshake (C0 C1 / S0 S1 S2 / C2) on c.
func rtmpHandshake(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	c1 := make([]byte, 1+1536)
	c1[0] = 3
	rand.Read(c1[9:])
	if _, err := c.Write(c1); err != nil {
		return err
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		return err
	}
	_, err := c.Write(s[1 : 1+1536]) // C2 echoes S1
	return err
}

// chunkHeader returns a type-0 chunk header on chunk stream csid.
func chunkHeader(csid byte, msgLen int, msgType byte, streamID uint32) []byte {
	h := []byte{csid & 0x3f, 0, 0, 0, byte(msgLen >> 16), byte(msgLen >> 8), byte(msgLen), msgType, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[8:], streamID)
	return h
}

// badClient is one misbehaving connection; closed is closed when the daemon
// closes it (reading returns EOF or an error).
type badClient struct {
	name   string
	local  string
	mustGo bool // the daemon must close it promptly
	start  time.Time
	closed chan struct{}
	at     time.Time
}

// badClients opens connections that misbehave in different ways and keeps
// them open until ctx ends. It returns once all of them are in place.
func badClients(ctx context.Context, t *testing.T, addr string, wg *sync.WaitGroup) []*badClient {
	type bad struct {
		name   string
		run    func(c net.Conn) error
		mustGo bool
	}
	random := func(n int) func(c net.Conn) error {
		return func(c net.Conn) error {
			b := make([]byte, n)
			rand.Read(b)
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			_, err := c.Write(b)
			return err
		}
	}
	afterHandshake := func(b []byte) func(c net.Conn) error {
		return func(c net.Conn) error {
			if err := rtmpHandshake(c); err != nil {
				return err
			}
			_, err := c.Write(b)
			return err
		}
	}
	// A connect command whose chunk stops half-way through its header.
	half := chunkHeader(3, 200, 20, 0)[:6]
	// Set Chunk Size to 0 and to 2^31 (the RTMP spec reserves the top bit).
	chunkSize := func(n uint32) []byte {
		b := append(chunkHeader(2, 4, 1, 0), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[12:], n)
		return b
	}
	// A message header announcing 16 MiB, then 100 bytes of it.
	huge := append(chunkHeader(3, 0xFFFFFF, 20, 0), make([]byte, 100)...)
	clients := []bad{
		{"random bytes", random(64 << 10), true},
		{"random bytes, small", random(7), false},
		{"handshake only, then silence", afterHandshake(nil), false},
		{"handshake then half a chunk header", afterHandshake(half), false},
		{"handshake then half a chunk body", afterHandshake(append(chunkHeader(3, 200, 20, 0), make([]byte, 60)...)), false},
		{"chunk size 0", afterHandshake(chunkSize(0)), true},
		{"chunk size 2^31", afterHandshake(chunkSize(1 << 31)), true},
		{"16 MiB message header", afterHandshake(huge), false},
		{"C0 only", func(c net.Conn) error { _, err := c.Write([]byte{3}); return err }, false},
		{"connect and say nothing", func(net.Conn) error { return nil }, false},
	}
	var out []*badClient
	for _, b := range clients {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			t.Errorf("%s: dial: %v", b.name, err)
			continue
		}
		bc := &badClient{name: b.name, local: c.LocalAddr().String(), mustGo: b.mustGo, start: time.Now(), closed: make(chan struct{})}
		out = append(out, bc)
		if err := b.run(c); err != nil {
			// The daemon may close a bad connection early; that is fine.
			t.Logf("bad client %q: %v", b.name, err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			// Read whatever comes until the daemon closes the connection.
			io.Copy(io.Discard, c)
			bc.at = time.Now()
			close(bc.closed)
		}()
		go func() {
			defer wg.Done()
			// Stall: hold the connection open until the test ends.
			<-ctx.Done()
			c.Close()
		}()
	}
	return out
}

func TestGarbageClientsDoNotDisturb(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	in := newInput("steady")
	d := startDaemon(t, daemonConfig{Inputs: []liveInput{in}})
	pub := publish(ctx, t, d.RTMPURL(in.Key), publishOpts{Seconds: 14})
	mediaURL, _ := waitLive(ctx, t, d, in.ID, 15*time.Second)
	rec := newRecorder(ctx, t, mediaURL)
	start := rec.poll(true)

	badCtx, stopBad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopBad(); wg.Wait() }()
	bads := badClients(badCtx, t, d.RTMP, &wg)
	// A second wave while the first still stalls.
	bads = append(bads, badClients(badCtx, t, d.RTMP, &wg)...)

	// The healthy stream keeps advancing part by part: no reload may wait
	// long for progress.
	var worst time.Duration
	prev := start
	lastProgress := time.Now()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) && !pub.Exited() {
		p := rec.poll(true)
		if p.progress() > prev.progress() {
			worst = max(worst, time.Since(lastProgress))
			lastProgress = time.Now()
			prev = p
		} else if time.Since(lastProgress) > 2*time.Second {
			t.Fatalf("playlist stuck at %d.%d for 2 s while bad clients are connected", p.lastMSN(), len(p.Pending.Parts))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if prev.lastMSN() < start.lastMSN()+3 {
		t.Errorf("playlist advanced only from segment %d to %d in 5 s", start.lastMSN(), prev.lastMSN())
	}
	t.Logf("playlist advanced %d.%d -> %d.%d with bad clients connected; longest wait for a new part %v",
		start.lastMSN(), len(start.Pending.Parts), prev.lastMSN(), len(prev.Pending.Parts), worst.Round(time.Millisecond))
	if pub.Exited() {
		t.Errorf("the healthy publisher stopped early: %v", pub.err)
	}
	// The daemon still serves: health, and a fresh HTTP request.
	for _, path := range []string{"/healthz", "/readyz"} {
		f, err := get(ctx, d.URL(path))
		if err != nil || f.Status != http.StatusOK {
			t.Errorf("GET %s: %v %d", path, err, f.Status)
		}
	}
	if !d.Alive() {
		t.Fatal("daemon died")
	}
	// Each bad client gets a closed connection (the plainly invalid ones
	// promptly) and a log line naming the peer.
	log := d.Output()
	for _, b := range bads {
		state := "still open"
		select {
		case <-b.closed:
			state = fmt.Sprintf("closed by the daemon after %v", b.at.Sub(b.start).Round(time.Millisecond))
		default:
			if b.mustGo {
				t.Errorf("bad client %q (%s): connection still open %v later", b.name, b.local, time.Since(b.start).Round(time.Millisecond))
			}
		}
		logged := strings.Contains(log, b.local)
		if b.mustGo && !logged {
			t.Errorf("bad client %q (%s): no log line names the peer", b.name, b.local)
		}
		t.Logf("bad client %-36q %s, logged: %v", b.name, state, logged)
	}
	d.assertNoKeys(t, in.Key)
}
