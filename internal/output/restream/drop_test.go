package restream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// slowSession takes delay per unit and records what it was given.
type slowSession struct {
	delay time.Duration
	mu    sync.Mutex
	units []*stream.Unit
	done  chan struct{}
}

func (s *slowSession) WriteUnit(u *stream.Unit) error {
	time.Sleep(s.delay)
	s.mu.Lock()
	s.units = append(s.units, u)
	s.mu.Unlock()
	return nil
}
func (s *slowSession) Done() <-chan struct{} { return s.done }
func (s *slowSession) Err() error            { return nil }
func (s *slowSession) BytesSent() uint64     { return 0 }
func (s *slowSession) Close()                {}

// keyAfter reports whether a video key frame was written at index from or
// later.
func (s *slowSession) keyAfter(from int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.units[min(from, len(s.units)):] {
		if u.Track == 0 && u.Key {
			return true
		}
	}
	return false
}

func (s *slowSession) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.units)
}

// A target slower than the stream drops (counted) and resumes video at a
// key frame, without making another reader of the stream drop.
//
// Waits for the drop and for a resume after it rather than for a fixed
// time: on a loaded machine the source may fall behind its 30 fps for a
// while, so the first drop comes later.
func TestSlowTargetDropsToKeyFrame(t *testing.T) {
	const within = 30 * time.Second
	src := newSource(t, 100)
	// another reader of the stream, keeping up with it
	fast := src.stream().AddReader("fast", stream.ReaderOptions{})
	defer fast.Close()
	fctx, fcancel := context.WithCancel(context.Background())
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			if _, err := fast.Next(fctx); err != nil {
				return
			}
		}
	}()
	defer func() { fcancel(); <-fastDone }()
	slow := &slowSession{delay: 40 * time.Millisecond, done: make(chan struct{})}
	o := New(Config{ID: "out_slow", LiveInputID: "li_source", QueueSize: 8, Logger: testLog(),
		Target: Target{URL: "rtmp://127.0.0.1:1/live", StreamKey: "k"}})
	o.connect = func(context.Context, *stream.Stream) (session, error) { return slow, nil }
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, within)
	// the first drop, then a key frame written after it: video resumed
	deadline := time.Now().Add(within)
	mark := -1
	for mark < 0 || !slow.keyAfter(mark) {
		if time.Now().After(deadline) {
			if mark < 0 {
				t.Fatalf("a slow target dropped nothing in %v (wrote %d units)", within, slow.written())
			}
			t.Fatalf("no key frame written in %v after the first drop", within)
		}
		if mark < 0 && o.Status().DroppedFrames > 0 {
			mark = slow.written()
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := o.Status()
	if st.DroppedFrames == 0 {
		t.Fatal("a slow target dropped nothing")
	}
	if fast.Dropped() != 0 {
		t.Fatalf("another reader dropped %d units because of the slow output", fast.Dropped())
	}
	// video resumes at a key frame after every gap
	slow.mu.Lock()
	defer slow.mu.Unlock()
	var last time.Duration = -1
	for _, u := range slow.units {
		if u.Track != 0 {
			continue
		}
		if last >= 0 && u.DTS-last > 40*time.Millisecond && !u.Key {
			t.Fatalf("video resumed at %v after a gap from %v without a key frame", u.DTS, last)
		}
		last = u.DTS
	}
	t.Logf("dropped %d units; wrote %d", st.DroppedFrames, len(slow.units))
}
