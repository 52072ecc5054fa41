package stream

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrBadRendition is returned by PublishRendition for an invalid name or
// a stream that is not a live input's own.
var ErrBadRendition = errors.New("stream: invalid rendition")

// RenditionKey is the hub key of rendition name of live input liveInput:
// "liveInput/name". Live input ids never contain "/".
func RenditionKey(liveInput, name string) string { return liveInput + "/" + name }

// PublishRendition publishes a rendition of s (for example a transcoded
// ladder rung) back into the hub as a stream of its own, keyed
// RenditionKey(s.ID(), name), with tracks (video first). The hub's
// OnRendition hook runs before PublishRendition returns, so the consumers
// the live input's graph attaches see the rendition's first unit. A
// rendition of the same key still published (a previous stream's) is
// replaced in the hub; it ends when its own publisher ends it.
func (s *Stream) PublishRendition(name string, tracks []Track) (*RenditionPublisher, error) {
	if name == "" || strings.Contains(name, "/") || s.source != nil {
		return nil, fmt.Errorf("%w: %q of %s", ErrBadRendition, name, s.id)
	}
	var onDrop func(string, string)
	if s.hub != nil {
		onDrop = s.hub.cfg.OnDrop
	}
	r := newStream(RenditionKey(s.id, name), tracks, onDrop)
	r.hub, r.source, r.rendition = s.hub, s, name
	if h := s.hub; h != nil {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrHubClosed
		}
		h.rends[r.id] = r
		h.mu.Unlock()
		if h.cfg.OnRendition != nil {
			h.cfg.OnRendition(r)
		}
	}
	return &RenditionPublisher{s: r}, nil
}

// RenditionPublisher is the write side of a rendition stream, held by the
// node that produces it.
type RenditionPublisher struct {
	s    *Stream
	once sync.Once
}

// Stream is the rendition stream.
func (p *RenditionPublisher) Stream() *Stream { return p.s }

// Write sends u to every reader of the rendition; it never blocks and
// never fails (a slow reader drops and counts).
func (p *RenditionPublisher) Write(u *Unit) error {
	p.s.write(u)
	return nil
}

// End ends the rendition with its live input's broadcast: readers drain
// what is queued and then see ErrEnded. Idempotent with Remove.
func (p *RenditionPublisher) End() { p.once.Do(p.finish) }

// Remove ends the rendition while the live input goes on (its producer
// gave up): Withdrawn reports true to the readers, which take it out of
// their outputs. Idempotent with End.
func (p *RenditionPublisher) Remove() {
	p.once.Do(func() {
		p.s.withdrawn.Store(true)
		p.finish()
	})
}

func (p *RenditionPublisher) finish() {
	if h := p.s.hub; h != nil {
		h.mu.Lock()
		if h.rends[p.s.id] == p.s {
			delete(h.rends, p.s.id)
		}
		h.mu.Unlock()
	}
	p.s.end()
}
