package webrtcice

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestBatchConnDelivers writes interleaved packets of mixed sizes to two
// receivers, as two viewers' writers do, and checks that each receiver
// gets all of its packets, whole and in order, with segmentation offload
// and without.
func TestBatchConnDelivers(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			t.Parallel()
			if gso {
				probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				ok := gsoSupported(probe)
				_ = probe.Close()
				if !ok {
					t.Skip("no UDP_SEGMENT here")
				}
			}
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			c := newBatchConnIdle(conn, slog.New(slog.DiscardHandler), gso, maxPending)
			go c.send()
			defer c.Close()
			var rx [2]*net.UDPConn
			var to [2]netip.AddrPort
			for i := range rx {
				if rx[i], err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
					t.Fatal(err)
				}
				defer rx[i].Close()
				_ = rx[i].SetReadBuffer(4 << 20)
				to[i] = rx[i].LocalAddr().(*net.UDPAddr).AddrPort()
			}
			// frames of full packets and a short last one, a frame
			// bigger than one GSO message, and lone small packets
			sizes := []int{1228, 1228, 1228, 300, 90, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 1228, 700, 60, 1300, 1228}
			pkt := func(dst, i int) []byte {
				b := bytes.Repeat([]byte{byte(dst*100 + i)}, sizes[i])
				b[0], b[1] = byte(dst), byte(i)
				return b
			}
			for i := range sizes {
				for d := range to {
					if _, err := c.WriteToAddrPort(pkt(d, i), to[d]); err != nil {
						t.Fatal(err)
					}
				}
			}
			for d := range rx {
				_ = rx[d].SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 65536)
				for i := range sizes {
					n, _, err := rx[d].ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatalf("receiver %d, packet %d: %v", d, i, err)
					}
					if want := pkt(d, i); !bytes.Equal(buf[:n], want) {
						t.Fatalf("receiver %d, packet %d: got %d bytes starting %v, want %d starting %v", d, i, n, buf[:2], len(want), want[:2])
					}
				}
			}
		})
	}
}

// TestBatchConnClose closes twice and refuses writes after.
func TestBatchConnClose(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := newBatchConn(conn, slog.New(slog.DiscardHandler))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if _, err := c.WriteToAddrPort([]byte{1}, conn.LocalAddr().(*net.UDPAddr).AddrPort()); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// TestBatchConnFull has a write wait while the queue is full, until the
// sender takes it, and a write waiting when the conn closes fail.
func TestBatchConnFull(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	c := newBatchConnIdle(conn, slog.New(slog.DiscardHandler), false, 3000)
	pkt := make([]byte, 1000)
	for range 3 {
		if _, err := c.WriteToAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.WriteToAddrPort(pkt, to)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("a write to a full queue returned (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	go c.send()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write still waits after the sender started")
	}
	// fill again faster than nothing drains it: Close releases the writer
	c2conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newBatchConnIdle(c2conn, slog.New(slog.DiscardHandler), false, 1000)
	close(c2.done) // no sender: Close must not wait for one
	if _, err := c2.WriteToAddrPort(pkt, to); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c2.WriteToAddrPort(pkt, to)
		wrote <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = c2.Close()
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("a write waiting at Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a writer waiting")
	}
	_ = c.Close()
}

// BenchmarkBatchConn writes video frames (8 full packets and a short
// one) to 50 destinations, as WHEP fan-out does, with and without
// segmentation offload; -benchmem and ns/op are per frame and viewer.
func BenchmarkBatchConn(b *testing.B) {
	for _, gso := range []bool{false, true} {
		b.Run(fmt.Sprintf("gso=%v", gso), func(b *testing.B) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			if gso && !gsoSupported(conn) {
				b.Skip("no UDP_SEGMENT here")
			}
			c := newBatchConnIdle(conn, slog.New(slog.DiscardHandler), gso, maxPending)
			go c.send()
			defer c.Close()
			var to []netip.AddrPort
			for range 50 {
				rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer rx.Close()
				to = append(to, rx.LocalAddr().(*net.UDPAddr).AddrPort())
				go func() { // drain, as a viewer does
					buf := make([]byte, 65536)
					for {
						if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
							return
						}
					}
				}()
			}
			full, last := make([]byte, 1228), make([]byte, 500)
			b.ResetTimer()
			for i := range b.N {
				dst := to[i%len(to)]
				for range 8 {
					_, _ = c.WriteToAddrPort(full, dst)
				}
				_, _ = c.WriteToAddrPort(last, dst)
			}
		})
	}
}

// TestBatchConnDualStack sends from a socket on the unspecified address
// (the default webrtc.udp_address, ":8189", is dual-stack) to an IPv4
// receiver, addressed plainly and v4-mapped as a dual-stack socket reads
// peers, and to an IPv6 one when the host has IPv6.
func TestBatchConnDualStack(t *testing.T) {
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	conn := pc.(*net.UDPConn)
	c := newBatchConn(conn, slog.New(slog.DiscardHandler))
	defer c.Close()
	rx4, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx4.Close()
	a4 := rx4.LocalAddr().(*net.UDPAddr).AddrPort()
	targets := []struct {
		rx *net.UDPConn
		to netip.AddrPort
	}{
		{rx4, a4},
		{rx4, netip.AddrPortFrom(netip.AddrFrom16(a4.Addr().As16()), a4.Port())},
	}
	if rx6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		defer rx6.Close()
		targets = append(targets, struct {
			rx *net.UDPConn
			to netip.AddrPort
		}{rx6, rx6.LocalAddr().(*net.UDPAddr).AddrPort()})
	}
	buf := make([]byte, 65536)
	for _, tg := range targets {
		frame := [][]byte{bytes.Repeat([]byte{1}, 1200), bytes.Repeat([]byte{2}, 1200), bytes.Repeat([]byte{3}, 100)}
		for _, p := range frame {
			if _, err := c.WriteToAddrPort(p, tg.to); err != nil {
				t.Fatal(err)
			}
		}
		_ = tg.rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i, want := range frame {
			n, _, err := tg.rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("to %v, packet %d: %v", tg.to, i, err)
			}
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("to %v, packet %d: got %d bytes, want %d", tg.to, i, n, len(want))
			}
		}
	}
}
