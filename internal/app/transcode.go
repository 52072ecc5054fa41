package app

import "github.com/mpegflow/mpegflow/internal/pipeline"

// initTranscode detects encoders (issue 9).
func (a *App) initTranscode() error { return nil }

func (a *App) transcodeSinks(streamLike) []pipeline.Sink { return nil }

func (a *App) closeTranscode() {}
