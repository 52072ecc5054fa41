package app

import (
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/output/restream"
)

// wireRestream builds the restream outputs: a node of every live input's
// graph runs the input's outputs (source or a ladder rung from the hub)
// on the node that holds its publisher, from the stream's start to its
// end; a publisher's reconnect inside the window keeps them running.
// Targets are dialed through the SSRF guard unless
// restream.allow_private_targets.
func wireRestream(b *Builder) error {
	allow := b.Config.Restream.AllowPrivateTargets
	if allow {
		b.Log.Warn("restream output URLs may target private and loopback addresses (restream.allow_private_targets)")
	}
	m := restream.NewManager(restream.ManagerConfig{
		Store:      b.Store.Outputs(),
		Renditions: b.Hub,
		Notifier:   api.OutputNotifier{Events: b.Events},
		Logger:     b.Log.With("component", "restream"),
		Output:     restream.Config{Guard: netguard.New(netguard.Config{AllowPrivate: allow})},
	})
	b.Outputs = api.OutputsDeps{Runtime: m}
	b.Kinds.Register(m.Kind())
	stop := make(chan struct{})
	b.Actor("restream", func() error { <-stop; return nil }, func(error) {
		m.Close() // every output stops; their events reach the outbox
		close(stop)
	})
	return nil
}
