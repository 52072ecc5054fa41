package app

import (
	"context"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/output/restream"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// initRestream builds the restream manager: the outputs of a live input
// run on the node that holds its publisher, from the stream's start to its
// end (a publisher's reconnect inside the window keeps them running).
// Targets are dialed through the SSRF guard unless
// restream.allow_private_targets.
// Renditions of the transcode ladder are not streams of the hub yet, so
// outputs push the source; one naming a rung reports it unavailable.
func (a *App) initRestream(st store.Store, bus *events.Bus) api.OutputsDeps {
	allow := a.cfg.Restream.AllowPrivateTargets
	if allow {
		a.log.Warn("restream output URLs may target private and loopback addresses (restream.allow_private_targets)")
	}
	m := restream.NewManager(restream.ManagerConfig{
		Store:    st.Outputs(),
		Notifier: restreamNotifier{pub: a.eventPublisher(bus)},
		Logger:   a.log.With("component", "restream"),
		Output:   restream.Config{Guard: netguard.New(netguard.Config{AllowPrivate: allow})},
	})
	a.restream = m
	return api.OutputsDeps{Runtime: restreamRuntime{m}}
}

func (a *App) restreamStarted(s *stream.Stream) {
	if a.restream != nil {
		a.restream.Start(s)
	}
}

func (a *App) restreamEnded(s *stream.Stream) {
	if a.restream != nil {
		a.restream.End(s)
	}
}

// closeRestream stops every output; idempotent.
func (a *App) closeRestream() {
	if a.restream != nil {
		a.restream.Close()
	}
}

// restreamRuntime is the api.OutputsRuntime of the manager.
type restreamRuntime struct{ m *restream.Manager }

func (r restreamRuntime) OutputStatus(liveInputID, id string) (restream.Status, bool) {
	return r.m.Status(liveInputID, id)
}

func (r restreamRuntime) OutputsChanged(liveInputID string) { r.m.Changed(liveInputID) }

// restreamNotifier turns output events into live_input.output.* events
// (outbox for webhooks, then the bus), carrying the output as the API
// renders it: stream key masked.
type restreamNotifier struct {
	pub interface{ Publish(events.Event) }
}

func (n restreamNotifier) OutputEvent(_ context.Context, ev restream.Event, o *store.LiveInputOutput) {
	var t events.Type
	switch ev.Kind {
	case restream.EventConnected:
		t = events.OutputConnected
	case restream.EventDisconnected:
		t = events.OutputDisconnected
	case restream.EventErrored:
		t = events.OutputErrored
	default:
		return
	}
	n.pub.Publish(events.New(t, ev.LiveInputID, api.OutputData(o, ev.Status)))
}
