package rtmp

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawHandshake performs the client side of the RTMP handshake on a raw TCP
// connection.
func rawHandshake(t *testing.T, c net.Conn) {
	t.Helper()
	c0c1 := make([]byte, 1+1536)
	c0c1[0] = 3
	if _, err := c.Write(c0c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(s[1+1536:]); err != nil { // C2 echoes S1... close enough
		t.Fatal(err)
	}
}

func setChunkSize(v uint32) []byte {
	return []byte{0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func TestBadClientsDoNotDisturbAHealthyPublish(t *testing.T) {
	env := startServer(t, func(c *Config) { c.HandshakeTimeout = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	pubErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		pubErr <- publishSynthetic(ctx, env.url+testKey, 3*time.Second)
	}()
	r := env.nextReader(t, 10*time.Second)

	addr := env.srv.Addr().String()
	bad := []struct {
		name string
		send func(t *testing.T, c net.Conn)
	}{
		{"garbage handshake", func(t *testing.T, c net.Conn) {
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		}},
		{"stops mid-handshake", func(t *testing.T, c net.Conn) {
			_, _ = c.Write([]byte{3, 1, 2, 3})
		}},
		{"stops mid-chunk", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			_, _ = c.Write([]byte{0x03, 0, 0, 0, 0, 0, 100, 20, 0, 0, 0, 0, 1, 2})
		}},
		{"chunk size 0", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			_, _ = c.Write(setChunkSize(0))
		}},
		{"chunk size 2^31", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			_, _ = c.Write(setChunkSize(1 << 31))
		}},
		{"100 MB message", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			_, _ = c.Write([]byte{0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0})
			junk := make([]byte, 64<<10)
			for sent := 0; sent < 100<<20; sent += len(junk) {
				if _, err := c.Write(junk); err != nil {
					return
				}
			}
		}},
		{"chunk without header", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			_, _ = c.Write([]byte{0xc5, 1, 2, 3, 4})
		}},
		{"absurd chunk stream count", func(t *testing.T, c net.Conn) {
			rawHandshake(t, c)
			for i := 0; i < 64; i++ {
				if _, err := c.Write([]byte{0x01, byte(i), 1, 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 1}); err != nil {
					return
				}
			}
		}},
	}
	var bwg sync.WaitGroup
	for _, b := range bad {
		bwg.Add(1)
		go func() {
			defer bwg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			b.send(t, c)
			// the server closes the connection
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			_, err = io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s: server did not close the connection", b.name)
			}
			t.Logf("%s: closed after %v", b.name, time.Since(start).Round(time.Millisecond))
		}()
	}
	bwg.Wait()

	// the healthy publish delivered every frame, without discontinuity
	units := collect(ctx, r)
	if err := <-pubErr; err != nil {
		t.Fatalf("healthy publisher: %v", err)
	}
	var video int
	for _, u := range units {
		if u.Discontinuity {
			t.Errorf("healthy stream got a discontinuity")
		}
		if u.Track == 0 {
			video++
		}
	}
	if video < 80 {
		t.Errorf("healthy stream delivered %d video units, want ~90", video)
	}
	logs := env.logs.String()
	if n := strings.Count(logs, "rtmp connection closed"); n < len(bad) {
		t.Errorf("%d 'rtmp connection closed' lines, want >= %d:\n%s", n, len(bad), logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "rtmp connection closed") && !strings.Contains(line, "remote=127.0.0.1:") {
			t.Errorf("log line without the peer: %s", line)
		}
	}
	if env.metrics.rejections("protocol_error")+env.metrics.rejections("timeout") < len(bad) {
		t.Errorf("rejections: %v", env.metrics.rejected)
	}
	t.Logf("logs:\n%s", logs)
}
