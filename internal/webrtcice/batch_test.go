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
			c := newBatchConnGSO(conn, slog.New(slog.DiscardHandler), gso)
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
