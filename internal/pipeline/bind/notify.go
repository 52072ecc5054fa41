package bind

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Notifier writes an event to the webhook outbox for one endpoint alone
// (webhook.Service.EmitTo); key names the node that sends it, so that a
// copy is queued once.
type Notifier interface {
	EmitTo(ctx context.Context, endpointID string, e events.Event, key string) error
}

// Subscriber is the event bus the notify.webhook nodes listen to
// (*events.Bus).
type Subscriber interface {
	Subscribe(events.SubscribeOptions) *events.Subscription
}

// notifyQueue is how many events may wait for the notifier; past it the
// bus cuts the subscription off, and notify subscribes again (the events
// in between are lost for the nodes, and logged).
const notifyQueue = 1024

// notifyTimeout bounds the outbox writes of one event.
const notifyTimeout = 10 * time.Second

// onEvents maps the events of `on` (`node.event`) onto event types: a
// source's connected, disconnected and errored are the live input's; a
// recorder's started and ready are recording.started and video.ready;
// errored of another node is live_input.errored.
var onEvents = map[string]events.Type{
	"connected":    events.LiveInputConnected,
	"disconnected": events.LiveInputDisconnected,
	"errored":      events.LiveInputErrored,
	"started":      events.RecordingStarted,
	"ready":        events.VideoReady,
}

// onTypes returns the event types a notify.webhook node's `on` names.
func onTypes(n manifest.Node) map[events.Type]bool {
	types := map[events.Type]bool{}
	for _, on := range n.On {
		_, ev, _ := strings.Cut(on, ".")
		if t, ok := onEvents[ev]; ok {
			types[t] = true
		}
	}
	return types
}

// notifyMatch keeps the events about a live input that `on` can name.
func notifyMatch(e events.Event) bool {
	if e.LiveInputID == "" {
		return false
	}
	if e.Type == events.LiveInputDeleted {
		return true // its thumbnails go (forget)
	}
	for _, t := range onEvents {
		if e.Type == t {
			return true
		}
	}
	return false
}

// subscribe subscribes to the events notify.webhook nodes can name.
func (r *Runtime) subscribe() *events.Subscription {
	return r.cfg.Bus.Subscribe(events.SubscribeOptions{Match: notifyMatch, Queue: notifyQueue})
}

// notify delivers the events of sub (subscribe) to notify.webhook nodes
// until Close: each event about a live input goes, through the outbox,
// to the endpoint of every notify.webhook node of the pipeline bound to
// that input whose `on` names it. It runs here rather than in the node
// because some of those events (a recording's video.ready, the source's
// disconnected) follow the end of the broadcast and its graph.
//
// It also removes the thumbnails of deleted live inputs: those deleted
// while it runs as their event comes, those deleted before once at its
// start.
func (r *Runtime) notify(sub *events.Subscription) {
	defer close(r.notifyDone)
	if t := r.cfg.Thumbnails; t != nil {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		t.Sweep(ctx, r.liveInputExists)
		cancel()
	}
	for {
		cut := r.drain(sub)
		sub.Close()
		if !cut {
			return
		}
		r.log.Warn("pipeline webhooks fell behind the events; some were not delivered", "error", sub.Err())
		sub = r.subscribe()
	}
}

// drain delivers the events of sub until Close (false) or until the bus
// cut sub off (true when it is still open).
func (r *Runtime) drain(sub *events.Subscription) bool {
	for {
		select {
		case e := <-sub.C():
			r.deliver(e)
		case <-sub.Done():
			return !errors.Is(sub.Err(), events.ErrClosed)
		case <-r.stop:
			return false
		}
	}
}

// deliver writes e to the outbox for the endpoint of each notify.webhook
// node that wants it.
func (r *Runtime) deliver(e events.Event) {
	if e.Type == events.LiveInputDeleted {
		if t := r.cfg.Thumbnails; t != nil {
			if err := t.Forget(e.LiveInputID); err != nil {
				r.log.Warn("thumbnails of a deleted live input not removed", "live_input", e.LiveInputID, "error", err)
			}
		}
		return
	}
	if r.cfg.Notify == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	name, hooks := r.hooks(ctx, e.LiveInputID)
	for _, n := range hooks {
		if !onTypes(n)[e.Type] {
			continue
		}
		whk, _ := n.Config["webhook"].(string)
		if err := r.cfg.Notify.EmitTo(ctx, whk, e, name+"/"+n.ID); err != nil {
			r.log.Warn("pipeline webhook not queued", "pipeline", name, "node", n.ID, "event", e.ID, "type", e.Type, "error", err)
		}
	}
}

// hooks returns the pipeline bound to live input li and its
// notify.webhook nodes: those of the generation its live graph runs (a
// node its `when` leaves out sends nothing), or, after the broadcast, of
// the stored pipeline.
func (r *Runtime) hooks(ctx context.Context, li string) (string, []manifest.Node) {
	r.mu.Lock()
	lg := r.graphs[li]
	var name string
	var m *manifest.Manifest
	var running map[string]struct{}
	if lg != nil && lg.bound {
		name, m, running = lg.pipeline, lg.m, lg.plan.index
	}
	r.mu.Unlock()
	if m == nil {
		p, err := r.cfg.Pipelines.Bound(ctx, li)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				r.log.Error("pipeline binding unreadable; its webhooks are not sent", "live_input", li, "error", err)
			}
			return "", nil
		}
		if m, err = manifest.Decode([]byte(p.Manifest)); err != nil {
			r.log.Error("stored pipeline unreadable; its webhooks are not sent", "live_input", li, "pipeline", p.Name, "error", err)
			return "", nil
		}
		name = p.Name
	}
	var out []manifest.Node
	for _, n := range m.Spec.Nodes {
		if n.Type != "notify.webhook" {
			continue
		}
		if _, ok := running[n.ID]; running != nil && !ok {
			continue
		}
		out = append(out, n)
	}
	return name, out
}

// liveInputExists reports whether live input id is stored.
func (r *Runtime) liveInputExists(ctx context.Context, id string) (bool, error) {
	_, err := r.cfg.LiveInputs.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
