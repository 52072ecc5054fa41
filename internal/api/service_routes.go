package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The service layer by route: every other REST operation, as other front
// ends (internal/rpc) call it. Do runs the operation's own REST code (the
// op registered in routes, behind the same authentication, scope check and
// Idempotency-Key handling as wrap) and hands back what REST would answer,
// so no rule exists twice.

// Call is one REST operation.
type Call struct {
	// Route is the registered pattern, e.g. "PATCH /v1/webhooks/{id}".
	Route string
	// Path holds the values of the pattern's {wildcards}.
	Path map[string]string
	// Query holds the query parameters (limit, cursor, filters).
	Query url.Values
	// IfMatch is the If-Match precondition; "" = unconditional.
	IfMatch string
	// Body is the request body; nil = none.
	Body []byte
	// ContentType is Body's media type; "" = application/json.
	ContentType string
}

// Result is a successful REST answer: its status, body (the {"data": ...}
// envelope; nil for 204) and ETag ("" when it has none).
type Result struct {
	Status int
	Body   json.RawMessage
	ETag   string
}

// routeOp is one registered operation.
type routeOp struct {
	scope string
	h     op
}

// Do authenticates r (Authorization: Bearer, rate limits included) for the
// scope of c.Route and runs that route's operation; errors are *Error as
// REST renders them.
func (s *Server) Do(r *http.Request, c Call) (Result, error) {
	ro, ok := s.ops[c.Route]
	if !ok || ro.h == nil {
		return Result{}, fmt.Errorf("api: no route %q", c.Route)
	}
	method, pattern, _ := strings.Cut(c.Route, " ")
	var p *principal
	if ro.scope != scopePublic { // a public document: no token, as wrap serves it
		var err error
		if p, err = s.authenticate(r); err == nil {
			err = s.authorize(p, ro.scope)
		}
		if err != nil {
			return Result{}, err
		}
	}
	var err error
	path := pattern
	for k, v := range c.Path {
		path = strings.Replace(path, "{"+k+"}", url.PathEscape(v), 1)
	}
	r2 := r.Clone(r.Context())
	r2.Method = method
	r2.URL = &url.URL{Path: path, RawQuery: c.Query.Encode()}
	r2.RequestURI = r2.URL.RequestURI()
	for k, v := range c.Path {
		r2.SetPathValue(k, v)
	}
	r2.Header.Del("If-Match")
	if c.IfMatch != "" {
		r2.Header.Set("If-Match", c.IfMatch)
	}
	ct := c.ContentType
	if ct == "" {
		ct = "application/json"
	}
	r2.Header.Set("Content-Type", ct)
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(c.Body)), int64(len(c.Body))
	w := &resultWriter{h: http.Header{}, status: http.StatusOK}
	if method == http.MethodPost {
		err = s.idempotent(w, r2, p, ro.h)
	} else {
		err = ro.h(w, r2, p)
	}
	if err != nil {
		return Result{}, err
	}
	if w.status >= 400 { // an error the Idempotency-Key replayed or rendered
		var env envelope
		if json.Unmarshal(w.buf.Bytes(), &env) != nil || env.Error.Code == "" {
			return Result{}, fmt.Errorf("api: %s answered %d", c.Route, w.status)
		}
		return Result{}, &Error{Status: w.status, Code: env.Error.Code, Message: env.Error.Message, Details: env.Error.Details}
	}
	res := Result{Status: w.status, ETag: w.h.Get("ETag")}
	if w.buf.Len() > 0 {
		res.Body = w.buf.Bytes()
	}
	return res, nil
}

// resultWriter keeps a response in memory.
type resultWriter struct {
	h      http.Header
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (w *resultWriter) Header() http.Header { return w.h }

func (w *resultWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *resultWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.buf.Write(b)
}
