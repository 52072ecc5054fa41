// Package srttest holds helpers for tests of SRT ingest: a lossy UDP relay
// that sits between an SRT publisher and the server.
package srttest

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Relay forwards UDP datagrams between one client and a target address,
// dropping a share of the client's SRT data packets on the way to the
// target. SRT control packets (handshakes, ACK, NAK, keepalive) always pass,
// so the connection comes up and the loss is what retransmission must
// repair. Close stops it and waits for its goroutines.
type Relay struct {
	front  *net.UDPConn // the client talks to this socket
	back   *net.UDPConn // connected to the target
	loss   float64
	rng    *rand.Rand // touched only by the forward goroutine
	wg     sync.WaitGroup
	once   sync.Once
	mu     sync.Mutex
	client *net.UDPAddr

	forwarded atomic.Uint64
	dropped   atomic.Uint64
}

// NewRelay listens on a loopback UDP port and relays to target, dropping
// the given share (0..1) of data packets from the client. seed makes the
// drops reproducible.
func NewRelay(target string, loss float64, seed uint64) (*Relay, error) {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	back, err := net.DialUDP("udp", nil, taddr)
	if err != nil {
		_ = front.Close()
		return nil, err
	}
	r := &Relay{front: front, back: back, loss: loss, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	r.wg.Add(2)
	go r.forward()
	go r.backward()
	return r, nil
}

// Addr is the address the publisher should call.
func (r *Relay) Addr() *net.UDPAddr { return r.front.LocalAddr().(*net.UDPAddr) }

// Dropped is the number of data packets dropped so far.
func (r *Relay) Dropped() uint64 { return r.dropped.Load() }

// Forwarded is the number of client datagrams forwarded so far.
func (r *Relay) Forwarded() uint64 { return r.forwarded.Load() }

// Close stops the relay. Idempotent.
func (r *Relay) Close() error {
	r.once.Do(func() {
		_ = r.front.Close()
		_ = r.back.Close()
	})
	r.wg.Wait()
	return nil
}

func (r *Relay) forward() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := r.front.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.mu.Lock()
		r.client = from
		r.mu.Unlock()
		// SRT RFC draft §3: the first bit of a packet is 0 for data packets.
		if n > 0 && buf[0]&0x80 == 0 && r.rng.Float64() < r.loss {
			r.dropped.Add(1)
			continue
		}
		r.forwarded.Add(1)
		_, _ = r.back.Write(buf[:n])
	}
}

func (r *Relay) backward() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		_ = r.back.SetReadDeadline(time.Now().Add(time.Second))
		n, err := r.back.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.mu.Lock()
		c := r.client
		r.mu.Unlock()
		if c != nil {
			_, _ = r.front.WriteToUDP(buf[:n], c)
		}
	}
}
