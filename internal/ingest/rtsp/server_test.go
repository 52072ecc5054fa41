package rtsp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/mpegflow/mpegflow/internal/stream"
)

func sdpHeader() base.Header {
	return base.Header{"Content-Type": base.HeaderValue{"application/sdp"}}
}

// TestUnknownKeyRefusedAndThrottled: a wrong key gets 401 after the shared
// throttle held the refusal (longer with every retry), is counted, and the
// log names the peer, never a key.
func TestUnknownKeyRefusedAndThrottled(t *testing.T) {
	base0 := runtime.NumGoroutine()
	ts := startServer(t, nil)
	for i, want := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		c := dialRaw(t, ts.addr)
		start := time.Now()
		res := c.do("ANNOUNCE", "rtsp://"+ts.addr+"/live/wrong-key-"+testKey[:6], sdpHeader(), []byte(h264SDP))
		took := time.Since(start)
		if res == nil || res.StatusCode != base.StatusUnauthorized {
			t.Fatalf("attempt %d: response %v, want 401", i, res)
		}
		if took < want {
			t.Errorf("attempt %d answered after %v, want the throttle's %v", i, took, want)
		}
		c.c.Close()
	}
	if n := ts.metrics.count(reasonUnknownKey); n != 3 {
		t.Errorf("unknown_key rejections %d, want 3", n)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "rtsp publish rejected") || !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Errorf("no rejection line naming the peer:\n%s", logs)
	}
	if strings.Contains(logs, "wrong-key-") {
		t.Errorf("the presented key appears in the logs:\n%s", logs)
	}
	ts.stop()
	goroutinesSettle(t, base0)
}

func TestBadPathRefused(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	if res := c.do("ANNOUNCE", "rtsp://"+ts.addr+"/other/"+testKey, sdpHeader(), []byte(h264SDP)); res == nil || res.StatusCode != base.StatusNotFound {
		t.Fatalf("response %v, want 404", res)
	}
	assertNoKey(t, ts.logs.String())
}

// TestMJPEGRefused: a camera offering only Motion JPEG is told why.
func TestMJPEGRefused(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	res := c.do("ANNOUNCE", "rtsp://"+ts.addr+"/live/"+testKey, sdpHeader(), []byte(mjpegSDP))
	if res == nil || res.StatusCode != base.StatusUnsupportedMediaType || !strings.Contains(res.StatusMessage, "H.264") {
		t.Fatalf("response %v, want 415 naming H.264", res)
	}
	if ts.metrics.count(reasonUnsupported) != 1 {
		t.Error("unsupported rejection not counted")
	}
	assertNoKey(t, ts.logs.String())
}

// TestHugeSDPRefused: a description over MaxSDPSize gets 413; one over the
// library's 128 KiB body limit closes the connection. The server serves
// the next client.
func TestHugeSDPRefused(t *testing.T) {
	base0 := runtime.NumGoroutine()
	ts := startServer(t, nil)
	big := []byte(h264SDP + strings.Repeat("a=x-filler:"+strings.Repeat("z", 100)+"\r\n", MaxSDPSize/100))
	c := dialRaw(t, ts.addr)
	if res := c.do("ANNOUNCE", "rtsp://"+ts.addr+"/live/"+testKey, sdpHeader(), big); res == nil || res.StatusCode != base.StatusRequestEntityTooLarge {
		t.Fatalf("response %v, want 413", res)
	}
	c2 := dialRaw(t, ts.addr)
	huge := bytes.Repeat([]byte("a=x:y\r\n"), (1<<20)/7)
	if res := c2.do("ANNOUNCE", "rtsp://"+ts.addr+"/live/"+testKey, sdpHeader(), huge); res != nil && res.StatusCode == base.StatusOK {
		t.Fatalf("a 1 MiB description was accepted")
	}
	c3 := dialRaw(t, ts.addr)
	if res := c3.do("OPTIONS", "rtsp://"+ts.addr+"/", nil, nil); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("server does not answer after a huge SDP: %v", res)
	}
	ts.stop()
	goroutinesSettle(t, base0)
}

// TestGarbageClosesConnection: random bytes close that connection only, at
// once or (bytes that could start a request line) after ReadTimeout.
func TestGarbageClosesConnection(t *testing.T) {
	base0, fds0 := runtime.NumGoroutine(), openFDs(t)
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 500 * time.Millisecond })
	for i := 0; i < 5; i++ {
		c := dialRaw(t, ts.addr)
		junk := make([]byte, 4096)
		rand.Read(junk)
		if i == 0 {
			junk = []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		_ = c.c.SetDeadline(time.Now().Add(3 * time.Second))
		c.c.Write(junk)
		buf := make([]byte, 512)
		start := time.Now()
		for {
			if _, err := c.c.Read(buf); err != nil {
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("garbage %d: connection ended after %v (%v), want the server to close it within ReadTimeout", i, took, err)
				}
				break
			}
		}
		c.c.Close()
	}
	c := dialRaw(t, ts.addr)
	if res := c.do("OPTIONS", "rtsp://"+ts.addr+"/", nil, nil); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("server does not answer after garbage: %v", res)
	}
	c.c.Close()
	ts.stop()
	goroutinesSettle(t, base0)
	fdsSettle(t, fds0)
}

// TestWrongInterleavedChannel: a publisher that sends interleaved frames
// on channels it never set up, and then garbage RTP on its own, leaves the
// server serving and the session cleaned up.
func TestWrongInterleavedChannel(t *testing.T) {
	base0, fds0 := runtime.NumGoroutine(), openFDs(t)
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	u := "rtsp://" + ts.addr + "/live/" + testKey
	if res := c.do("ANNOUNCE", u, sdpHeader(), []byte(h264SDP)); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("ANNOUNCE: %v", res)
	}
	res := c.do("SETUP", u+"/streamid=0", base.Header{"Transport": base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"}}, nil)
	if res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("SETUP: %v", res)
	}
	sess := strings.Split(res.Header["Session"][0], ";")[0]
	res = c.do("SETUP", u+"/streamid=1", base.Header{"Session": base.HeaderValue{sess},
		"Transport": base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=2-3;mode=record"}}, nil)
	if res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("SETUP audio: %v", res)
	}
	res = c.do("RECORD", u, base.Header{"Session": base.HeaderValue{sess}}, nil)
	if res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("RECORD: %v", res)
	}
	frame := func(ch byte, payload []byte) []byte {
		b := []byte{'$', ch, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(len(payload)))
		return append(b, payload...)
	}
	rtpPkt := make([]byte, 40)
	rtpPkt[0], rtpPkt[1] = 0x80, 96
	var w bytes.Buffer
	for i := 0; i < 50; i++ {
		w.Write(frame(byte(5+i%40), rtpPkt)) // channels never set up
		junk := make([]byte, 30)
		rand.Read(junk)
		w.Write(frame(0, junk)) // garbage on the set-up channel
	}
	_ = c.c.SetDeadline(time.Now().Add(3 * time.Second))
	c.c.Write(w.Bytes())
	time.Sleep(200 * time.Millisecond)
	c2 := dialRaw(t, ts.addr)
	if res := c2.do("OPTIONS", "rtsp://"+ts.addr+"/", nil, nil); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("server does not answer: %v", res)
	}
	c.c.Close()
	c2.c.Close()
	if live, _ := ts.hub.State("cam"); live {
		t.Error("garbage started a stream")
	}
	assertNoKey(t, ts.logs.String())
	ts.stop()
	goroutinesSettle(t, base0)
	fdsSettle(t, fds0)
}

// TestStartTimeout: an announced publisher that never sends media is
// closed after StartTimeout, leaving no goroutine or socket behind.
func TestStartTimeout(t *testing.T) {
	base0, fds0 := runtime.NumGoroutine(), openFDs(t)
	ts := startServer(t, func(c *Config) { c.StartTimeout = 300 * time.Millisecond })
	c := dialRaw(t, ts.addr)
	u := "rtsp://" + ts.addr + "/live/" + testKey
	if res := c.do("ANNOUNCE", u, sdpHeader(), []byte(h264SDP)); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("ANNOUNCE: %v", res)
	}
	deadline := time.Now().Add(3 * time.Second)
	for ts.metrics.count(reasonTimeout) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no start timeout; logs:\n%s", ts.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.c.Close()
	ts.stop()
	goroutinesSettle(t, base0)
	fdsSettle(t, fds0)
}

// TestG711TranscodedToAAC: ffmpeg publishes H.264 with PCMA audio; the
// stream's audio track is AAC from the daemon's ffmpeg, with units.
func TestG711TranscodedToAAC(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	ts := startServer(t, func(c *Config) { c.Audio = &AudioTranscode{} })
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
		"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1",
		"-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+ts.addr+"/live/"+testKey)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitUntil(t, 10*time.Second, "the stream", func() bool { return ts.hub.Get("cam") != nil })
	s := ts.hub.Get("cam")
	tr := s.Tracks()
	if len(tr) != 2 || tr[1].Codec.Name() != "aac" {
		t.Fatalf("tracks %v, want h264 and aac", tr)
	}
	r := s.AddReader("test", stream.ReaderOptions{})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	audio := 0
	var last time.Duration
	for audio < 50 {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after %d audio units: %v\n%s", audio, err, ts.logs.String())
		}
		if u.Track == 1 {
			if audio > 0 && u.PTS <= last {
				t.Fatalf("audio PTS %v after %v", u.PTS, last)
			}
			last = u.PTS
			audio++
		}
	}
	if !strings.Contains(ts.logs.String(), "g711 audio transcoded to aac") {
		t.Errorf("no transcode log line:\n%s", ts.logs.String())
	}
}
