package webrtcice

import (
	"net/http"
	"strings"
)

// Resources routes the HTTP resources of a WHIP (RFC 9725 §4) or WHEP
// (draft-ietf-wish-whep §4) endpoint mounted at Prefix without stripping:
// POST and OPTIONS on Prefix+ID (the endpoint), DELETE, PATCH and OPTIONS
// on Prefix+ID/SESSION (the session resource), CORS headers on every
// response and 404 or 405 for the rest.
type Resources struct {
	// Prefix is the mount point, e.g. "/whip/".
	Prefix string
	// Name is the protocol as error messages say it ("WHIP").
	Name string
	// CORSOrigin is the Access-Control-Allow-Origin of every response.
	CORSOrigin string
	// SessionMethods are the methods a session resource allows, as
	// OPTIONS and 405 answers list them ("DELETE, OPTIONS").
	SessionMethods string
	// Error writes an error response with the endpoint's JSON body.
	Error func(w http.ResponseWriter, code int, word, msg string)
	// Post creates a session of live input id; Delete and Patch act on
	// session sid of live input id.
	Post          func(w http.ResponseWriter, r *http.Request, id string)
	Delete, Patch func(w http.ResponseWriter, r *http.Request, id, sid string)
}

// ServeHTTP implements http.Handler.
func (rs *Resources) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.cors(w)
	id, sid, n := rs.split(r.URL.Path)
	switch n {
	case 1:
		switch r.Method {
		case http.MethodOptions:
			options(w, "POST, OPTIONS")
		case http.MethodPost:
			rs.Post(w, r, id)
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			rs.Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST with an SDP offer")
		}
	case 2:
		switch r.Method {
		case http.MethodOptions:
			options(w, rs.SessionMethods)
		case http.MethodDelete:
			rs.Delete(w, r, id, sid)
		case http.MethodPatch:
			rs.Patch(w, r, id, sid)
		default:
			w.Header().Set("Allow", rs.SessionMethods)
			rs.Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "use DELETE to end the session")
		}
	default:
		rs.Error(w, http.StatusNotFound, "not_found", "no such "+rs.Name+" resource")
	}
}

// split returns the live input id and the session id of path, and how
// many of them there are (0 for anything else).
func (rs *Resources) split(path string) (id, sid string, n int) {
	rest, ok := strings.CutPrefix(path, rs.Prefix)
	if !ok || rest == "" {
		return "", "", 0
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1:
		return parts[0], "", 1
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], 2
	}
	return "", "", 0
}

func (rs *Resources) cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", rs.CORSOrigin)
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Link")
	if rs.CORSOrigin != "*" {
		h.Add("Vary", "Origin")
	}
}

// options answers a CORS preflight (the WHIP and WHEP drafts leave
// OPTIONS to CORS).
func options(w http.ResponseWriter, methods string) {
	h := w.Header()
	h.Set("Allow", methods)
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
