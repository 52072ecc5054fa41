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

func TestSlowTargetDropsToKeyFrame(t *testing.T) {
	src := newSource(t, 100)
	fast := src.stream().AddReader("fast", stream.ReaderOptions{})
	defer fast.Close()
	slow := &slowSession{delay: 40 * time.Millisecond, done: make(chan struct{})}
	o := New(Config{ID: "out_slow", LiveInputID: "li_source", QueueSize: 8, Logger: testLog(),
		Target: Target{URL: "rtmp://127.0.0.1:1/live", StreamKey: "k"}})
	o.connect = func(context.Context, *stream.Stream) (session, error) { return slow, nil }
	runOutput(t, o, src.stream())
	waitState(t, o, StateBroadcasting, 5*time.Second)
	time.Sleep(3 * time.Second)
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
