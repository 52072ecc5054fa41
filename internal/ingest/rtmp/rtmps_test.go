package rtmp

import (
	"context"
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

	"github.com/mpegflow/mpegflow/internal/stream"
)

// selfSigned returns a TLS config with a fresh self-signed certificate for
// 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mpegflow test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

func TestRTMPSFFmpegPublish(t *testing.T) {
	needFFmpeg(t)
	env := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ffErr := make(chan error, 1)
	go func() {
		_, err := runFFmpeg(ctx, t, "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
			"-f", "lavfi", "-i", "sine", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
			"-c:a", "aac", "-tls_verify", "0", "-f", "flv", env.url+testKey)
		ffErr <- err
	}()
	r := env.nextReader(t, 15*time.Second)
	tracks := env.hub.Get(testInput).Tracks()
	units := collect(ctx, r)
	if err := <-ffErr; err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 {
		t.Fatalf("tracks = %v", tracks)
	}
	if _, ok := tracks[0].Codec.(stream.H264); !ok {
		t.Fatalf("track 0 = %#v", tracks[0].Codec)
	}
	if len(units) < 100 {
		t.Fatalf("units = %d", len(units))
	}
}

func TestRTMPSGoClient(t *testing.T) {
	env := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubErr := make(chan error, 1)
	go func() { pubErr <- publishSynthetic(ctx, env.url+testKey, time.Second) }()
	r := env.nextReader(t, 10*time.Second)
	units := collect(ctx, r)
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if len(units) < 40 {
		t.Fatalf("units = %d", len(units))
	}
}
