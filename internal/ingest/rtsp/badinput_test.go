package rtsp

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// openFDs is the number of file descriptors (sockets included) the test
// process holds.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// fdsSettle waits until the process holds at most base descriptors, or
// fails listing them.
func fdsSettle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := openFDs(t)
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			var l []string
			for _, e := range ents {
				dst, _ := os.Readlink("/proc/self/fd/" + e.Name())
				l = append(l, e.Name()+" → "+dst)
			}
			t.Fatalf("%d descriptors left, %d before:\n%s", n, base, strings.Join(l, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// silentPublisher announces and records an H.264 stream to the camera and
// never sends a packet: the camera answers PLAY and sends no media.
func silentPublisher(t *testing.T, cam *rtsptest.Camera) *gortsplib.Client {
	t.Helper()
	sd, err := parseSDP([]byte(h264SDP))
	if err != nil {
		t.Fatal(err)
	}
	desc := &description.Session{Medias: sd.Medias[:1]}
	c := &gortsplib.Client{}
	if err := c.StartRecording(cam.PublishURL(), desc); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPullBadCameras: a camera that answers garbage, a 401 loop, a 1 MB
// session description, a camera that answers PLAY and never sends media,
// and one that accepts TCP and says nothing: each gives a retrying status
// with a clear last_error, a log line naming the camera (password
// masked), no stream; and once the puller is removed no goroutine or
// socket is left.
func TestPullBadCameras(t *testing.T) {
	for _, tc := range []struct {
		name, wantErr string
		camera        func(t *testing.T) (url string, stop func())
	}{
		{"garbage", "", func(t *testing.T) (string, func()) {
			addr, stop := serveGarbage(t)
			return "rtsp://" + addr + "/x", stop
		}},
		{"401 loop", "401", func(t *testing.T) (string, func()) {
			cam, err := rtsptest.Start("127.0.0.1:0", "admin", "right-pw")
			if err != nil {
				t.Fatal(err)
			}
			return cam.URL("admin", "wrong-pw-1"), cam.Close
		}},
		{"1 MB SDP", "content-length", func(t *testing.T) (string, func()) {
			cam, err := rtsptest.Start("127.0.0.1:0", "", "")
			if err != nil {
				t.Fatal(err)
			}
			cam.HugeSDP = 1 << 20
			pub := silentPublisher(t, cam)
			return cam.URL("", ""), func() { pub.Close(); cam.Close() }
		}},
		{"never sends media", "timeout", func(t *testing.T) (string, func()) {
			cam, err := rtsptest.Start("127.0.0.1:0", "", "")
			if err != nil {
				t.Fatal(err)
			}
			pub := silentPublisher(t, cam)
			return cam.URL("", ""), func() { pub.Close(); cam.Close() }
		}},
		{"silent server", "timed out", func(t *testing.T) (string, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var conns []net.Conn
			go func() {
				defer close(done)
				for {
					c, err := ln.Accept()
					if err != nil {
						for _, c := range conns {
							c.Close()
						}
						return
					}
					conns = append(conns, c) // read nothing, answer nothing
				}
			}()
			return "rtsp://u:silent-pw@" + ln.Addr().String() + "/x", func() { ln.Close(); <-done }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base0, fds0 := runtime.NumGoroutine(), openFDs(t)
			url, stop := tc.camera(t)
			hub := stream.NewHub(stream.HubConfig{})
			logs := &syncBuf{}
			ps := newPullers(t, hub, logs)
			if err := ps.Set(auth.LiveInput{ID: "cam"}, Source{URL: url, Transport: TransportTCP}); err != nil {
				t.Fatal(err)
			}
			var st PullStatus
			waitUntil(t, 15*time.Second, "a retrying status", func() bool {
				st, _ = ps.Status("cam")
				return st.State == StateRetrying && st.LastError != "" &&
					strings.Contains(strings.ToLower(st.LastError), tc.wantErr)
			})
			t.Logf("status: %+v", st)
			if hub.Get("cam") != nil {
				t.Error("a bad camera started a stream")
			}
			if l := logs.String(); !strings.Contains(l, "rtsp pull failed") || !strings.Contains(l, "camera=") {
				t.Errorf("no log line naming the camera:\n%s", l)
			}
			if tc.wantErr == "401" && !strings.Contains(logs.String(), "admin:***@") {
				t.Errorf("the log does not name the camera with a masked password:\n%s", logs.String())
			}
			for _, pw := range []string{"wrong-pw-1", "silent-pw"} {
				if strings.Contains(logs.String(), pw) || strings.Contains(st.LastError, pw) {
					t.Errorf("the password %q leaks", pw)
				}
			}
			ps.Close()
			hub.Close()
			stop()
			goroutinesSettle(t, base0)
			fdsSettle(t, fds0)
		})
	}
}

// udpPorts returns two consecutive free loopback UDP addresses, the first
// on an even port (RFC 3550 §11).
func udpPorts(t *testing.T) (string, string) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port &^ 1
		pc.Close()
		a, b := fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("127.0.0.1:%d", p+1)
		ok := true
		for _, x := range []string{a, b} {
			c, err := net.ListenPacket("udp", x)
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return a, b
		}
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}

// TestRTPFromUnexpectedAddress: while ffmpeg publishes over UDP, RTP
// packets from another address to the server's RTP and RTCP ports are
// ignored: the stream goes on without a source change, a loss or a
// discontinuity, and the server leaves no goroutine or socket behind.
func TestRTPFromUnexpectedAddress(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	base0, fds0 := runtime.NumGoroutine(), openFDs(t)
	rtpAddr, rtcpAddr := udpPorts(t)
	sink := &lossSink{}
	ts := startServer(t, func(c *Config) {
		c.UDPRTPAddress, c.UDPRTCPAddress = rtpAddr, rtcpAddr
		c.Stats, c.StatsInterval = sink, 100*time.Millisecond
	})
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "20",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-f", "rtsp", "-rtsp_transport", "udp", "rtsp://"+ts.addr+"/live/"+testKey)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	waitUntil(t, 15*time.Second, "the published stream", func() bool { return ts.hub.Get("cam") != nil })
	s := ts.hub.Get("cam")
	r := s.AddReader("test", stream.ReaderOptions{})
	defer r.Close()

	// a stranger sends RTP with the payload type of the stream and
	// garbage to both server ports
	stranger, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	dstRTP, _ := net.ResolveUDPAddr("udp", rtpAddr)
	dstRTCP, _ := net.ResolveUDPAddr("udp", rtcpAddr)
	pkt := make([]byte, 200)
	for i := range 500 {
		pkt[0], pkt[1] = 0x80, 96|0x80
		binary.BigEndian.PutUint16(pkt[2:], uint16(rand.IntN(65536)))
		binary.BigEndian.PutUint32(pkt[4:], rand.Uint32())
		binary.BigEndian.PutUint32(pkt[8:], 0xdeadbeef)
		_, _ = stranger.WriteTo(pkt, dstRTP)
		if i%10 == 0 {
			_, _ = stranger.WriteTo(pkt[:40], dstRTCP)
		}
	}
	units, disc := 0, false
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		u, err := r.Next(ctx)
		if err != nil {
			break
		}
		units++
		disc = disc || u.Discontinuity
	}
	if units < 20 {
		t.Errorf("%d units in 3 s while a stranger sent RTP", units)
	}
	if disc || strings.Contains(ts.logs.String(), "source changed") {
		t.Error("the stranger's packets reached the session (a source change or discontinuity)")
	}
	time.Sleep(300 * time.Millisecond)
	sink.mu.Lock()
	lost := sink.last.PacketsLost
	sink.mu.Unlock()
	if lost > 0 {
		t.Errorf("%d packets lost on loopback while a stranger sent RTP", lost)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	r.Close()
	stranger.Close()
	ts.stop()
	goroutinesSettle(t, base0)
	fdsSettle(t, fds0)
}
