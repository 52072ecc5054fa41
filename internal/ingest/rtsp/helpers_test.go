package rtsp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// testKey is the stream key of live input "cam" in the tests.
const testKey = "sk-rtsp-test-0123456789"

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countMetrics records rejections by reason.
type countMetrics struct {
	ingest.NopMetrics
	mu       sync.Mutex
	rejected map[string]int
	units    int
}

func (m *countMetrics) Rejected(_, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejected[reason]++
}

func (m *countMetrics) Input(string, string) ingest.InputMetrics { return m }

func (m *countMetrics) Received(stream.Kind, int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.units++
}

func (m *countMetrics) count(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejected[reason]
}

type testServer struct {
	srv     *Server
	hub     *stream.Hub
	addr    string
	logs    *syncBuf
	metrics *countMetrics
	stop    func()
}

// startServer runs a Server on a free loopback port with one live input
// ("cam", testKey) and a throttle holding refusals 50 ms, doubling.
func startServer(t *testing.T, mod func(*Config)) *testServer {
	t.Helper()
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: "cam", Name: "Cam", StreamKey: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{hub: stream.NewHub(stream.HubConfig{ReconnectWindow: 200 * time.Millisecond}), logs: &syncBuf{},
		metrics: &countMetrics{rejected: map[string]int{}}}
	cfg := Config{
		Address:   "127.0.0.1:0",
		Directory: dir,
		Hub:       ts.hub,
		Throttle:  ingest.NewThrottle(ingest.ThrottleConfig{BaseDelay: 50 * time.Millisecond, MaxDelay: 400 * time.Millisecond}),
		Metrics:   ts.metrics,
		Logger:    slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	ts.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ts.srv.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.srv.Run(ctx) }()
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			ts.hub.Close()
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// rawConn speaks RTSP requests by hand, for what a well-behaved client
// library never sends.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	cseq int
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends a request and reads the response (nil when the server closed
// the connection instead).
func (r *rawConn) do(method, url string, header base.Header, body []byte) *base.Response {
	r.t.Helper()
	r.cseq++
	if header == nil {
		header = base.Header{}
	}
	header["CSeq"] = base.HeaderValue{fmt.Sprint(r.cseq)}
	u, err := base.ParseURL(url)
	if err != nil {
		r.t.Fatal(err)
	}
	req := base.Request{Method: base.Method(method), URL: u, Header: header, Body: body}
	b, err := req.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	_ = r.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		return nil
	}
	var res base.Response
	if err := res.Unmarshal(r.br); err != nil {
		return nil
	}
	return &res
}

// goroutinesSettle waits until the goroutine count is back to at most
// base (plus slack for the runtime), or fails with a dump.
func goroutinesSettle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+1 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func assertNoKey(t *testing.T, logs string) {
	t.Helper()
	if strings.Contains(logs, testKey) {
		t.Errorf("the stream key appears in the logs:\n%s", logs)
	}
}

// h264SDP is a session description with one H.264 video and one AAC
// track, as ffmpeg announces it.
const h264SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QAHqzZQKAv+XARAAADAAEAAAMAPA8WLZY=,aOvjyyLA; profile-level-id=64001E\r\n" +
	"a=control:streamid=0\r\n" +
	"m=audio 0 RTP/AVP 97\r\nb=AS:96\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n" +
	"a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=119056E500\r\n" +
	"a=control:streamid=1\r\n"

const mjpegSDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=video 0 RTP/AVP 26\r\na=control:streamid=0\r\n"

// listenGarbage serves a TCP port that answers every connection with
// random bytes and closes it.
func listenGarbage(t *testing.T) string {
	t.Helper()
	addr, stop := serveGarbage(t)
	t.Cleanup(stop)
	return addr
}

// serveGarbage is listenGarbage with the stop left to the caller.
func serveGarbage(t *testing.T) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop = func() {
		ln.Close()
		wg.Wait()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n\x00\xff garbage garbage\r\n\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String(), stop
}
