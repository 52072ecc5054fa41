package app

import (
	"context"
	"sync"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store"
)

// initRecording builds recording and the videos API (issue 8).
func (a *App) initRecording(store.Store, *events.Bus) (api.VideosDeps, error) {
	return api.VideosDeps{}, nil
}

// onSegment receives every completed HLS segment of every live stream
// (hls.Hooks.OnSegmentComplete); it must not block.
func (a *App) onSegment(liveInput string, seg hls.SegmentInfo) {}

func (a *App) recordingSinks(streamLike) []pipeline.Sink { return nil }

func (a *App) startRecording(context.Context, *sync.WaitGroup) {}

func (a *App) closeRecording() {}
