// Package rungroup runs the long-lived components of the daemon as one
// group, in the manner of oklog/run (as Prometheus uses it), with one
// difference: the group stops its actors one at a time in the reverse order
// of Add, waiting for each to return before interrupting the one added
// before it. Components added first (the store) therefore outlive those
// added later that depend on them (ingest, the HTTP servers).
package rungroup

import (
	"errors"
	"fmt"
)

// Actor is one component: Execute runs it until it fails or is
// interrupted; Interrupt makes Execute return. Interrupt is called once,
// possibly before Execute has started doing anything, and must not block
// for long unless its blocking is the component's graceful stop.
type Actor struct {
	Name      string
	Execute   func() error
	Interrupt func(error)
}

// Group is a set of actors; the zero value is ready to use.
type Group struct {
	actors []Actor
}

// Add appends an actor; it is interrupted before every actor added earlier.
func (g *Group) Add(name string, execute func() error, interrupt func(error)) {
	g.actors = append(g.actors, Actor{Name: name, Execute: execute, Interrupt: interrupt})
}

// Len is the number of actors.
func (g *Group) Len() int { return len(g.actors) }

// Run starts every actor and waits for the first to return. It then
// interrupts the others in reverse order of Add, waiting for each to return
// before the next. It returns the first actor's error (wrapped with its
// name), nil when that actor returned nil.
func (g *Group) Run() error {
	if len(g.actors) == 0 {
		return nil
	}
	type result struct {
		i   int
		err error
	}
	done := make([]chan error, len(g.actors))
	first := make(chan result, len(g.actors))
	for i, a := range g.actors {
		done[i] = make(chan error, 1)
		go func() {
			err := a.Execute()
			done[i] <- err
			first <- result{i, err}
		}()
	}
	r := <-first
	returned := map[int]bool{r.i: true}
	cause := r.err
	if cause == nil {
		cause = errStopped
	}
	for i := len(g.actors) - 1; i >= 0; i-- {
		if returned[i] {
			<-done[i]
			continue
		}
		g.actors[i].Interrupt(cause)
		<-done[i]
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", g.actors[r.i].Name, r.err)
	}
	return nil
}

// errStopped is the interrupt cause when an actor returned without error
// (the daemon's context was cancelled).
var errStopped = errors.New("rungroup: stopped")
