package whip

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/httperr"
)

// answerTimeout bounds building the answer, ICE gathering included.
const answerTimeout = 10 * time.Second

// post creates a session (RFC 9725 §4.2): authenticate, select codecs,
// answer with gathering complete (no trickle from our side).
func (s *Server) post(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	log := s.log.With("live_input", id, "remote", r.RemoteAddr)
	if _, err := s.cfg.Directory.ByID(ctx, id); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			s.cfg.Metrics.Rejected(Protocol, "not_found")
			writeError(w, http.StatusNotFound, "not_found", "no live input with this id")
			return
		}
		log.Error("whip directory lookup failed", "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "live input lookup failed")
		return
	}
	li, ok := s.authorize(ctx, r, id)
	if !ok {
		log.Info("whip publish refused: bad bearer token")
		if !s.holdRefusal(r) {
			return
		}
		s.cfg.Metrics.Rejected(Protocol, "unknown_key")
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "the bearer token is not the stream key of this live input")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/sdp" {
		s.cfg.Metrics.Rejected(Protocol, "protocol_error")
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the offer must be application/sdp")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOfferSize+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "reading the offer: "+err.Error())
		return
	}
	allowVPX := s.cfg.AcceptVPX != nil && s.cfg.AcceptVPX(ctx, li.ID)
	plan, err := parseOffer(string(body), allowVPX)
	if err != nil {
		code, word := http.StatusBadRequest, "malformed_sdp"
		if errors.Is(err, errNoAcceptableCodec) {
			code, word = http.StatusNotAcceptable, "no_acceptable_codec"
		}
		log.Info("whip offer refused", "error", err)
		s.cfg.Metrics.Rejected(Protocol, word)
		writeError(w, code, word, err.Error())
		return
	}
	if _, publishing := s.cfg.Hub.State(li.ID); publishing && !s.cfg.Takeover {
		// live over another protocol (RTMP, SRT) or another WHIP session
		s.cfg.Metrics.Rejected(Protocol, "busy")
		writeError(w, http.StatusConflict, "busy", "live input already has a publisher")
		return
	}
	actx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	ss, answer, err := s.newSession(actx, li, r.RemoteAddr, plan, string(body))
	if err != nil {
		switch {
		case errors.Is(err, errBusy):
			s.cfg.Metrics.Rejected(Protocol, "busy")
			writeError(w, http.StatusConflict, "busy", err.Error())
		case errors.Is(err, errServerClosed):
			writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		case errors.Is(err, errMalformedOffer):
			s.cfg.Metrics.Rejected(Protocol, "malformed_sdp")
			writeError(w, http.StatusBadRequest, "malformed_sdp", err.Error())
		default:
			log.Warn("whip session setup failed", "error", err)
			s.cfg.Metrics.Rejected(Protocol, "protocol_error")
			writeError(w, http.StatusBadRequest, "negotiation_failed", err.Error())
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/whip/"+id+"/"+ss.id)
	h.Set("ETag", ss.etag)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// authorize checks "Authorization: Bearer KEY" (RFC 9725 §4.5, RFC 6750
// §2.1): KEY must be the stream key of live input id. The key lookup is by
// digest and the id comparison constant-time; the key is never logged.
func (s *Server) authorize(ctx context.Context, r *http.Request, id string) (auth.LiveInput, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.LiveInput{}, false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return auth.LiveInput{}, false
	}
	li, err := s.cfg.Directory.ByStreamKey(auth.WithPeer(ctx, Protocol, r.RemoteAddr), token)
	if err != nil {
		return auth.LiveInput{}, false
	}
	if subtle.ConstantTimeCompare([]byte(li.ID), []byte(id)) != 1 {
		return auth.LiveInput{}, false
	}
	return li, true
}

// holdRefusal records a wrong bearer token in the shared ingest throttle
// and holds the refusal for the delay it asks; false when the client went
// away meanwhile (nothing left to answer).
func (s *Server) holdRefusal(r *http.Request) bool {
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return s.cfg.Throttle.Hold(r.Context(), ip, strings.TrimSpace(token)) == nil
}

// delete ends the broadcast of a session (RFC 9725 §4.2: DELETE on the
// session URL); the stream ends at once, without a reconnect window.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, id, sid string) {
	ss := s.lookup(id, sid)
	if ss == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such WHIP session")
		return
	}
	if _, ok := s.authorize(r.Context(), r, id); !ok {
		if !s.holdRefusal(r) {
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "the bearer token is not the stream key of this live input")
		return
	}
	ss.log.Info("whip session deleted by the publisher")
	ss.stop(true)
	<-ss.done
	w.WriteHeader(http.StatusOK)
}

// patch answers trickle ICE and ICE restart requests (RFC 9725 §4.3) with
// 405: this server gathers all its candidates before answering, and the
// client's late candidates are not needed since the server's host candidates
// are reachable (peer reflexive candidates cover the rest).
func (s *Server) patch(w http.ResponseWriter, r *http.Request, id, sid string) {
	if s.lookup(id, sid) == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such WHIP session")
		return
	}
	w.Header().Set("Allow", "DELETE, OPTIONS")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "trickle ICE and ICE restarts are not supported; start a new session")
}

// writeError writes the error body of the API (internal/httperr):
// {"error": {"code": word, "message": msg}}.
func writeError(w http.ResponseWriter, code int, word, msg string) { httperr.Write(w, code, word, msg) }
