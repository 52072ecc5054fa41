package whip

import (
	"time"

	"github.com/pion/rtp"
)

// reorderSize is the reorder window in packets (a power of two).
const reorderSize = 512

// reorderBuffer puts RTP packets back into sequence order (RFC 3550 §A.1
// serial number arithmetic on the 16-bit sequence number). Packets that
// arrive out of order, or that NACK (RFC 4585 §6.2.1) brings back, wait up to
// maxWait; a gap still open after that is given up as lost.
type reorderBuffer struct {
	maxWait  time.Duration
	started  bool
	next     uint16
	count    int
	gapSince time.Time
	slots    [reorderSize]*rtp.Packet
}

func newReorderBuffer(maxWait time.Duration) *reorderBuffer {
	return &reorderBuffer{maxWait: maxWait}
}

// ordered is a packet released in sequence order; Lost reports that packets
// before it were given up.
type ordered struct {
	P    *rtp.Packet
	Lost bool
}

// push adds p (received at now) and returns the packets now in order.
func (b *reorderBuffer) push(p *rtp.Packet, now time.Time) (out []ordered) {
	lost := false
	if !b.started {
		b.started, b.next = true, p.SequenceNumber
	}
	diff := int16(p.SequenceNumber - b.next)
	switch {
	case diff < 0:
		return nil // late or duplicate
	case int(diff) >= reorderSize:
		// far ahead: the sender jumped or we lost a lot; start over
		b.clear()
		b.next = p.SequenceNumber
		lost = true
	}
	i := p.SequenceNumber % reorderSize
	if b.slots[i] == nil {
		b.slots[i] = p
		b.count++
	}
	out = b.drain(out, lost)
	if b.count == 0 {
		b.gapSince = time.Time{}
		return out
	}
	if b.gapSince.IsZero() {
		b.gapSince = now
	}
	if now.Sub(b.gapSince) >= b.maxWait || b.count >= reorderSize/2 {
		for b.slots[b.next%reorderSize] == nil {
			b.next++
		}
		out = b.drain(out, true)
		b.gapSince = time.Time{}
		if b.count > 0 {
			b.gapSince = now
		}
	}
	return out
}

func (b *reorderBuffer) drain(out []ordered, lost bool) []ordered {
	for {
		i := b.next % reorderSize
		p := b.slots[i]
		if p == nil {
			return out
		}
		b.slots[i] = nil
		b.count--
		b.next++
		out = append(out, ordered{P: p, Lost: lost})
		lost = false
	}
}

func (b *reorderBuffer) clear() {
	clear(b.slots[:])
	b.count = 0
	b.gapSince = time.Time{}
}
