package restream

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freezeProxy forwards TCP to a target; frozen, it stops reading from its
// clients (a target that hangs without closing).
type freezeProxy struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, u); c.Close() }()
			go func() {
				defer p.wg.Done()
				defer u.Close()
				buf := make([]byte, 16<<10)
				for {
					for p.frozen.Load() {
						time.Sleep(10 * time.Millisecond)
					}
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := u.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		p.frozen.Store(false)
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// TestStallReconnects: a target that stops reading is given up after the
// stall timeout, and the output reconnects.
func TestStallReconnects(t *testing.T) {
	tg := newTarget(t, "")
	px := newFreezeProxy(t, tg.rtmpAddr)
	src := newSource(t, 100_000) // 3 MB/s: the socket buffers fill fast
	o := New(Config{ID: "out_stall", LiveInputID: "li_source", Logger: testLog(), StallTimeout: time.Second, MinBackoff: 100 * time.Millisecond,
		Target: Target{URL: "rtmp://" + px.ln.Addr().String() + "/live", StreamKey: targetKey}})
	runOutput(t, o, src.stream())
	first := waitState(t, o, StateBroadcasting, 10*time.Second)
	px.frozen.Store(true)
	st := waitState(t, o, StateRetrying, 20*time.Second)
	if st.LastError == nil || st.LastError.Code != CodeStalled {
		t.Fatalf("last error %+v, want stalled", st.LastError)
	}
	px.frozen.Store(false)
	again := waitState(t, o, StateBroadcasting, 20*time.Second)
	if !again.ConnectedAt.After(*first.ConnectedAt) {
		t.Fatal("no new connection after the stall")
	}
}
