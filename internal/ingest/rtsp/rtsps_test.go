package rtsp

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestRTSPS: over TLS the same publish rules hold (a wrong key gets 401, a
// good one with H.264 is accepted), the protocol is rtsps, and UDP is off.
func TestRTSPS(t *testing.T) {
	cert := selfSigned(t)
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		c.UDPRTPAddress, c.UDPRTCPAddress = "127.0.0.1:0", "127.0.0.1:1" // ignored with TLS
	})
	dial := func() *rawConn {
		c, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a test's self-signed certificate
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	}
	u := "rtsps://" + ts.addr + "/live/"
	if res := dial().do("ANNOUNCE", u+"nope", sdpHeader(), []byte(h264SDP)); res == nil || res.StatusCode != base.StatusUnauthorized {
		t.Fatalf("wrong key over TLS: %v", res)
	}
	c := dial()
	if res := c.do("ANNOUNCE", u+testKey, sdpHeader(), []byte(h264SDP)); res == nil || res.StatusCode != base.StatusOK {
		t.Fatalf("ANNOUNCE over TLS: %v", res)
	}
	res := c.do("SETUP", u+testKey+"/streamid=0", base.Header{"Transport": base.HeaderValue{"RTP/AVP;unicast;client_port=5000-5001;mode=record"}}, nil)
	if res == nil || res.StatusCode == base.StatusOK {
		t.Fatalf("SETUP over UDP on RTSPS: %v, want a refusal", res)
	}
	if ts.srv.protocol != ProtocolRTSPS {
		t.Errorf("protocol %q", ts.srv.protocol)
	}
	assertNoKey(t, ts.logs.String())
}
