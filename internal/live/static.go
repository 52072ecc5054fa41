package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/store"
)

// ImportStatic makes the stored static live inputs those of the
// configuration (entries, their "auto" keys resolved): created or updated
// (Static=true, the configuration's name and key), and those no longer
// configured deleted. A live input created over the API with the id of a
// configured one is taken over by the configuration.
func ImportStatic(ctx context.Context, lis store.LiveInputs, entries []auth.StaticEntry, log *slog.Logger) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	want := map[string]bool{}
	for i, e := range entries {
		want[e.ID] = true
		hash := api.HashSecret(e.StreamKey)
		li, err := lis.Get(ctx, e.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			li = &store.LiveInput{ID: e.ID, Name: e.Name, Meta: map[string]any{}, Enabled: true, StreamKey: e.StreamKey, StreamKeyHash: hash,
				SRTPassphrase: e.SRTPassphrase, Recording: store.Recording{Mode: store.RecordingOff}, AllowedOrigins: []string{},
				Static: true, Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := lis.Create(ctx, li); err != nil {
				return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
		}
		if li.Static && li.Name == e.Name && li.StreamKey == e.StreamKey && li.SRTPassphrase == e.SRTPassphrase && li.Enabled {
			continue
		}
		if !li.Static {
			log.Warn("a live input created over the API has the id of a configured one; the configuration wins", "live_input", e.ID)
		}
		li.Static, li.Name, li.StreamKey, li.StreamKeyHash, li.SRTPassphrase, li.Enabled = true, e.Name, e.StreamKey, hash, e.SRTPassphrase, true
		li.UpdatedAt = now
		if err := lis.Update(ctx, li); err != nil {
			return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
		}
	}
	var stale []string
	after := ""
	for {
		rows, more, err := lis.List(ctx, store.ListOptions{Limit: api.MaxLimit, After: after})
		if err != nil {
			return fmt.Errorf("live_inputs: import: %w", err)
		}
		for _, li := range rows {
			if li.Static && !want[li.ID] {
				stale = append(stale, li.ID)
			}
		}
		if !more || len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	for _, id := range stale {
		if err := lis.Delete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("live_inputs: remove %s: %w", id, err)
		}
		log.Info("removed a live input no longer in the configuration", "live_input", id)
	}
	return nil
}
