package webrtcice

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
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
