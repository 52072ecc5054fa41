package events

import (
	"errors"
	"sync"
	"sync/atomic"
)

// ErrSlow is the reason a subscription was cut off: its queue was full.
var ErrSlow = errors.New("subscriber too slow: queue full")

// ErrClosed is the reason a subscription ended because it or the bus was
// closed.
var ErrClosed = errors.New("subscription closed")

// DefaultQueue is the queue length of a subscription when
// SubscribeOptions.Queue is 0.
const DefaultQueue = 256

// Bus fans events out to subscribers. The zero value is not usable; use
// NewBus. Safe for concurrent use.
type Bus struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool

	published atomic.Uint64
	cut       atomic.Uint64
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// SubscribeOptions shape a subscription.
type SubscribeOptions struct {
	// Match keeps only the events it returns true for; nil keeps all. It is
	// called on the publisher's goroutine and must be cheap and non-blocking.
	Match func(Event) bool
	// Queue is the number of events that may wait for the subscriber;
	// default DefaultQueue. When it is full the subscription is cut off.
	Queue int
}

// Filter returns a Match function keeping events whose type is in types
// (all when empty) and whose live input is liveInputID (all when "").
func Filter(types []Type, liveInputID string) func(Event) bool {
	if len(types) == 0 && liveInputID == "" {
		return nil
	}
	set := make(map[Type]struct{}, len(types))
	for _, t := range types {
		set[t] = struct{}{}
	}
	return func(e Event) bool {
		if len(set) > 0 {
			if _, ok := set[e.Type]; !ok {
				return false
			}
		}
		return liveInputID == "" || e.LiveInputID == liveInputID
	}
}

// Subscription receives events from C until Done is closed.
type Subscription struct {
	bus   *Bus
	match func(Event) bool
	ch    chan Event
	done  chan struct{}
	once  sync.Once
	err   atomic.Pointer[error]
}

// Subscribe registers a subscriber. The caller must Close it (Close is
// idempotent). Subscribing to a closed bus returns a subscription that is
// already done with ErrClosed.
func (b *Bus) Subscribe(o SubscribeOptions) *Subscription {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	s := &Subscription{bus: b, match: o.Match, ch: make(chan Event, o.Queue), done: make(chan struct{})}
	b.mu.Lock()
	closed := b.closed
	if !closed {
		b.subs[s] = struct{}{}
	}
	b.mu.Unlock()
	if closed {
		s.stop(ErrClosed)
	}
	return s
}

// Publish delivers e to every matching subscriber without blocking; a
// subscriber whose queue is full is cut off with ErrSlow.
func (b *Bus) Publish(e Event) {
	b.published.Add(1)
	b.mu.RLock()
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.RUnlock()
	for _, s := range subs {
		if s.match != nil && !s.match(e) {
			continue
		}
		select {
		case <-s.done:
			continue
		default:
		}
		select {
		case s.ch <- e:
		default:
			b.cut.Add(1)
			s.stop(ErrSlow)
		}
	}
}

// Stats returns how many events were published and how many subscribers
// were cut off for being slow.
func (b *Bus) Stats() (published, cutOff uint64) { return b.published.Load(), b.cut.Load() }

// Close ends every subscription with ErrClosed; idempotent.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = map[*Subscription]struct{}{}
	b.mu.Unlock()
	for s := range subs {
		s.stop(ErrClosed)
	}
}

// C delivers the events. It is never closed: select on Done as well.
func (s *Subscription) C() <-chan Event { return s.ch }

// Done is closed when the subscription ends (Close, bus closed, or cut off).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is nil while the subscription runs, then ErrSlow or ErrClosed.
func (s *Subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close unsubscribes; idempotent.
func (s *Subscription) Close() { s.stop(ErrClosed) }

func (s *Subscription) stop(err error) {
	s.once.Do(func() {
		s.err.Store(&err)
		close(s.done)
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
	})
}
