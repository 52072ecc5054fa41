package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtsp/rtsptest"
)

// Camera is the RTSP camera of -protocol rtsp-pull: an in-process RTSP
// server (rtsptest) that ffmpeg feeds with the test file in a loop, in
// real time, and that serves that one stream to every live input the
// daemon pulls from it (DESCRIBE/SETUP/PLAY over TCP).
type Camera struct {
	cam  *rtsptest.Camera
	feed *Publisher
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// StartCamera starts the camera on a free loopback port and its feed, and
// waits until the stream is served (at most 20 s).
func StartCamera(ctx context.Context, ffmpeg, file string, stats *Stats, log *slog.Logger) (*Camera, error) {
	cam, err := rtsptest.Start("127.0.0.1:0", "", "")
	if err != nil {
		return nil, fmt.Errorf("camera: %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	c := &Camera{cam: cam, stop: cancel, feed: &Publisher{FFmpeg: ffmpeg, File: file, Format: "rtsp",
		OutputArgs: []string{"-rtsp_transport", "tcp"}, URL: cam.PublishURL(), Stats: stats, Log: log.With("role", "camera feed")}}
	c.wg.Go(func() { c.feed.Run(fctx) })
	deadline := time.Now().Add(20 * time.Second)
	for !cam.Publishing() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.Close()
			return nil, fmt.Errorf("camera: ffmpeg did not start publishing to %s", cam.PublishURL())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c, nil
}

// URL is where the daemon pulls the camera.
func (c *Camera) URL() string { return c.cam.URL("", "") }

// Dropped is the number of packets the camera could not send to a
// puller (its write queue was full): a figure with drops is not valid.
func (c *Camera) Dropped() int { return c.cam.Dropped() }

// Readers is the number of sessions playing the camera now.
func (c *Camera) Readers() int { return c.cam.Readers() }

// Feed is the ffmpeg process feeding the camera (its CPU counts as the
// publishers').
func (c *Camera) Feed() publisher { return c.feed }

// Close stops the feed and the camera; idempotent.
func (c *Camera) Close() {
	c.stop()
	c.wg.Wait()
	c.cam.Close()
}
