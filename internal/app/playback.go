package app

import (
	"net/http"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// initPlayback builds signed playback (issue 6).
func (a *App) initPlayback(store.Store, *events.Bus) (api.SigningDeps, error) {
	return api.SigningDeps{}, nil
}

// checkPlayback authorizes a playback request; today every live input is
// public and the path names it by id.
func (a *App) checkPlayback(_ http.ResponseWriter, _ *http.Request, idOrToken string) (string, bool) {
	return idOrToken, true
}

func (a *App) closePlayback() {}
