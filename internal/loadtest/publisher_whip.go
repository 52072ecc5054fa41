package loadtest

import (
	"context"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// WHIPPublisher publishes to a WHIP endpoint (RFC 9725) in process with
// pion (whiptest): H.264 access units and Opus packets paced in real time,
// the media looped forever in one session. If the session cannot be set up
// or fails, it is closed, counted as a "publisher_exit" error and dialled
// again after a second.
type WHIPPublisher struct {
	Endpoint string // http://host:port/whip/ID
	Key      string // bearer token (the stream key)
	H264     []byte // Annex B, no B-frames
	FPS      int
	Opus     [][]byte
	Stats    *Stats
	Log      *slog.Logger
}

// PID is always 0: the publisher runs inside the load tool (its CPU counts
// as the load tool's).
func (p *WHIPPublisher) PID() int { return 0 }

// Run publishes until ctx is done; the session is deleted (DELETE) and
// closed before it returns.
func (p *WHIPPublisher) Run(ctx context.Context) {
	for exits := 0; ctx.Err() == nil; exits++ {
		err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		p.Stats.Error("publisher_exit")
		level := slog.LevelWarn
		if exits%10 != 0 {
			level = slog.LevelDebug
		}
		p.Log.Log(ctx, level, "whip publisher failed, restarting", "exits", exits+1, "err", err)
		sleepCtx(ctx, time.Second)
	}
}

func (p *WHIPPublisher) runOnce(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	s, err := whiptest.Dial(dctx, p.Endpoint, p.Key, whiptest.Options{NoAudio: len(p.Opus) == 0})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		// A fresh context: ctx is usually done by now.
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Delete(dctx); err != nil {
			p.Log.Debug("whip delete", "err", err)
		}
		_ = s.Close()
	}()
	for ctx.Err() == nil {
		// The sample tracks keep their RTP clocks across calls: one
		// continuous broadcast.
		if err := s.Stream(ctx, p.H264, p.FPS, p.Opus); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}
