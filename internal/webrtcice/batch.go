package webrtcice

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Limits of one batch of writes.
const (
	// maxPending is the most bytes queued for the sender goroutine; a
	// write beyond it waits, as a write to a full socket buffer does, so
	// that a daemon short of CPU slows its sessions' writers (whose own
	// bounded queues then drop whole frames, to a key frame) rather than
	// losing packets at random.
	maxPending = 4 << 20
	// maxMessages is the most messages per sendmmsg(2).
	maxMessages = 256
	// maxSegments and maxGSOBytes bound one UDP GSO message: Linux takes
	// at most 64 segments (UDP_MAX_SEGMENTS before 6.1) and one IP
	// datagram's worth of payload.
	maxSegments = 64
	maxGSOBytes = 65000
)

// batchConn is the shared UDP socket with its writes batched. Every
// WebRTC session of the daemon writes its SRTP, DTLS and STUN packets
// through it: a write copies the packet into a queue and returns; one
// sender goroutine drains the queue with sendmmsg(2), and where the
// kernel supports UDP generic segmentation offload (UDP_SEGMENT, Linux
// 4.18+) it coalesces the consecutive equal-size packets to one
// destination (a video frame's RTP packets to one viewer: every packet
// but the last is full) into one message that the kernel, or the NIC,
// splits. One system call and one pass through the IP stack then carry
// many packets: that is most of the cost of WHEP fan-out to many viewers.
// Packets to one destination leave in the order they were written.
//
// It implements net.PacketConn and pion's ice.AddrPortReaderWriter, so
// pion's UDP mux reads and writes through it without allocating
// addresses. Reads go straight to the socket.
type batchConn struct {
	conn    *net.UDPConn
	pc      *ipv4.PacketConn
	log     *slog.Logger
	pending int // maxPending but in tests

	mu     sync.Mutex
	space  *sync.Cond  // on mu: signalled when the sender took the queue, or at Close
	cur    *writeBatch // being filled by writers
	spare  *writeBatch // the other one, nil while the sender has it
	closed bool
	wake   chan struct{} // a token when cur went from empty to not empty
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	// owned by the sender goroutine
	sent   sendCounts
	gso    bool
	groups map[netip.AddrPort][]int
	order  []netip.AddrPort
	addrs  map[netip.AddrPort]*net.UDPAddr
	msgs   []ipv4.Message
	bufs   [][]byte
	oob    []byte
}

// sendCounts are what the sender did, logged when it stops.
type sendCounts struct {
	packets, messages, syscalls uint64
}

// writeBatch is packets queued in one buffer.
type writeBatch struct {
	buf  []byte
	pkts []queued
}

type queued struct {
	addr   netip.AddrPort
	off, n int
}

// newBatchConn wraps conn and starts its sender goroutine; Close stops it.
func newBatchConn(conn *net.UDPConn, log *slog.Logger) *batchConn {
	c := newBatchConnIdle(conn, log, gsoSupported(conn), maxPending)
	go c.send()
	return c
}

// newBatchConnIdle is a batchConn whose sender is not started: the
// caller runs go c.send(). gso says whether to use segmentation offload,
// pending is the queue's limit in bytes.
func newBatchConnIdle(conn *net.UDPConn, log *slog.Logger, gso bool, pending int) *batchConn {
	c := &batchConn{
		conn: conn, pc: ipv4.NewPacketConn(conn), log: log, pending: pending,
		cur: &writeBatch{}, spare: &writeBatch{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		gso:    gso,
		groups: map[netip.AddrPort][]int{},
		addrs:  map[netip.AddrPort]*net.UDPAddr{},
	}
	c.space = sync.NewCond(&c.mu)
	return c
}

// WriteToAddrPort queues b for addr; it waits only while the queue is
// full (maxPending bytes).
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	for !c.closed && len(c.cur.buf) > 0 && len(c.cur.buf)+len(b) > c.pending {
		c.space.Wait()
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	cur := c.cur
	cur.pkts = append(cur.pkts, queued{addr: addr, off: len(cur.buf), n: len(b)})
	cur.buf = append(cur.buf, b...)
	first := len(cur.pkts) == 1
	c.mu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

// WriteTo queues b for addr, a *net.UDPAddr.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: errors.New("not a UDP address")}
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(b)
}

func (c *batchConn) ReadFrom(b []byte) (int, net.Addr, error) { return c.conn.ReadFrom(b) }
func (c *batchConn) LocalAddr() net.Addr                      { return c.conn.LocalAddr() }
func (c *batchConn) SetReadDeadline(t time.Time) error        { return c.conn.SetReadDeadline(t) }

// SetDeadline sets the read deadline: a write waits only for the sender.
func (c *batchConn) SetDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing: a write waits only for the sender, and
// a deadline on the socket would fail the sender's writes for every
// session.
func (c *batchConn) SetWriteDeadline(time.Time) error { return nil }

// Close closes the socket and waits for the sender; idempotent. Packets
// still queued are dropped, and writes fail with net.ErrClosed.
func (c *batchConn) Close() error {
	var err error
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.space.Broadcast()
		c.mu.Unlock()
		close(c.stop)
		err = c.conn.Close()
		<-c.done
		c.log.Info("webrtc udp sender stopped", "gso", c.gso, "packets", c.sent.packets,
			"messages", c.sent.messages, "syscalls", c.sent.syscalls)
	})
	return err
}

// send is the sender goroutine: it takes the filled batch and writes it.
func (c *batchConn) send() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		b := c.cur
		c.cur, c.spare = c.spare, nil
		c.space.Broadcast()
		c.mu.Unlock()
		c.write(b)
		b.buf, b.pkts = b.buf[:0], b.pkts[:0]
		if cap(b.buf) > 2*c.pending {
			b.buf = nil
		}
		c.mu.Lock()
		c.spare = b
		c.mu.Unlock()
	}
}

// write sends b's packets, grouped by destination in the order of their
// first packet; each destination's packets keep their order.
func (c *batchConn) write(b *writeBatch) {
	if len(b.pkts) == 0 {
		return
	}
	c.sent.packets += uint64(len(b.pkts))
	clear(c.groups)
	c.order = c.order[:0]
	for i, p := range b.pkts {
		g, ok := c.groups[p.addr]
		if !ok {
			c.order = append(c.order, p.addr)
		}
		c.groups[p.addr] = append(g, i)
	}
	if len(c.addrs) > 4096 {
		clear(c.addrs)
	}
	c.msgs, c.bufs, c.oob = c.msgs[:0], c.bufs[:0], c.oob[:0]
	// bufs and oob are carved into messages below; grow them first so
	// that the messages' sub-slices stay valid
	if cap(c.bufs) < len(b.pkts) {
		c.bufs = make([][]byte, 0, len(b.pkts)*2)
	}
	if need := len(b.pkts) * gsoCmsgSpace(); cap(c.oob) < need {
		c.oob = make([]byte, 0, need*2)
	}
	for _, addr := range c.order {
		idx := c.groups[addr]
		ua := c.addrs[addr]
		if ua == nil {
			ua = net.UDPAddrFromAddrPort(addr)
			c.addrs[addr] = ua
		}
		for i := 0; i < len(idx); {
			j := i + 1
			size := b.pkts[idx[i]].n
			if c.gso {
				total := size
				for j < len(idx) && j-i < maxSegments {
					n := b.pkts[idx[j]].n
					if n > size || total+n > maxGSOBytes {
						break
					}
					total += n
					j++
					if n < size { // a shorter segment can only be the last
						break
					}
				}
			}
			start := len(c.bufs)
			for _, k := range idx[i:j] {
				p := b.pkts[k]
				c.bufs = append(c.bufs, b.buf[p.off:p.off+p.n])
			}
			m := ipv4.Message{Buffers: c.bufs[start:len(c.bufs):len(c.bufs)], Addr: ua}
			if j-i > 1 {
				o := len(c.oob)
				c.oob = appendGSOCmsg(c.oob, uint16(size))
				m.OOB = c.oob[o:len(c.oob):len(c.oob)]
			}
			c.msgs = append(c.msgs, m)
			i = j
		}
	}
	c.sendMsgs(c.msgs)
}

// sendMsgs writes ms with sendmmsg(2). A message the kernel refuses is
// skipped (UDP: lost, as on the wire); a GSO message refused turns GSO
// off for good and is sent again one packet per message.
func (c *batchConn) sendMsgs(ms []ipv4.Message) {
	c.sent.messages += uint64(len(ms))
	for len(ms) > 0 {
		c.sent.syscalls++
		n, err := c.pc.WriteBatch(ms[:min(len(ms), maxMessages)], 0)
		if n > 0 {
			ms = ms[n:]
		}
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if len(ms) == 0 {
			return
		}
		if n <= 0 {
			m := ms[0]
			ms = ms[1:]
			if len(m.OOB) > 0 {
				if c.gso {
					c.gso = false
					c.log.Info("webrtc udp: segmentation offload refused, sending one packet per message", "error", err)
				}
				for _, p := range m.Buffers {
					_, _ = c.pc.WriteTo(p, nil, m.Addr)
				}
			}
		}
	}
}
