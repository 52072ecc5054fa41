package webrtcice

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// Retransmission budget of one sending session: the packets its viewer
// may have resent by NACK (RFC 4585 §6.2.1), refilled at nackRate a
// second up to nackBurst. A viewer on a lossy path gets its losses
// resent (5 % loss of a 2.5 Mb/s stream is about 13 packets a second);
// a viewer that cannot keep up and NACKs most of the stream does not
// make the daemon send it twice: its losses past the budget go
// unanswered, and its decoder recovers at the next key frame (PLI).
// libwebrtc bounds retransmissions the same way, by the send rate.
const (
	nackRate  = 100
	nackBurst = 200
)

// nackBudget is an interceptor that trims the NACKs a session reads to
// its retransmission budget before pion's NACK responder sees them. It
// must be registered before the responder, so that its RTCP reader runs
// first: both read the packets parsed once into the attributes.
type nackBudget struct {
	interceptor.NoOp
	rate, burst float64
	now         func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

type nackBudgetFactory struct {
	rate, burst float64
}

func (f nackBudgetFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackBudget{rate: f.rate, burst: f.burst, tokens: f.burst, now: time.Now}, nil
}

// BindRTCPReader trims every NACK read to the budget left.
func (n *nackBudget) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, attr, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		pkts, err := attr.GetRTCPPackets(b[:i])
		if err != nil {
			return 0, nil, err
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				nack.Nacks = n.trim(nack.Nacks)
			}
		}
		return i, attr, nil
	})
}

// trim returns the NACK pairs that fit the budget, taking their packets
// from it: whole pairs, and the first packets of the pair that does not
// fit (RFC 4585 §6.2.1: PID and then BLP's bits in order).
func (n *nackBudget) trim(pairs []rtcp.NackPair) []rtcp.NackPair {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if !n.last.IsZero() {
		n.tokens = min(n.burst, n.tokens+now.Sub(n.last).Seconds()*n.rate)
	}
	n.last = now
	for k, p := range pairs {
		lost := len(p.PacketList())
		if float64(lost) <= n.tokens {
			n.tokens -= float64(lost)
			continue
		}
		// as much of this pair as the budget holds: the PID and the
		// first bits of its bitmask
		left := int(n.tokens)
		n.tokens -= float64(left)
		if left == 0 {
			return pairs[:k]
		}
		var blp rtcp.PacketBitmap
		for bit, taken := 0, 1; bit < 16 && taken < left; bit++ {
			if p.LostPackets&(1<<bit) != 0 {
				blp |= 1 << bit
				taken++
			}
		}
		pairs[k].LostPackets = blp
		return pairs[:k+1]
	}
	return pairs
}
