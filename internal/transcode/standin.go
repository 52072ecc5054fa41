package transcode

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Why a stream has no rung to stand in for its source (Standin). Their
// text is shown to players, so it says what to change.
var (
	// ErrNotTranscoded: the live input's transcode.mode is not "on".
	ErrNotTranscoded = errors.New("the live input is not transcoded: set its transcode.mode to on")
	// ErrAtCapacity: the ladder was refused for want of ffmpeg capacity;
	// the wrapping error has the figures and the remedy.
	ErrAtCapacity = errors.New("transcoding is at capacity")
	// ErrNoRung: the ladder planned no rung (the source is smaller than
	// every profile, its codec is not transcoded) or ffmpeg gave up.
	ErrNoRung = errors.New("the transcoder makes no rung of this stream")
)

// standin is what a Sink's planning decided: its top rung, or why none.
type standin struct {
	rung string
	err  error
}

// standins tracks the sinks of live streams for Standin, by source
// stream; entries of ended streams are dropped as new sinks come.
type standins struct {
	mu    sync.Mutex
	sinks map[*stream.Stream]*Sink
	added chan struct{} // closed (and replaced) when a sink is added
}

func (s *standins) add(k *Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sinks == nil {
		s.sinks = map[*stream.Stream]*Sink{}
	}
	for src := range s.sinks {
		select {
		case <-src.Ended():
			delete(s.sinks, src)
		default:
		}
	}
	s.sinks[k.s] = k
	if s.added != nil {
		close(s.added)
		s.added = nil
	}
}

// wait returns the sink of src, waiting for it to be added.
func (s *standins) wait(ctx context.Context, src *stream.Stream) (*Sink, error) {
	for {
		s.mu.Lock()
		k := s.sinks[src]
		if s.added == nil {
			s.added = make(chan struct{})
		}
		added := s.added
		s.mu.Unlock()
		if k != nil {
			return k, nil
		}
		select {
		case <-added:
		case <-src.Ended():
			return nil, stream.ErrEnded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// setStandin records the outcome of planning (the first call) or of
// giving up (a later one).
func (k *Sink) setStandin(rung string, err error) {
	k.mu.Lock()
	k.standin = standin{rung: rung, err: err}
	k.mu.Unlock()
	k.planOnce.Do(func() { close(k.planned) })
}

// Standin returns the name of the rendition that stands in for the video
// of live stream src where a player cannot take the source as it is
// (WebRTC cannot carry B-frames): its top rung, which like every rung has
// no B-frames. It waits until the transcoder planned the ladder (ctx
// bounds the wait), not until the rendition is in the hub
// (Hub.Rendition). Otherwise it returns an error wrapping
// ErrNotTranscoded (the live input's setting in settings), ErrAtCapacity
// or ErrNoRung. A stream just started may be in the hub before its graph
// built the transcode node: with the setting on, Standin waits for it.
func (t *Transcoder) Standin(ctx context.Context, settings pipeline.Settings, src *stream.Stream) (string, error) {
	li, err := settings.Get(ctx, src.ID())
	if err != nil {
		return "", fmt.Errorf("reading the transcode setting: %w", err)
	}
	if li.Transcode.Mode != modeOn {
		return "", ErrNotTranscoded
	}
	k, err := t.standins.wait(ctx, src)
	if err != nil {
		return "", err
	}
	select {
	case <-k.planned:
	case <-src.Ended():
		return "", stream.ErrEnded
	case <-ctx.Done():
		return "", ctx.Err()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.standin.rung, k.standin.err
}
