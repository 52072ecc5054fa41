// Package rtsptest is an RTSP "camera" for tests: an in-process RTSP server
// that takes one publisher (ffmpeg, ANNOUNCE/RECORD) and serves what it
// publishes to readers (DESCRIBE/SETUP/PLAY), optionally behind
// credentials, the way an IP camera or a restreaming NVR does.
package rtsptest

import (
	"fmt"
	"net"
	"sync"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
)

// Camera is a running test camera. Readers must present User and Pass when
// both are set.
type Camera struct {
	User, Pass string
	// HugeSDP, when set, makes DESCRIBE answer with a session description
	// padded to that many bytes.
	HugeSDP int
	// DropEvery, when > 0, leaves out every DropEvery-th RTP packet of
	// what is served to readers (packet loss, as sequence number gaps).
	// Set it before the publisher starts.
	DropEvery int
	forwarded int // packets seen by OnRecord's callback

	srv  *gortsplib.Server
	addr string

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	readers   int
	dropped   int // packets a reader's full write queue did not take
}

// Start starts a camera on addr ("127.0.0.1:0" for any port; a fixed one to
// restart a camera where it was). TCP transport only.
func Start(addr, user, pass string) (*Camera, error) {
	return start(addr, user, pass, "", "")
}

// StartUDP starts a camera on addr that also serves over UDP (RTP and
// RTCP on two free consecutive loopback ports).
func StartUDP(addr string) (*Camera, error) {
	var err error
	for range 20 {
		var rtpAddr, rtcpAddr string
		if rtpAddr, rtcpAddr, err = udpPair(); err != nil {
			continue
		}
		var c *Camera
		if c, err = start(addr, "", "", rtpAddr, rtcpAddr); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// udpPair finds an even loopback UDP port whose next port is free too.
func udpPair() (string, string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	port &^= 1
	return fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1), nil
}

func start(addr, user, pass, rtpAddr, rtcpAddr string) (*Camera, error) {
	c := &Camera{User: user, Pass: pass}
	c.srv = &gortsplib.Server{
		// room for bursts when many readers share a busy host
		WriteQueueSize: 4096,
		UDPRTPAddress:  rtpAddr,
		UDPRTCPAddress: rtcpAddr,
		Handler:        c,
		RTSPAddress:    addr,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				c.addr = ln.Addr().String()
			}
			return ln, err
		},
	}
	if err := c.srv.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// Addr is the camera's host:port.
func (c *Camera) Addr() string { return c.addr }

// PublishURL is where a test publisher ANNOUNCEs (no credentials needed).
func (c *Camera) PublishURL() string { return "rtsp://" + c.addr + "/cam" }

// URL is the camera URL for readers, with user:pass when given.
func (c *Camera) URL(user, pass string) string {
	if user == "" {
		return "rtsp://" + c.addr + "/cam"
	}
	return fmt.Sprintf("rtsp://%s:%s@%s/cam", user, pass, c.addr)
}

// Publishing reports whether a publisher records to the camera now.
func (c *Camera) Publishing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream != nil
}

// Readers is the number of sessions playing now.
func (c *Camera) Readers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readers
}

// Close stops the camera and disconnects everyone.
func (c *Camera) Close() { c.srv.Close() }

func (c *Camera) auth(conn *gortsplib.ServerConn, req *base.Request) bool {
	return c.User == "" || conn.VerifyCredentials(req, c.User, c.Pass)
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (c *Camera) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil && ctx.Session == c.publisher {
		c.stream.Close()
		c.stream, c.publisher = nil, nil
	}
	if ctx.Session.State() == gortsplib.ServerSessionStatePlay {
		c.readers--
	}
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (c *Camera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !c.auth(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	if c.HugeSDP > 0 {
		return &base.Response{StatusCode: base.StatusOK, Header: base.Header{"Content-Type": base.HeaderValue{"application/sdp"}},
			Body: hugeSDP(c.HugeSDP)}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

func hugeSDP(n int) []byte {
	b := []byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
	for len(b) < n {
		b = append(b, "a=x-pad:0123456789012345678901234567890123456789\r\n"...)
	}
	return b
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce.
func (c *Camera) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil {
		c.stream.Close()
		c.publisher.Close()
	}
	c.stream = &gortsplib.ServerStream{Server: c.srv, Desc: ctx.Description}
	if err := c.stream.Initialize(); err != nil {
		c.stream = nil
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	c.publisher = ctx.Session
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (c *Camera) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	if !c.auth(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (c *Camera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	c.mu.Lock()
	c.readers++
	c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord: what the publisher
// sends goes to every reader.
func (c *Camera) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		c.mu.Lock()
		st := c.stream
		c.forwarded++
		drop := c.DropEvery > 0 && c.forwarded%c.DropEvery == 0
		c.mu.Unlock()
		if st != nil && !drop {
			_ = st.WritePacketRTP(medi, pkt)
		}
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnPacketsLost implements gortsplib.ServerHandlerOnPacketsLost (quiet).
func (c *Camera) OnPacketsLost(*gortsplib.ServerHandlerOnPacketsLostCtx) {}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError:
// a packet a reader could not take (its write queue is full) is counted.
func (c *Camera) OnStreamWriteError(*gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	c.mu.Lock()
	c.dropped++
	c.mu.Unlock()
}

// Dropped is the number of packets readers' full write queues did not
// take (a reader too slow, or a starved host).
func (c *Camera) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// OnDecodeError implements gortsplib.ServerHandlerOnDecodeError (quiet).
func (c *Camera) OnDecodeError(*gortsplib.ServerHandlerOnDecodeErrorCtx) {}
