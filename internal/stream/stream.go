package stream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrEnded is returned by Reader.Next once the stream has ended and the
// reader's queue is drained.
var ErrEnded = errors.New("stream ended")

// DefaultQueueSize is the reader queue length used when AddReader gets 0:
// about 8 s of 30 fps video plus audio.
const DefaultQueueSize = 512

// Stream is the live hub of one live input: its tracks and its readers. It
// outlives a publisher's reconnect within the hub's reconnect window.
type Stream struct {
	id string
	// hub is the hub the stream is in (nil for a stream made outside one,
	// in tests); source and rendition are set on a rendition stream
	// (PublishRendition): its live input's stream and its name.
	hub       *Hub
	source    *Stream
	rendition string
	withdrawn atomic.Bool

	wmu     sync.Mutex // serialises writes (a kicked publisher may race its successor)
	mu      sync.Mutex // guards tracks
	tracks  []Track
	readers atomic.Pointer[[]*Reader] // copy-on-write snapshot
	rmu     sync.Mutex                // serialises reader list updates

	ended    chan struct{}
	endOnce  sync.Once
	onDrop   func(streamID, reader string)
	received atomic.Uint64
}

func newStream(id string, tracks []Track, onDrop func(string, string)) *Stream {
	s := &Stream{id: id, tracks: append([]Track(nil), tracks...), ended: make(chan struct{}), onDrop: onDrop}
	s.readers.Store(&[]*Reader{})
	return s
}

// ID is the stream's key in the hub: the live input id, or for a
// rendition RenditionKey(live input id, rendition name).
func (s *Stream) ID() string { return s.id }

// Source is the live input's stream a rendition stream was made from; nil
// for a live input's own stream.
func (s *Stream) Source() *Stream { return s.source }

// Rendition is the rendition name of a rendition stream ("" for a live
// input's own stream).
func (s *Stream) Rendition() string { return s.rendition }

// Withdrawn reports whether a rendition stream ended because its producer
// gave up while the live input went on (RenditionPublisher.Remove): its
// consumers take it out of their outputs rather than end it.
func (s *Stream) Withdrawn() bool { return s.withdrawn.Load() }

// Tracks returns a copy of the current tracks with their latest codec
// parameters.
func (s *Stream) Tracks() []Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Track(nil), s.tracks...)
}

// Ended is closed when the stream has ended (publisher gone and the
// reconnect window passed, or the hub closed).
func (s *Stream) Ended() <-chan struct{} { return s.ended }

// Units is the number of units written so far.
func (s *Stream) Units() uint64 { return s.received.Load() }

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// QueueSize is the bounded queue length; 0 means DefaultQueueSize.
	QueueSize int
}

// AddReader attaches a reader named name (used in metrics; keep the set of
// names small). The reader receives units written from now on; video starts at
// the next key frame, and after a drop a video track resumes at the next key
// frame so no decoder is fed a broken reference chain.
func (s *Stream) AddReader(name string, o ReaderOptions) *Reader {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	r := &Reader{name: name, s: s, ch: make(chan *Unit, o.QueueSize), done: make(chan struct{})}
	s.rmu.Lock()
	old := *s.readers.Load()
	next := make([]*Reader, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, r)
	s.readers.Store(&next)
	s.rmu.Unlock()
	return r
}

func (s *Stream) removeReader(r *Reader) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	old := *s.readers.Load()
	next := make([]*Reader, 0, len(old))
	for _, x := range old {
		if x != r {
			next = append(next, x)
		}
	}
	s.readers.Store(&next)
}

// write fans u out to every reader without blocking. Callers serialise
// writes (one publisher at a time, enforced by the Hub).
func (s *Stream) write(u *Unit) {
	s.wmu.Lock() // held only across non-blocking sends
	defer s.wmu.Unlock()
	s.received.Add(1)
	if u.Codec != nil && u.Track < len(s.tracks) {
		s.mu.Lock()
		s.tracks[u.Track].Codec = u.Codec
		s.mu.Unlock()
	}
	video := u.Track < len(s.tracks) && s.tracks[u.Track].Kind() == KindVideo
	for _, r := range *s.readers.Load() {
		r.offer(u, video)
	}
}

func (s *Stream) end() {
	s.endOnce.Do(func() { close(s.ended) })
}

// Reader is one consumer of a Stream with its own bounded queue.
type Reader struct {
	name string
	s    *Stream
	ch   chan *Unit
	done chan struct{}
	once sync.Once

	// only touched by the writer goroutine
	started bool
	needKey bool
	dropped atomic.Uint64
}

func (r *Reader) offer(u *Unit, video bool) {
	if video {
		if !r.started || r.needKey {
			if !u.Key {
				return
			}
			r.started, r.needKey = true, false
		}
	}
	select {
	case r.ch <- u:
	default:
		r.dropped.Add(1)
		if video {
			r.needKey = true
		}
		if r.s.onDrop != nil {
			r.s.onDrop(r.s.id, r.name)
		}
	}
}

// Name is the reader's name.
func (r *Reader) Name() string { return r.name }

// Dropped is the number of units this reader lost because its queue was full.
func (r *Reader) Dropped() uint64 { return r.dropped.Load() }

// Next returns the next unit, blocking until one is queued. After the stream
// has ended it drains the queue and then returns ErrEnded; after Close or ctx
// cancellation it returns the corresponding error.
func (r *Reader) Next(ctx context.Context) (*Unit, error) {
	select {
	case u := <-r.ch:
		return u, nil
	default:
	}
	select {
	case u := <-r.ch:
		return u, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.done:
		return nil, ErrEnded
	case <-r.s.ended:
		select {
		case u := <-r.ch:
			return u, nil
		default:
			return nil, ErrEnded
		}
	}
}

// Close detaches the reader; idempotent.
func (r *Reader) Close() {
	r.once.Do(func() {
		r.s.removeReader(r)
		close(r.done)
	})
}
