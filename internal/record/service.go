package record

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/mpegflow/mpegflow/internal/events"
)

// Subscriber is the event bus the recorder learns broadcast ends from.
type Subscriber interface {
	Subscribe(events.SubscribeOptions) *events.Subscription
}

// endsQueue is the room of the recorder's live_input.idle subscription.
const endsQueue = 4096

// Service runs a Recorder in the daemon: Run recovers the recordings a
// crash interrupted, runs the recorder and ends each broadcast's recording
// on its live_input.idle (published once the live input's graph drained,
// so after the last segment reached the recorder). Close stops taking
// events; Run then ends the broadcasts already announced, finishes what
// is queued and returns.
type Service struct {
	rec  *Recorder
	bus  Subscriber
	log  *slog.Logger
	mu   sync.Mutex
	sub  *events.Subscription
	done chan struct{}
	once sync.Once
}

// NewService subscribes to live_input.idle now, so that no broadcast that
// starts after it returns can end unseen.
func NewService(rec *Recorder, bus Subscriber, log *slog.Logger) *Service {
	s := &Service{rec: rec, bus: bus, log: log, done: make(chan struct{})}
	s.sub = s.subscribe()
	return s
}

func (s *Service) subscribe() *events.Subscription {
	return s.bus.Subscribe(events.SubscribeOptions{Match: events.Filter([]events.Type{events.LiveInputIdle}, ""), Queue: endsQueue})
}

// Recorder is the recorder the service runs.
func (s *Service) Recorder() *Recorder { return s.rec }

// Run runs until Close (or the bus closes); it returns nil.
func (s *Service) Run(ctx context.Context) error {
	s.rec.Run(ctx)
	defer s.rec.Stop()
	s.mu.Lock()
	sub := s.sub
	s.mu.Unlock()
	for {
		select {
		case e := <-sub.C():
			s.rec.End(e.LiveInputID)
		case <-sub.Done():
			s.drain(sub)
			if !errors.Is(sub.Err(), events.ErrSlow) {
				return nil // closed, or the bus closed
			}
			s.mu.Lock()
			select {
			case <-s.done:
				s.mu.Unlock()
				return nil
			default:
			}
			s.log.Warn("recorder fell behind the event bus; resubscribing")
			s.sub = s.subscribe()
			sub = s.sub
			s.mu.Unlock()
		}
	}
}

func (s *Service) drain(sub *events.Subscription) {
	for {
		select {
		case e := <-sub.C():
			s.rec.End(e.LiveInputID)
		default:
			return
		}
	}
}

// Close makes Run end the broadcasts already announced, finish the
// recordings and return; idempotent.
func (s *Service) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.sub.Close()
		s.mu.Unlock()
	})
}
