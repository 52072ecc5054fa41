package api

import (
	"net/http"
	"slices"
	"strings"
)

// listSessions pages the live publisher sessions of a live input by id,
// like every other list (limit, cursor, next_cursor).
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, _ *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	scope := "sessions\x00" + li.ID
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	all := s.rt.Sessions(li.ID)
	slices.SortFunc(all, func(a, b Session) int { return strings.Compare(a.ID, b.ID) })
	out := make([]Session, 0, min(limit, len(all)))
	for _, ss := range all {
		if after != "" && ss.ID <= after {
			continue
		}
		out = append(out, ss)
	}
	resp := listResponse{Data: out}
	if len(out) > limit {
		out = out[:limit]
		resp = listResponse{Data: out, NextCursor: s.cursors.encode(scope, out[limit-1].ID)}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// getSession answers one live publisher session.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, _ *principal) error {
	sid := r.PathValue("id")
	if !validID(sid) || !strings.HasPrefix(sid, "ses_") {
		return notFound("session")
	}
	sl, ok := s.rt.(SessionLookup)
	if !ok {
		return apiErr(http.StatusNotImplemented, CodeNotSupported, "this daemon cannot look sessions up")
	}
	ss, ok := sl.Session(sid)
	if !ok {
		return notFound("session")
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: ss})
	return nil
}
