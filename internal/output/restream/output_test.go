package restream

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/ingest/rtmp"
	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// checkUnits checks that the target got the source's codecs and both
// tracks, video starting at a key frame.
func checkUnits(t *testing.T, tg *target, units []*stream.Unit) {
	t.Helper()
	tracks := tg.hub.Get(targetID).Tracks()
	if len(tracks) != 2 || !tracks[0].Codec.Equal(stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}) {
		t.Fatalf("target tracks %+v", tracks)
	}
	if _, ok := tracks[1].Codec.(stream.AAC); !ok {
		t.Fatalf("target audio %+v", tracks[1].Codec)
	}
	checkMedia(t, units)
}

// checkMedia checks that units have video, starting at a key frame, and
// audio.
func checkMedia(t *testing.T, units []*stream.Unit) {
	t.Helper()
	var video, audio int
	for _, u := range units {
		if u.Track == 0 {
			if video == 0 && !u.Key {
				t.Fatal("first video unit at the target is not a key frame")
			}
			video++
		} else {
			audio++
		}
	}
	if video == 0 || audio == 0 {
		t.Fatalf("video %d audio %d units", video, audio)
	}
}

func TestRTMPPush(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 2000)
	obs := &recObserver{}
	o := New(Config{ID: "out_1", LiveInputID: "li_source", Observer: obs, Logger: testLog(),
		Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
	checkUnits(t, tg, tg.waitUnits(t, 90, 10*time.Second))
	st := o.Status()
	if st.ConnectedAt == nil || st.BytesSent == 0 || st.Attempts != 0 || st.LastError != nil {
		t.Fatalf("status %+v", st)
	}
	time.Sleep(1200 * time.Millisecond)
	if st := o.Status(); st.BitrateBPS <= 0 {
		t.Fatalf("bitrate %d", st.BitrateBPS)
	}
	if obs.count(EventConnected) != 1 {
		t.Fatalf("connected events %d", obs.count(EventConnected))
	}
}

func TestSRTPushWithPassphrase(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 2000)
	q := url.Values{"passphrase": {targetPassphrase}, "streamid": {"publish:" + targetKey}}
	o := New(Config{ID: "out_srt", LiveInputID: "li_source", Logger: testLog(),
		Target: Target{URL: "srt://" + tg.srtAddr + "?" + q.Encode()}})
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
	checkUnits(t, tg, tg.waitUnits(t, 90, 15*time.Second))
}

func TestSRTWrongPassphraseErrors(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 500)
	o := New(Config{ID: "out_srt", LiveInputID: "li_source", Logger: testLog(), MinBackoff: 20 * time.Millisecond,
		Target: Target{URL: "srt://" + tg.srtAddr + "?passphrase=wrong-passphrase", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	st := waitState(t, o, StateErrored, 20*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeRefused {
		t.Fatalf("last error %+v", st.LastError)
	}
}

func TestWrongKeyErrorsWithReason(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 500)
	obs := &recObserver{}
	o := New(Config{ID: "out_bad", LiveInputID: "li_source", Observer: obs, Logger: testLog(), MinBackoff: 20 * time.Millisecond,
		Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: "not-the-key"}})
	runOutput(t, o, src.stream())
	st := waitState(t, o, StateErrored, 15*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeRefused || st.LastError.Message == "" {
		t.Fatalf("last error %+v", st.LastError)
	}
	if bytes.Contains([]byte(st.LastError.Message), []byte("not-the-key")) {
		t.Fatal("the error names the stream key")
	}
	if st.Attempts != DefaultMaxRefusals || obs.count(EventErrored) != 1 {
		t.Fatalf("attempts %d, errored events %d", st.Attempts, obs.count(EventErrored))
	}
}

func TestReconnectsWhenTargetReturns(t *testing.T) {
	tg := newTarget(t, "")
	addr := tg.rtmpAddr
	src := newSource(t, 1000)
	obs := &recObserver{}
	o := New(Config{ID: "out_1", LiveInputID: "li_source", Observer: obs, Logger: testLog(), MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second,
		Target: Target{URL: "rtmp://" + addr + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
	tg.close()
	st := waitState(t, o, StateRetrying, 10*time.Second)
	if st.LastError == nil || st.NextRetryAt == nil {
		t.Fatalf("retrying without last_error/next_retry_at: %+v", st)
	}
	time.Sleep(1500 * time.Millisecond) // a few failed attempts against nothing
	tg2 := newTarget(t, addr)
	back := time.Now()
	waitState(t, o, StateBroadcasting, 10*time.Second)
	t.Logf("broadcasting again %v after the target came back", time.Since(back).Round(time.Millisecond))
	tg2.waitUnits(t, 30, 10*time.Second)
	if obs.count(EventDisconnected) < 1 || obs.count(EventConnected) < 2 {
		t.Fatalf("events: disconnected %d connected %d", obs.count(EventDisconnected), obs.count(EventConnected))
	}
}

func TestStopsWhenStreamEnds(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 500)
	o := New(Config{ID: "out_1", LiveInputID: "li_source", Logger: testLog(),
		Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey}})
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(context.Background(), src.stream()) }()
	waitState(t, o, StateBroadcasting, 10*time.Second)
	src.stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the stream ended")
	}
	if st := o.Status(); st.State != StateIdle {
		t.Fatalf("state %s after the stream ended", st.State)
	}
}

func TestRTMPSVerifiesCertificate(t *testing.T) {
	cert, pool := selfSigned(t)
	dir, _ := auth.NewStatic([]auth.StaticEntry{{ID: targetID, StreamKey: targetKey}})
	hub := stream.NewHub(stream.HubConfig{})
	srv, err := rtmp.New(rtmp.Config{Address: "127.0.0.1:0", Directory: dir, Hub: hub, Logger: testLog(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); _ = srv.Close(); wg.Wait(); hub.Close() })
	src := newSource(t, 500)
	u := "rtmps://" + srv.Addr().String() + "/live"
	for _, tc := range []struct {
		name string
		cfg  Config
		want State
	}{
		{"trusted", Config{RootCAs: pool}, StateBroadcasting},
		{"skip_verify", Config{Target: Target{TLSSkipVerify: true}}, StateBroadcasting},
		{"untrusted", Config{MaxBackoff: 50 * time.Millisecond}, StateRetrying},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ID, c.LiveInputID, c.Logger = "out_tls", "li_source", testLog()
			c.Target.URL, c.Target.StreamKey = u, targetKey
			o := New(c)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = o.Run(ctx, src.stream()) }()
			st := waitState(t, o, tc.want, 10*time.Second)
			if tc.want == StateRetrying && (st.LastError == nil || st.LastError.Code != CodeConnectFailed) {
				t.Fatalf("last error %+v", st.LastError)
			}
			cancel()
			<-done
		})
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "restream test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://a.example/live":                               "rtmp://a.example/live",
		"rtmps://u:pw@a.example/app":                          "rtmps://u:****@a.example/app",
		"srt://h:9000?streamid=publish:KEY&passphrase=secret": "srt://h:9000?passphrase=****&streamid=****",
	} {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskTarget(t *testing.T) {
	if got := MaskTarget(Target{URL: "rtmp://h/live/KEY123"}); got != "rtmp://h/live/****" {
		t.Errorf("key in the path: %q", got)
	}
	if got := MaskTarget(Target{URL: "rtmp://h/live", StreamKey: "k"}); got != "rtmp://h/live" {
		t.Errorf("key apart: %q", got)
	}
}

// TestGuardRefusesPrivateTargets: with the SSRF guard, a target on
// loopback is refused at once, over RTMP and SRT; allowed, it works.
func TestGuardRefusesPrivateTargets(t *testing.T) {
	tg := newTarget(t, "")
	src := newSource(t, 500)
	for _, u := range []string{"rtmp://" + tg.rtmpAddr + "/live", "srt://" + tg.srtAddr + "?passphrase=" + targetPassphrase} {
		o := New(Config{ID: "out_g", LiveInputID: "li_source", Logger: testLog(), Guard: netguard.New(netguard.Config{}),
			Target: Target{URL: u, StreamKey: targetKey}})
		runOutput(t, o, src.stream())
		if st := waitState(t, o, StateErrored, 10*time.Second); st.LastError.Code != CodeForbiddenTarget {
			t.Fatalf("%s: last error %+v", u, st.LastError)
		}
	}
	o := New(Config{ID: "out_ok", LiveInputID: "li_source", Logger: testLog(), Guard: netguard.New(netguard.Config{AllowPrivate: true}),
		Target: Target{URL: "rtmp://" + tg.rtmpAddr + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, 10*time.Second)
}
