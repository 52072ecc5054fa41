package api

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"

	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// IdempotencyTTL is how long the first response to a POST with an
// Idempotency-Key is kept and replayed.
const IdempotencyTTL = 24 * time.Hour

const maxIdempotencyKey = 255

// idempotent runs a POST under its Idempotency-Key, when it has one: a retry
// with the same key and the same body gets the first response again (with
// Idempotent-Replayed: true), less any secret it showed (see
// redactSecrets: Secret-Omitted: true); with another body, 422. Keys are scoped to the
// token, the method and the path. Responses with status 5xx, 409 or 429 are
// not kept, so that the retry runs again.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, p *principal, h op) error {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return h(w, r, p)
	}
	if len(key) > maxIdempotencyKey || !printable(key) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter,
			Message: "Idempotency-Key must be 1-255 printable ASCII characters", Details: map[string]any{"header": "Idempotency-Key"}}
	}
	// the handler checks the media type of the body it reads back
	body, err := readRaw(w, r, true)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := HashSecret(string(body))
	scope := p.tok.ID + " " + r.Method + " " + r.URL.Path
	lockKey := scope + "\x00" + key
	if !s.idem.tryLock(lockKey) {
		return apiErr(http.StatusConflict, CodeIdempotencyInFlight, "a request with this Idempotency-Key is in progress; retry later")
	}
	defer s.idem.unlock(lockKey)

	ctx := r.Context()
	rec, err := s.st.Idempotency().Get(ctx, scope, key)
	switch {
	case err == nil && s.now().Sub(rec.CreatedAt) < IdempotencyTTL:
		if subtle.ConstantTimeCompare(rec.BodyHash, sum) != 1 {
			return apiErr(http.StatusUnprocessableEntity, CodeIdempotencyMismatch,
				"this Idempotency-Key was used with a different body; use a new key for a new request")
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Idempotent-Replayed", "true")
		if bytes.Contains(rec.Body, []byte(`"secret_omitted":true`)) {
			hd.Set(SecretOmittedHeader, "true")
		}
		w.WriteHeader(rec.Status)
		_, _ = w.Write(rec.Body)
		return nil
	case err == nil, errors.Is(err, store.ErrNotFound):
	default:
		return storeErr(err, "idempotency record")
	}

	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	if err := h(rw, r, p); err != nil {
		s.writeError(rw, r, err)
	}
	if rw.status >= 500 || rw.status == http.StatusConflict || rw.status == http.StatusTooManyRequests {
		return nil
	}
	now := s.now().UTC()
	s.purgeIdempotency(r, now)
	stored, _ := redactSecrets(rw.buf.Bytes())
	put := &store.IdempotencyRecord{Scope: scope, Key: key, BodyHash: sum, Status: rw.status, Body: stored, CreatedAt: now}
	if err := s.st.Idempotency().Put(ctx, put); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.Warn("cannot store idempotency record", "error", err)
	}
	return nil
}

// purgeIdempotency deletes expired records at most once an hour.
func (s *Server) purgeIdempotency(r *http.Request, now time.Time) {
	last, _ := s.touch.Load("\x00purge")
	if t, ok := last.(time.Time); ok && now.Sub(t) < time.Hour {
		return
	}
	s.touch.Store("\x00purge", now)
	if _, err := s.st.Idempotency().Purge(r.Context(), now.Add(-IdempotencyTTL)); err != nil {
		s.log.Warn("cannot purge idempotency records", "error", err)
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// recorder passes a response through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}
