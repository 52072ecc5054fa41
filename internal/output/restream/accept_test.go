package restream

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/amf0"
)

// slowTarget is an RTMP server that completes the handshake and answers
// connect and createStream, and answers publish with
// NetStream.Publish.Start only after publishDelay (never when it is 0):
// a target that accepts TCP but has not accepted the publish.
type slowTarget struct {
	ln    net.Listener
	delay time.Duration
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	// answered is when each Publish.Start was written
	answered []time.Time
	publish  int // publish commands received
	// refuse answers the publishes after the first this many times with
	// NetStream.Publish.BadName (the name still taken by a stale publish),
	// and dropAfter closes an accepted connection after that long.
	refuse    int
	dropAfter time.Duration
}

func newSlowTarget(t *testing.T, publishDelay time.Duration) *slowTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &slowTarget{ln: ln, delay: publishDelay}
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			st.mu.Lock()
			st.conns = append(st.conns, c)
			st.mu.Unlock()
			st.wg.Add(1)
			go func() { defer st.wg.Done(); st.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		st.mu.Lock()
		for _, c := range st.conns {
			c.Close()
		}
		st.mu.Unlock()
		st.wg.Wait()
	})
	return st
}

func (st *slowTarget) serve(c net.Conn) {
	c0c1 := make([]byte, 1+handshakeSize)
	if _, err := io.ReadFull(c, c0c1); err != nil {
		return
	}
	s := make([]byte, 1+2*handshakeSize)
	s[0] = 3
	copy(s[1+handshakeSize:], c0c1[1:]) // S2 echoes C1
	if _, err := c.Write(s); err != nil {
		return
	}
	cr := newChunkReader(c)
	if _, err := io.ReadFull(cr.r, make([]byte, handshakeSize)); err != nil { // C2
		return
	}
	bw := bufio.NewWriter(c)
	cw := chunkWriter{w: bw, size: 128}
	send := func(vals ...any) {
		var b []byte
		for _, v := range vals {
			b = amf0.Append(b, v)
		}
		_ = cw.write(csidCommand, msgCommandAMF0, 0, 0, b)
		_ = bw.Flush()
	}
	for {
		m, err := cr.next()
		if err != nil {
			return
		}
		if m.typ != msgCommandAMF0 {
			continue
		}
		cmd, err := parseCommand(m.body)
		if err != nil {
			return
		}
		switch cmd.name {
		case "connect":
			send("_result", cmd.txn, amf0.Obj{kv("fmsVer", "FMS/3,0,1,123")}, amf0.Obj{kv("level", "status"), kv("code", "NetConnection.Connect.Success")})
		case "createStream":
			send("_result", cmd.txn, nil, 1)
		case "publish":
			st.mu.Lock()
			st.publish++
			n := st.publish
			st.mu.Unlock()
			if n > 1 && n <= 1+st.refuse {
				send("onStatus", 0, nil, amf0.Obj{kv("level", "error"), kv("code", "NetStream.Publish.BadName"), kv("description", "already publishing")})
				continue
			}
			if st.delay == 0 {
				continue // never accepted
			}
			time.Sleep(st.delay)
			st.mu.Lock()
			st.answered = append(st.answered, time.Now())
			st.mu.Unlock()
			send("onStatus", 0, nil, amf0.Obj{kv("level", "status"), kv("code", "NetStream.Publish.Start"), kv("description", "go")})
			if st.dropAfter > 0 {
				time.AfterFunc(st.dropAfter, func() { c.Close() })
			}
		}
	}
}

// TestConnectingUntilPublishAccepted: a target that answers connect and
// createStream but never the publish keeps the output connecting (no
// connected_at, no connected event) until the dial timeout, then it
// retries; it never reports broadcasting.
func TestConnectingUntilPublishAccepted(t *testing.T) {
	tg := newSlowTarget(t, 0)
	src := newSource(t, 2000)
	obs := &recObserver{}
	o := New(Config{ID: "out_silent", LiveInputID: "li_source", Observer: obs, Logger: testLog(), DialTimeout: 1500 * time.Millisecond,
		MinBackoff: 100 * time.Millisecond, Target: Target{URL: "rtmp://" + tg.ln.Addr().String() + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	deadline := time.Now().Add(20 * time.Second)
	for {
		tg.mu.Lock()
		n := tg.publish
		tg.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the output never sent publish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// publish sent and unanswered: connecting for the rest of the dial timeout
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if st := o.Status(); st.State != StateConnecting || st.ConnectedAt != nil {
			t.Fatalf("unanswered publish: state %s connected_at %v, want connecting without connected_at", st.State, st.ConnectedAt)
		}
	}
	st := waitState(t, o, StateRetrying, 10*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeConnectFailed || st.NextRetryAt == nil || st.ConnectedAt != nil {
		t.Fatalf("after the dial timeout: %+v %+v", st, st.LastError)
	}
	t.Logf("unanswered publish: %s", st.LastError.Message)
	waitState(t, o, StateConnecting, 10*time.Second)
	if got := waitState(t, o, StateRetrying, 10*time.Second); got.Attempts < 2 {
		t.Fatalf("attempts %d after the second try", got.Attempts)
	}
	if n := obs.count(EventConnected); n != 0 {
		t.Fatalf("%d connected events for a target that never accepted", n)
	}
}

// TestConnectedWhenPublishAccepted: connected_at and the connected event
// come with the target's NetStream.Publish.Start, not before.
func TestConnectedWhenPublishAccepted(t *testing.T) {
	const delay = 700 * time.Millisecond
	tg := newSlowTarget(t, delay)
	src := newSource(t, 2000)
	obs := &recObserver{}
	o := New(Config{ID: "out_slow", LiveInputID: "li_source", Observer: obs, Logger: testLog(),
		Target: Target{URL: "rtmp://" + tg.ln.Addr().String() + "/live", StreamKey: targetKey}})
	start := time.Now()
	runOutput(t, o, src.stream())
	time.Sleep(delay / 2)
	if st := o.Status(); st.State != StateConnecting || st.ConnectedAt != nil || obs.count(EventConnected) != 0 {
		t.Fatalf("publish not answered yet: state %s connected_at %v events %d", st.State, st.ConnectedAt, obs.count(EventConnected))
	}
	st := waitState(t, o, StateBroadcasting, 10*time.Second)
	tg.mu.Lock()
	answered := tg.answered[0]
	tg.mu.Unlock()
	if st.ConnectedAt.Before(answered) {
		t.Fatalf("connected_at %v before the target answered the publish at %v", st.ConnectedAt, answered)
	}
	obs.mu.Lock()
	ev := obs.ev[0]
	obs.mu.Unlock()
	if ev.Kind != EventConnected || ev.Status.ConnectedAt == nil || !ev.Status.ConnectedAt.Equal(*st.ConnectedAt) {
		t.Fatalf("first event %+v, want connected at %v", ev, st.ConnectedAt)
	}
	t.Logf("broadcasting %v after start, %v after the target accepted", st.ConnectedAt.Sub(start).Round(time.Millisecond), st.ConnectedAt.Sub(answered).Round(time.Microsecond))
}

// TestSRTConnectedWhenAccepted: an SRT caller is connected when the
// listener accepted the handshake (its conclusion answer), not before; a
// listener that never answers keeps the output connecting, then retrying.
func TestSRTConnectedWhenAccepted(t *testing.T) {
	const delay = 700 * time.Millisecond
	ln, err := gosrt.Listen("srt", "127.0.0.1:0", gosrt.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var accepted time.Time
	var conn gosrt.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, err := ln.Accept2()
		if err != nil {
			return
		}
		time.Sleep(delay)
		accepted = time.Now()
		conn, _ = req.Accept()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		if conn != nil {
			conn.Close()
		}
	})
	src := newSource(t, 2000)
	obs := &recObserver{}
	o := New(Config{ID: "out_srt_slow", LiveInputID: "li_source", Observer: obs, Logger: testLog(),
		Target: Target{URL: "srt://" + ln.Addr().String() + "?streamid=publish:x"}})
	runOutput(t, o, src.stream())
	time.Sleep(delay / 2)
	if st := o.Status(); st.State != StateConnecting || st.ConnectedAt != nil || obs.count(EventConnected) != 0 {
		t.Fatalf("handshake not accepted yet: state %s connected_at %v", st.State, st.ConnectedAt)
	}
	st := waitState(t, o, StateBroadcasting, 10*time.Second)
	<-done
	if st.ConnectedAt.Before(accepted) {
		t.Fatalf("connected_at %v before the listener accepted at %v", st.ConnectedAt, accepted)
	}

	// a UDP port that never answers
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	o2 := New(Config{ID: "out_srt_silent", LiveInputID: "li_source", Logger: testLog(), DialTimeout: time.Second, MinBackoff: 100 * time.Millisecond,
		Target: Target{URL: "srt://" + pc.LocalAddr().String() + "?streamid=publish:x"}})
	runOutput(t, o2, src.stream())
	time.Sleep(500 * time.Millisecond)
	if st := o2.Status(); st.State != StateConnecting || st.ConnectedAt != nil {
		t.Fatalf("silent SRT target: state %s connected_at %v, want connecting", st.State, st.ConnectedAt)
	}
	st = waitState(t, o2, StateRetrying, 10*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeConnectFailed || st.ConnectedAt != nil {
		t.Fatalf("silent SRT target: %+v %+v", st, st.LastError)
	}
	t.Logf("silent SRT target: %s", st.LastError.Message)
}

// TestStaleNameRefusalRetried: refusals right after our own broadcast
// ended (the target still holds our stale publish and calls the name
// taken) do not count towards errored: the output keeps retrying and
// broadcasts again once the target lets go.
func TestStaleNameRefusalRetried(t *testing.T) {
	tg := newSlowTarget(t, time.Millisecond)
	tg.refuse, tg.dropAfter = 5, 300*time.Millisecond
	src := newSource(t, 2000)
	o := New(Config{ID: "out_stale", LiveInputID: "li_source", Logger: testLog(), MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		MaxRefusals: 2, Target: Target{URL: "rtmp://" + tg.ln.Addr().String() + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	first := waitState(t, o, StateBroadcasting, 10*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := o.Status()
		if st.State == StateErrored {
			t.Fatalf("errored after a stale-name refusal: %+v", st.LastError)
		}
		if st.State == StateBroadcasting && st.ConnectedAt.After(*first.ConnectedAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s, never broadcasting again", st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.publish < 2+tg.refuse {
		t.Fatalf("%d publishes, want the %d refusals in between", tg.publish, tg.refuse)
	}
}
