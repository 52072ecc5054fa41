package rtsp

import (
	"context"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Follow keeps ps in step with the live inputs that have a pull source
// until ctx is done, then closes ps: every enabled input with a source is
// pulled at start, then each one a live input event names is looked up
// again; after a missed event (the subscription was cut off) all of them
// are listed again. Credentials in source URLs are never logged.
func Follow(ctx context.Context, ps *Pullers, lis store.LiveInputs, bus *events.Bus, log *slog.Logger) {
	defer ps.Close()
	f := follower{ps: ps, lis: lis, log: log}
	for ctx.Err() == nil {
		sub := bus.Subscribe(events.SubscribeOptions{Match: events.Filter(
			[]events.Type{events.LiveInputCreated, events.LiveInputUpdated, events.LiveInputDeleted}, "")})
		f.all(ctx)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-sub.Done():
				break loop
			case ev := <-sub.C():
				f.one(ctx, ev.LiveInputID)
			}
		}
		sub.Close()
		if ctx.Err() == nil {
			t := time.NewTimer(time.Second) // a cut-off subscription: resubscribe and resync
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

type follower struct {
	ps  *Pullers
	lis store.LiveInputs
	log *slog.Logger
}

func (f follower) all(ctx context.Context) {
	want := map[string]bool{}
	after := ""
	for {
		rows, more, err := f.lis.List(ctx, store.ListOptions{Limit: 500, After: after})
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("rtsp pull: listing live inputs", "error", err)
			}
			return
		}
		for _, li := range rows {
			after = li.ID
			if li.Source != nil && li.Enabled {
				want[li.ID] = true
				f.set(li)
			}
		}
		if !more {
			break
		}
	}
	for _, id := range f.ps.IDs() {
		if !want[id] {
			f.ps.Remove(id)
		}
	}
}

func (f follower) one(ctx context.Context, id string) {
	li, err := f.lis.Get(ctx, id)
	if err != nil || li.Source == nil || !li.Enabled {
		f.ps.Remove(id)
		return
	}
	f.set(li)
}

func (f follower) set(li *store.LiveInput) {
	al := auth.LiveInput{ID: li.ID, Name: li.Name, ReconnectWindow: time.Duration(li.ReconnectWindowSeconds) * time.Second}
	src := Source{URL: li.Source.URL, Transport: li.Source.Transport, OnDemand: li.Source.OnDemand}
	if err := f.ps.Set(al, src); err != nil {
		f.log.Warn("rtsp pull not started", "live_input", li.ID, "error", err)
	}
}
