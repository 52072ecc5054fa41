package api

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/mpegflow/mpegflow/internal/events"
)

// The service layer as other front ends (internal/rpc: gRPC, gRPC-Web and
// Connect) call it. Every operation runs the code of its REST route: the
// same authentication and scopes, validation, store calls, events and
// renderer; only the transport differs. Objects come back as the JSON the
// REST API answers (the one renderer per resource), errors as *Error.

// Caller is an authenticated API token with its effective scopes.
type Caller struct{ p *principal }

// Authorize authenticates r (Authorization: Bearer) and checks that its
// token holds scope, exactly as every REST route does (rate limits
// included).
func (s *Server) Authorize(r *http.Request, scope string) (*Caller, error) {
	p, err := s.authenticate(r)
	if err == nil {
		err = s.authorize(p, scope)
	}
	if err != nil {
		return nil, err
	}
	return &Caller{p: p}, nil
}

// View is one rendered object and its ETag ("" when it has none).
type View struct {
	JSON json.RawMessage
	ETag string
}

// withIfMatch returns r carrying ifMatch as its If-Match header ("" none).
func withIfMatch(r *http.Request, ifMatch string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("If-Match")
	if ifMatch != "" {
		r2.Header.Set("If-Match", ifMatch)
	}
	return r2
}

// CreateLiveInput is POST /v1/live_inputs with body (JSON).
func (s *Server) CreateLiveInput(r *http.Request, c *Caller, body []byte) (View, error) {
	li, err := s.createLiveInputOp(r, c.p, body)
	if err != nil {
		return View{}, err
	}
	return s.renderInput(r, c, li.ID)
}

// GetLiveInput is GET /v1/live_inputs/{id}.
func (s *Server) GetLiveInput(r *http.Request, c *Caller, id string) (View, error) {
	return s.renderInput(r, c, id)
}

// renderInput reads live input id and renders it as the REST API does.
func (s *Server) renderInput(r *http.Request, c *Caller, id string) (View, error) {
	li, err := s.getInput(r.Context(), id)
	if err != nil {
		return View{}, err
	}
	b, err := json.Marshal(s.inputJSON(r, c.p, li))
	if err != nil {
		return View{}, err
	}
	return View{JSON: b, ETag: etag(li)}, nil
}

// ListLiveInputs is GET /v1/live_inputs with the query q (limit, cursor,
// status, name); it returns the items and the next cursor ("" at the end).
func (s *Server) ListLiveInputs(r *http.Request, c *Caller, q url.Values) ([]json.RawMessage, string, error) {
	resp, err := s.listLiveInputsOp(r, c.p, q)
	if err != nil {
		return nil, "", err
	}
	items := resp.Data.([]liveInputJSON)
	out := make([]json.RawMessage, len(items))
	for i, li := range items {
		out[i], _ = json.Marshal(li)
	}
	return out, resp.NextCursor, nil
}

// UpdateLiveInput is PATCH /v1/live_inputs/{id} with a JSON merge patch,
// under ifMatch ("" = unconditional).
func (s *Server) UpdateLiveInput(r *http.Request, c *Caller, id, ifMatch string, patch []byte) (View, error) {
	r = withIfMatch(r, ifMatch)
	li, err := s.patchLiveInputOp(r, c.p, id, patch)
	if err != nil {
		return View{}, err
	}
	return s.renderInput(r, c, li.ID)
}

// DeleteLiveInput is DELETE /v1/live_inputs/{id} under ifMatch.
func (s *Server) DeleteLiveInput(r *http.Request, c *Caller, id, ifMatch string) error {
	return s.deleteLiveInputOp(withIfMatch(r, ifMatch), c.p, id)
}

// Subscription is a stream of events.
type Subscription = events.Subscription

// WatchEvents subscribes to the events GET /v1/events would send for the
// filter q (type, live_input_id); the caller closes the subscription.
func (s *Server) WatchEvents(c *Caller, q url.Values) (*Subscription, error) {
	types, liID, err := eventFilterOf(q)
	if err != nil {
		return nil, err
	}
	return s.bus.Subscribe(events.SubscribeOptions{Match: events.Filter(types, liID), Queue: wsQueue}), nil
}

// Done ends event streams on Close.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }
