package rtsp

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdleTimeout closes a connection that sends no bytes for this long
// before it records: the RTSP library reads requests without a deadline,
// so a peer sending half a request line would otherwise hold its socket
// and goroutines forever.
const DefaultIdleTimeout = 30 * time.Second

// idleListener wraps accepted connections in idleConn and keeps them by
// remote address, so that OnRecord can lift the deadline of a publisher.
type idleListener struct {
	net.Listener
	idle  time.Duration
	conns sync.Map // remote address → *idleConn
}

func (l *idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ic := &idleConn{Conn: c, idle: l.idle, l: l}
	l.conns.Store(c.RemoteAddr().String(), ic)
	return ic, nil
}

// recording lifts the idle deadline of the connection from remote: from
// RECORD on, the library's own timeouts (ReadTimeout over TCP, the
// session timeout over UDP) apply.
func (l *idleListener) recording(remote string) {
	if v, ok := l.conns.Load(remote); ok {
		v.(*idleConn).recording.Store(true)
	}
}

// idleConn sets a read deadline of idle before every read, unless the
// library set one of its own or the connection records.
type idleConn struct {
	net.Conn
	idle      time.Duration
	l         *idleListener
	explicit  atomic.Bool
	recording atomic.Bool
	closeOnce sync.Once
}

func (c *idleConn) Read(b []byte) (int, error) {
	if !c.explicit.Load() && !c.recording.Load() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(b)
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.explicit.Store(!t.IsZero())
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetDeadline(t time.Time) error {
	c.explicit.Store(!t.IsZero())
	return c.Conn.SetDeadline(t)
}

func (c *idleConn) Close() error {
	c.closeOnce.Do(func() { c.l.conns.Delete(c.RemoteAddr().String()) })
	return c.Conn.Close()
}
