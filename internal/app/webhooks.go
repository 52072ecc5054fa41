package app

import (
	"context"
	"sync"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// initWebhooks builds webhook delivery (issue 7).
func (a *App) initWebhooks(store.Store, *events.Bus) (api.WebhooksDeps, error) {
	return api.WebhooksDeps{}, nil
}

func (a *App) startWebhooks(context.Context, *sync.WaitGroup) {}

func (a *App) closeWebhooks() {}
