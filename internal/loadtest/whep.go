package loadtest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
)

// WHEPViewer plays a live input over WHEP (draft-ietf-wish-whep) in
// process with pion (wheptest): it offers H.264 + Opus, records the time
// from the offer to the first complete key frame, and stays connected
// until ctx is done (then DELETE). An offer refused with 409 not_live is
// retried every half second; other failures count as "whep_exit" errors
// and are retried after a second.
type WHEPViewer struct {
	Endpoint string // http://host:port/whep/ID
	Token    string // playback token (bearer), optional
	Stats    *WHEPStats
	Log      *slog.Logger
}

// Run plays until ctx is done.
func (v *WHEPViewer) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := v.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		var se *wheptest.StatusError
		if errors.As(err, &se) && se.Code == http.StatusConflict && strings.Contains(se.Body, "not_live") {
			sleepCtx(ctx, 500*time.Millisecond)
			continue
		}
		v.Stats.error()
		v.Log.Debug("whep viewer failed, restarting", "err", err)
		sleepCtx(ctx, time.Second)
	}
}

func (v *WHEPViewer) runOnce(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := wheptest.Dial(dctx, v.Endpoint, wheptest.Options{Token: v.Token})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(cctx)
		v.Stats.frames(c.VideoFrames())
	}()
	ttff, err := c.WaitKeyFrame(dctx)
	if err != nil {
		return err
	}
	v.Stats.firstFrame(ttff)
	<-ctx.Done()
	return nil
}

// WHEPStats collects what the WHEP viewers saw.
type WHEPStats struct {
	mu      sync.Mutex
	ttff    []float64 // ms
	nframes int64
	errs    int64
}

func (s *WHEPStats) firstFrame(d time.Duration) {
	s.mu.Lock()
	s.ttff = append(s.ttff, float64(d.Microseconds())/1000)
	s.mu.Unlock()
}

func (s *WHEPStats) frames(n int64) {
	s.mu.Lock()
	s.nframes += n
	s.mu.Unlock()
}

func (s *WHEPStats) error() {
	s.mu.Lock()
	s.errs++
	s.mu.Unlock()
}

// summary returns the time-to-first-frame percentiles, the video frames
// received and the failed sessions.
func (s *WHEPStats) summary() (LatencySummary, int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(append([]float64(nil), s.ttff...)), s.nframes, s.errs
}
