package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/store"
)

// List limits (?limit=).
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// maxScanPages bounds the store pages one filtered list request reads;
	// a page may then hold fewer items than limit, with a next_cursor.
	maxScanPages = 10
	// filterPageSize is the store page size of a list filtered by a
	// runtime status.
	filterPageSize = 500
)

const updateAttempts = 3

func parseLimit(r *http.Request) (int, error) { return limitOf(r.URL.Query()) }

// limitOf reads ?limit= of q: DefaultLimit when absent.
func limitOf(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, paramErr("limit", "limit must be an integer from 1 to "+strconv.Itoa(MaxLimit))
	}
	return n, nil
}

func (s *Server) getInput(ctx context.Context, id string) (*store.LiveInput, error) {
	if !validID(id) {
		return nil, notFound("live input")
	}
	li, err := s.st.LiveInputs().Get(ctx, id)
	if err != nil {
		return nil, storeErr(err, "live input")
	}
	return li, nil
}

func (s *Server) writeInput(w http.ResponseWriter, r *http.Request, p *principal, status int, li *store.LiveInput) {
	w.Header().Set("ETag", etag(li))
	writeJSON(w, status, dataResponse{Data: s.inputJSON(r, p, li)})
}

// inputJSON renders one live input for p: with secrets and signed playback
// URLs when p may write live inputs.
func (s *Server) inputJSON(r *http.Request, p *principal, li *store.LiveInput) liveInputJSON {
	out := s.toJSON(li, r, p.seesSecrets())
	if li.RequireSignedURLs && p.seesSecrets() {
		s.signPlayback(r, li.ID, &out.Playback, out.WebRTCPlayback)
	}
	return out
}

func (s *Server) createLiveInput(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	li, err := s.createLiveInputOp(r, p, body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/live_inputs/"+li.ID)
	s.writeInput(w, r, p, http.StatusCreated, li)
	return nil
}

// createLiveInputOp creates a live input from a JSON body (the service
// layer under REST and gRPC).
func (s *Server) createLiveInputOp(r *http.Request, p *principal, body []byte) (*store.LiveInput, error) {
	var req liveInputCreate
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	key := NewStreamKey()
	li := &store.LiveInput{
		ID: ids.New("li", now), Meta: map[string]any{}, Enabled: true,
		StreamKey: key, StreamKeyHash: HashSecret(key), SRTPassphrase: NewSRTPassphrase(),
		Recording: store.Recording{Mode: store.RecordingOff}, AllowedOrigins: []string{},
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	req.apply(li)
	if !validSRTPassphrase(li.SRTPassphrase) {
		return nil, fieldErr(CodeValidation, "srt.passphrase", "srt.passphrase must be 10-79 printable ASCII characters, or \"\" for no encryption")
	}
	if err := validateLiveInput(li); err != nil {
		return nil, err
	}
	if err := s.validateTranscode(li); err != nil {
		return nil, err
	}
	var ev events.Event
	if err := s.st.LiveInputs().CreateEmitting(r.Context(), li, s.liveInputEvent(events.LiveInputCreated, &ev)); err != nil {
		return nil, storeErr(err, "live input")
	}
	s.log.Info("live input created", "live_input", li.ID, "token", p.tok.ID)
	s.bus.Publish(ev)
	return li, nil
}

func (s *Server) getLiveInput(w http.ResponseWriter, r *http.Request, p *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeInput(w, r, p, http.StatusOK, li)
	return nil
}

func (s *Server) listLiveInputs(w http.ResponseWriter, r *http.Request, p *principal) error {
	resp, err := s.listLiveInputsOp(r, p, r.URL.Query())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// listLiveInputsOp answers a page of live inputs for the query q (limit,
// cursor, status, name).
func (s *Server) listLiveInputsOp(r *http.Request, p *principal, q url.Values) (listResponse, error) {
	var resp listResponse
	limit, err := limitOf(q)
	if err != nil {
		return resp, err
	}
	status, name := q.Get("status"), q.Get("name")
	switch status {
	case "", StatusIdle, StatusConnected, StatusReconnecting, StatusDisabled:
	default:
		return resp, paramErr("status", "status must be one of idle, connected, reconnecting, disabled")
	}
	if len(name) > maxNameLen {
		return resp, paramErr("name", "name is too long")
	}
	scope := "live_inputs\x00" + status + "\x00" + name
	after, err := s.cursors.decode(scope, q.Get("cursor"))
	if err != nil {
		return resp, err
	}
	opts := store.ListOptions{Limit: limit, Name: name}
	if status != "" {
		enabled := status != StatusDisabled
		opts.Enabled = &enabled
		if enabled {
			// The runtime status is not stored: read wider pages and filter.
			opts.Limit = max(limit, filterPageSize)
		}
	}
	secrets := p.seesSecrets()
	out := make([]liveInputJSON, 0, min(limit, 64))
	next := ""
	for page := 0; ; page++ {
		opts.After = after
		rows, more, err := s.st.LiveInputs().List(r.Context(), opts)
		if err != nil {
			return resp, storeErr(err, "live inputs")
		}
		full := false
		for i, li := range rows {
			after = li.ID
			j := s.toJSON(li, r, secrets)
			if status != "" && j.Status != status {
				continue
			}
			out = append(out, j)
			if len(out) == limit {
				full = true
				if i < len(rows)-1 || more {
					next = after
				}
				break
			}
		}
		if full || !more {
			break
		}
		if page+1 >= maxScanPages {
			next = after
			break
		}
	}
	resp = listResponse{Data: out}
	if next != "" {
		resp.NextCursor = s.cursors.encode(scope, next)
	}
	return resp, nil
}

// update reads live input id, lets change modify it, and stores it with a
// live_input.updated event (*ev, to publish), retrying on a concurrent
// update unless the client sent If-Match.
func (s *Server) update(r *http.Request, id string, ev *events.Event, change func(li *store.LiveInput) error) (before, after *store.LiveInput, err error) {
	for attempt := 0; ; attempt++ {
		li, err := s.getInput(r.Context(), id)
		if err != nil {
			return nil, nil, err
		}
		if li.Static {
			return nil, nil, apiErr(http.StatusConflict, CodeStaticLiveInput,
				"live input "+li.ID+" is declared in the configuration file (live_inputs); change it there")
		}
		if err := checkIfMatch(r, li); err != nil {
			return nil, nil, err
		}
		old := *li
		if err := change(li); err != nil {
			return nil, nil, err
		}
		li.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		err = s.st.LiveInputs().UpdateEmitting(r.Context(), li, s.liveInputEvent(events.LiveInputUpdated, ev))
		if errors.Is(err, store.ErrPrecondition) && r.Header.Get("If-Match") == "" && attempt+1 < updateAttempts {
			continue
		}
		if err != nil {
			return nil, nil, storeErr(err, "live input")
		}
		return &old, li, nil
	}
}

func (s *Server) patchLiveInput(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	li, err := s.patchLiveInputOp(r, p, r.PathValue("id"), body)
	if err != nil {
		return err
	}
	s.writeInput(w, r, p, http.StatusOK, li)
	return nil
}

// patchLiveInputOp applies a JSON merge patch to live input id under
// r's If-Match.
func (s *Server) patchLiveInputOp(r *http.Request, p *principal, id string, body []byte) (*store.LiveInput, error) {
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	var ev events.Event
	before, li, err := s.update(r, id, &ev, func(li *store.LiveInput) error {
		prev := li.Transcode
		if err := applyMergePatch(li, body); err != nil {
			return err
		}
		if err := validateLiveInput(li); err != nil {
			return err
		}
		if prev.Mode != li.Transcode.Mode || strings.Join(prev.Ladder, "\x00") != strings.Join(li.Transcode.Ladder, "\x00") {
			// a stored ladder stays valid when profiles are renamed later
			return s.validateTranscode(li)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("live input updated", "live_input", li.ID, "token", p.tok.ID)
	if before.Enabled && !li.Enabled {
		// Stored first, so the reconnecting encoder is refused; then cut.
		if err := s.rt.End(li.ID); err != nil && !errors.Is(err, ErrNotSupported) {
			s.log.Warn("cannot end the broadcast of a disabled live input", "live_input", li.ID, "error", err)
		}
	}
	s.bus.Publish(ev)
	return li, nil
}

func (s *Server) deleteLiveInput(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := s.deleteLiveInputOp(r, p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteLiveInputOp deletes live input id under r's If-Match and ends its
// broadcast.
func (s *Server) deleteLiveInputOp(r *http.Request, p *principal, id string) error {
	li, err := s.getInput(r.Context(), id)
	if err != nil {
		return err
	}
	if li.Static {
		return apiErr(http.StatusConflict, CodeStaticLiveInput,
			"live input "+li.ID+" is declared in the configuration file (live_inputs); remove it there")
	}
	if err := checkIfMatch(r, li); err != nil {
		return err
	}
	var ev events.Event
	if err := s.st.LiveInputs().DeleteEmitting(r.Context(), li.ID, s.liveInputEvent(events.LiveInputDeleted, &ev)); err != nil {
		return storeErr(err, "live input")
	}
	s.bus.Publish(ev)
	if err := s.rt.End(li.ID); err != nil && !errors.Is(err, ErrNotSupported) {
		s.log.Warn("cannot end the broadcast of a deleted live input", "live_input", li.ID, "error", err)
	}
	s.log.Info("live input deleted", "live_input", li.ID, "token", p.tok.ID)
	return nil
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := readBody(w, r, true); err != nil {
		return err
	}
	var ev events.Event
	_, li, err := s.update(r, r.PathValue("id"), &ev, func(li *store.LiveInput) error {
		key := NewStreamKey()
		li.StreamKey, li.StreamKeyHash = key, HashSecret(key)
		if li.SRTPassphrase != "" {
			li.SRTPassphrase = NewSRTPassphrase()
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		li.KeysRotatedAt = &now
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("live input keys rotated", "live_input", li.ID, "token", p.tok.ID)
	s.bus.Publish(ev)
	for _, ss := range s.rt.Sessions(li.ID) {
		if _, err := s.rt.Kick(ss.ID); err == nil {
			s.emit(r.Context(), events.New(events.LiveInputErrored, li.ID,
				s.LiveInputErrorData(li, "key_rotated", "the stream key was rotated; the publisher was disconnected")))
		}
	}
	s.writeInput(w, r, p, http.StatusOK, li)
	return nil
}

func (s *Server) completeLiveInput(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := readBody(w, r, true); err != nil {
		return err
	}
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if s.rt.Status(li.ID) == StatusIdle {
		return apiErr(http.StatusConflict, CodeNoPublisher, "live input "+li.ID+" has no broadcast to complete")
	}
	if err := s.rt.End(li.ID); err != nil {
		if errors.Is(err, ErrNotSupported) {
			return apiErr(http.StatusNotImplemented, CodeNotSupported, "this daemon cannot end broadcasts")
		}
		return err
	}
	s.log.Info("live input broadcast completed", "live_input", li.ID, "token", p.tok.ID)
	s.writeInput(w, r, p, http.StatusOK, li)
	return nil
}

func (s *Server) kickSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	sid := r.PathValue("id")
	if !validID(sid) || !strings.HasPrefix(sid, "ses_") {
		return notFound("session")
	}
	// the data of session.kicked: the session as the API lists it
	obj := SessionObject{SessionID: sid}
	if sl, ok := s.rt.(SessionLookup); ok {
		if ss, ok := sl.Session(sid); ok {
			obj = SessionObject{Session: &ss}
		}
	}
	liID, err := s.rt.Kick(sid)
	switch {
	case errors.Is(err, ErrNoSession):
		return notFound("session")
	case errors.Is(err, ErrNotSupported):
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "this daemon cannot disconnect publishers")
	case err != nil:
		return err
	}
	s.log.Info("publisher session kicked", "live_input", liID, "session", sid, "token", p.tok.ID)
	s.emit(r.Context(), events.New(events.SessionKicked, liID, obj))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
