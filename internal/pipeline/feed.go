package pipeline

import (
	"sync"
	"sync/atomic"
)

// Feed is a typed edge of a graph that is not media: a bounded fan-out of
// values (the packager's completed segments) from one publisher to the
// subscribers. Publish never blocks: a subscriber whose queue is full
// loses the value, counted in Dropped.
type Feed[T any] struct {
	mu      sync.Mutex
	subs    []chan T
	closed  bool
	dropped atomic.Uint64
}

// Subscribe returns a channel of the values published from now on, with
// room for queue of them; it is closed by Close.
func (f *Feed[T]) Subscribe(queue int) <-chan T {
	ch := make(chan T, max(queue, 1))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(ch)
		return ch
	}
	f.subs = append(f.subs, ch)
	return ch
}

// Publish offers v to every subscriber.
func (f *Feed[T]) Publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	for _, ch := range f.subs {
		select {
		case ch <- v:
		default:
			f.dropped.Add(1)
		}
	}
}

// Close closes every subscriber's channel; idempotent.
func (f *Feed[T]) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, ch := range f.subs {
		close(ch)
	}
}

// Dropped is the number of values a full subscriber lost.
func (f *Feed[T]) Dropped() uint64 { return f.dropped.Load() }
