package whep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/httperr"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// answerTimeout bounds building the answer, ICE gathering included.
const answerTimeout = 10 * time.Second

// post creates a session (draft-ietf-wish-whep §4.2). In order: the
// playback gate (401/403 as for LL-HLS), the live input (404), the media
// type (415) and size (413) of the offer, the stream (409 not_live when
// nothing is published; a stream waiting in its reconnect window is
// accepted and the viewer gets the returning publisher's media), B-frames
// in the source (served from the top transcoded rung, see standinFeed; 409
// source_has_bframes saying why not and what to change), the offer (400
// malformed_sdp, 406 no_usable_codec naming what the stream has).
func (s *Server) post(w http.ResponseWriter, r *http.Request, idOrToken string) {
	id := idOrToken
	if s.cfg.Gate != nil {
		var ok bool
		if id, ok = s.cfg.Gate.Authorize(w, bearerAsQuery(r), idOrToken); !ok {
			s.met.sessions.WithLabelValues("refused").Inc()
			return
		}
	}
	log := s.log.With("live_input", id, "remote", r.RemoteAddr)
	refuse := func(code int, word, msg string) {
		s.met.sessions.WithLabelValues(word).Inc()
		log.Info("whep offer refused", "reason", word)
		writeError(w, code, word, msg)
	}
	if _, err := s.cfg.Inputs.ByID(r.Context(), id); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			refuse(http.StatusNotFound, "not_found", "no live input with this id")
			return
		}
		log.Error("whep directory lookup failed", "error", err)
		refuse(http.StatusServiceUnavailable, "unavailable", "live input lookup failed")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/sdp" {
		refuse(http.StatusUnsupportedMediaType, "unsupported_media_type", "the offer must be application/sdp")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxOfferSize+1))
	if err != nil {
		refuse(http.StatusBadRequest, "bad_request", "reading the offer failed")
		return
	}
	if len(body) > MaxOfferSize {
		refuse(http.StatusRequestEntityTooLarge, "offer_too_large", "the SDP offer is larger than 64 KiB")
		return
	}
	var hold func() // the viewer's demand on an on-demand source, handed to the session
	if s.cfg.Demand != nil {
		if hold, err = s.cfg.Demand.Demand(r.Context(), id); err != nil {
			w.Header().Set("Retry-After", demandRetryAfter)
			refuse(http.StatusServiceUnavailable, "source_not_started", "the live input's source has not started yet; retry")
			return
		}
		defer func() {
			if hold != nil {
				hold()
			}
		}()
	}
	st := s.cfg.Hub.Get(id)
	if st == nil {
		refuse(http.StatusConflict, "not_live", "the live input is not live: nothing is being published to it")
		return
	}
	f, err := s.feedOf(st)
	if err != nil {
		refuse(http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	if f.hasBFrames() {
		if f, err = s.standinFeed(r.Context(), st); err != nil {
			var rf *refusal
			if !errors.As(err, &rf) {
				rf = &refusal{status: http.StatusServiceUnavailable, code: "unavailable", msg: err.Error()}
			}
			if rf.retry {
				w.Header().Set("Retry-After", "2")
			}
			refuse(rf.status, rf.code, rf.msg)
			return
		}
		st = f.s
		log = log.With("rendition", st.Rendition())
	}
	tracks := st.Tracks()
	plan, err := parseOffer(string(body), f.playable(tracks))
	if err == nil && plan.Audio != nil && isAAC(tracks[plan.AudioTrack]) && !f.startOpus(plan.AudioTrack) {
		// no transcode after all (capacity, ffmpeg failed): video only
		plan.Audio, plan.AudioTrack = nil, -1
		if plan.Video == nil {
			err = fmt.Errorf("%w: the stream's audio is AAC and no Opus transcode is available", errNoUsableCodec)
		}
	}
	if err != nil {
		if errors.Is(err, errNoUsableCodec) {
			refuse(http.StatusNotAcceptable, "no_usable_codec", err.Error())
		} else {
			refuse(http.StatusBadRequest, "malformed_sdp", err.Error())
		}
		return
	}
	actx, cancel := context.WithTimeout(r.Context(), answerTimeout)
	defer cancel()
	ss, answer, err := s.newSession(actx, f, id, plan, string(body), hold)
	if err != nil {
		switch {
		case errors.Is(err, errMalformedOffer):
			refuse(http.StatusBadRequest, "malformed_sdp", err.Error())
		case errors.Is(err, errFull), errors.Is(err, errServerClosed):
			refuse(http.StatusServiceUnavailable, "unavailable", err.Error())
		default:
			log.Warn("whep session setup failed", "error", err)
			refuse(http.StatusBadRequest, "negotiation_failed", err.Error())
		}
		return
	}
	hold = nil // the session releases it when it ends
	s.met.sessions.WithLabelValues("created").Inc()
	video, audio := "none", "none"
	if plan.Video != nil {
		video = plan.Video.Mime
	}
	if plan.Audio != nil {
		audio = plan.Audio.Mime
	}
	ss.log.Info("whep session created", "remote", r.RemoteAddr, "video", video, "audio", audio, "rendition", st.Rendition())
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/whep/"+url.PathEscape(id)+"/"+ss.id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func isAAC(t stream.Track) bool {
	_, ok := t.Codec.(stream.AAC)
	return ok
}

// bearerAsQuery returns r with an "Authorization: Bearer TOKEN" playback
// token (RFC 6750 §2.1) moved to ?token=, where the playback gate reads
// it; r itself when there is none or ?token= is already set.
func bearerAsQuery(r *http.Request) *http.Request {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || r.URL.Query().Has("token") {
		return r
	}
	r2 := r.Clone(r.Context())
	q := r2.URL.Query()
	q.Set("token", token)
	r2.URL.RawQuery = q.Encode()
	return r2
}

// delete ends a session (draft-ietf-wish-whep §4.3). The session URL, with
// its 128-bit random id, is the capability.
func (s *Server) delete(w http.ResponseWriter, _ *http.Request, id, sid string) {
	ss := s.lookup(id, sid)
	if ss == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	ss.stop(errDeleted)
	<-ss.done
	w.WriteHeader(http.StatusOK)
}

// patch answers trickle ICE and ICE restarts (draft-ietf-wish-whep §4.4)
// with 405: the answer carries every server candidate (host candidates on
// the shared port), and the player's candidates are learned as peer
// reflexive ones from its connectivity checks, so trickle is not needed.
func (s *Server) patch(w http.ResponseWriter, _ *http.Request, id, sid string) {
	if s.lookup(id, sid) == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such WHEP session")
		return
	}
	w.Header().Set("Allow", "DELETE, OPTIONS")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "trickle ICE and ICE restarts are not supported; start a new session")
}

// writeError writes the error body of the API and of playback refusals
// (internal/httperr): {"error": {"code": word, "message": msg}}.
func writeError(w http.ResponseWriter, code int, word, msg string) { httperr.Write(w, code, word, msg) }
