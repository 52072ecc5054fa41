package webrtcice

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestNACKBudgetTrim(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	n := &nackBudget{rate: 100, burst: 10, tokens: 10, now: func() time.Time { return now }}
	count := func(ps []rtcp.NackPair) int {
		c := 0
		for _, p := range ps {
			c += len(p.PacketList())
		}
		return c
	}
	// 3 + 17 packets asked, 10 in the budget: the first pair whole, 7 of the second
	got := n.trim([]rtcp.NackPair{{PacketID: 10, LostPackets: 0b11}, {PacketID: 100, LostPackets: 0xffff}})
	if c := count(got); c != 10 || len(got) != 2 || got[1].PacketID != 100 || got[1].LostPackets != 0b111111 {
		t.Fatalf("first NACK: got %+v (%d packets), want 10 packets", got, c)
	}
	// nothing left at the same instant
	if got := n.trim([]rtcp.NackPair{{PacketID: 200}}); len(got) != 0 {
		t.Fatalf("empty budget: got %+v", got)
	}
	// 50 ms later: 5 packets (rate 100/s)
	now = t0.Add(50 * time.Millisecond)
	if got := n.trim([]rtcp.NackPair{{PacketID: 300, LostPackets: 0xff}}); count(got) != 5 {
		t.Fatalf("refilled: got %+v (%d packets), want 5", got, count(got))
	}
	// a long pause refills to the burst only
	now = t0.Add(time.Hour)
	if got := n.trim([]rtcp.NackPair{{PacketID: 1}, {PacketID: 20, LostPackets: 0xffff}}); count(got) != 10 {
		t.Fatalf("burst: got %+v (%d packets), want 10", got, count(got))
	}
}

// TestSenderInterceptorsResend runs a sending session's interceptors as
// pion does: 300 video packets written, then a NACK for 250 of them. The
// packets resent are the ones written (headers and payloads kept, not
// copied), at most the budget's burst of them.
func TestSenderInterceptorsResend(t *testing.T) {
	reg := &interceptor.Registry{}
	if err := addSenderInterceptors(reg, 512); err != nil {
		t.Fatal(err)
	}
	ic, err := reg.Build("")
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	var mu sync.Mutex
	var sent []rtp.Packet
	const ssrc = 0x1234
	w := ic.BindLocalStream(&interceptor.StreamInfo{
		SSRC: ssrc, ClockRate: 90000, MimeType: "video/H264",
		RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}},
	}, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		mu.Lock()
		sent = append(sent, rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)})
		mu.Unlock()
		return len(payload), nil
	}))
	pkts := make([]rtp.Packet, 300)
	for i := range pkts {
		pkts[i] = rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: uint16(i), Timestamp: uint32(i / 10 * 3000)}, Payload: []byte{byte(i), byte(i >> 8), 0xee}}
		if _, err := w.Write(&pkts[i].Header, pkts[i].Payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	sent = sent[:0]
	mu.Unlock()
	// NACK 17 packets a pair (PID + 16 bits) from 20 on: 15 pairs, 255 packets
	var pairs []rtcp.NackPair
	for pid := 20; pid < 20+15*17; pid += 17 {
		pairs = append(pairs, rtcp.NackPair{PacketID: uint16(pid), LostPackets: 0xffff})
	}
	raw, err := (&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: pairs}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := ic.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, raw), a, nil
	}))
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	// the responder resends in a goroutine of its own
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(sent)
		mu.Unlock()
		if n >= nackBurst || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != nackBurst {
		t.Fatalf("resent %d packets, want the burst of %d", len(sent), nackBurst)
	}
	for k, p := range sent {
		i := 20 + k
		if p.SequenceNumber != uint16(i) || p.Timestamp != uint32(i/10*3000) || len(p.Payload) != 3 || p.Payload[0] != byte(i) || p.Payload[1] != byte(i>>8) {
			t.Fatalf("resend %d: got seq %d ts %d payload %x, want packet %d as written", k, p.SequenceNumber, p.Timestamp, p.Payload, i)
		}
	}
}
