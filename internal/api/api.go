// Package api is MpegFlow's control API under /v1: live inputs, API tokens,
// publisher sessions, the event stream (WebSocket) and the OpenAPI document.
// It is the one place where errors become HTTP status codes.
//
// Conventions: JSON bodies (unknown fields rejected, 1 MiB, 32 levels);
// success {"data": ...}, lists {"data": [...], "next_cursor": "..."};
// errors {"error": {"code", "message", "details"}}; Authorization: Bearer
// TOKEN; Idempotency-Key on every POST; ETag and If-Match on live inputs.
package api

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Status of a live input as the API reports it.
const (
	StatusIdle         = "idle"
	StatusConnected    = "connected"
	StatusReconnecting = "reconnecting"
	StatusDisabled     = "disabled" // enabled=false; never returned by Runtime
)

// ErrNoSession is returned by Runtime.Kick when no such session is live.
var ErrNoSession = errors.New("no such session")

// ErrNotSupported is returned by a Runtime that cannot perform an action.
var ErrNotSupported = errors.New("not supported by this runtime")

// Session is a live publisher of a live input.
type Session struct {
	ID          string    `json:"id"`            // "ses_..."; unique per connection
	LiveInputID string    `json:"live_input_id"` //
	Protocol    string    `json:"protocol"`      // rtmp, rtmps, srt, whip
	Remote      string    `json:"remote"`        // host:port of the publisher
	StartedAt   time.Time `json:"started_at"`    //
	BitrateBPS  int64     `json:"bitrate_bps"`   // received, averaged over the last seconds; 0 = unknown
	Codecs      []string  `json:"codecs"`        // e.g. ["h264", "aac"]
	Viewers     int       `json:"viewers"`       // HLS/WHEP viewers of the live input now
	RTP         *RTPStats `json:"rtp,omitempty"` // RTSP sessions: RTP receive statistics
}

// RTPStats are the receive statistics of an RTSP session so far: packets,
// loss (sequence gaps), interarrival jitter of each track (RFC 3550
// §6.4.1) and the RTP payload rate, as of the last sample (every 5 s).
type RTPStats struct {
	PacketsReceived uint64  `json:"packets_received"`
	PacketsLost     uint64  `json:"packets_lost"`
	VideoJitterMS   float64 `json:"video_jitter_ms"`
	AudioJitterMS   float64 `json:"audio_jitter_ms"`
	BitrateBPS      int64   `json:"bitrate_bps"`
}

// Runtime is what the API needs of the running daemon: the live state of a
// live input and the actions on its publisher. The composition root
// implements it over the stream hub and the ingest servers.
type Runtime interface {
	// Status returns StatusIdle, StatusConnected or StatusReconnecting.
	Status(liveInputID string) string
	// Sessions returns the live publisher sessions of a live input (zero or
	// one today).
	Sessions(liveInputID string) []Session
	// Kick disconnects the publisher of session id; the encoder may
	// reconnect (its key still works). It returns the session's live input,
	// or ErrNoSession.
	Kick(sessionID string) (liveInputID string, err error)
	// End ends the current broadcast of a live input now: its publisher is
	// disconnected, the stream ends (HLS EXT-X-ENDLIST) without waiting for
	// the reconnect window. A no-op when idle.
	End(liveInputID string) error
}

// SessionLookup is implemented by a Runtime that finds a live session by
// its id; session.kicked then carries the session object (as GET
// /v1/live_inputs/ID/sessions lists it) instead of {"session_id"}.
type SessionLookup interface {
	Session(sessionID string) (Session, bool)
}

// Bus is the event bus the API publishes to and the WebSocket subscribes to.
type Bus interface {
	Publish(events.Event)
	Subscribe(events.SubscribeOptions) *events.Subscription
}

// Endpoints are the listen addresses the API turns into the URLs it gives
// encoders and players. A wildcard or empty host is replaced by the host the
// API request was addressed to.
type Endpoints struct {
	RTMP string // rtmp.address, e.g. ":1935"; "" = no RTMP
	SRT  string // srt address; "" = no SRT
	RTSP string // rtsp.address; "" = no RTSP publish
	HTTP string // http.address (WHIP and playback); "" = the request's host
}

// Config configures a Server. Store and Bus are required.
type Config struct {
	Store   store.Store
	Bus     Bus
	Runtime Runtime      // default: every input idle, actions not supported
	Logger  *slog.Logger // default: discard
	Endpoints
	// CursorKey is the HMAC key of list cursors; default random (cursors
	// then do not survive a restart, nor move between nodes).
	CursorKey []byte
	// AuthFailures limits failed authentications per client address and
	// failed authorizations per token; default 20 burst, one more every 3 s.
	AuthFailures RateLimit
	// ClientAddr finds the client of a request (the trusted-proxy rules of
	// http.trusted_proxies); default: the socket peer.
	ClientAddr ClientAddrer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Feature dependencies (signing.go, webhooks.go, videos.go).
	Signing  SigningDeps
	Webhooks WebhooksDeps
	Videos   VideosDeps
	Uploads  UploadsDeps // uploads.go
	System   SystemDeps  // GET /v1/system (system.go)
	Outputs  OutputsDeps // restream outputs (outputs.go)
	// TranscodeProfiles are the names of transcode.profiles: the rungs a
	// live input's transcode.ladder may name.
	TranscodeProfiles []string
	// Sources reports the pullers of live inputs with a source (RTSP
	// cameras); nil reports none.
	Sources SourceStatuser
	// Pipelines runs the pipelines (pipelines_status.go); nil: stored
	// pipelines are not run.
	Pipelines PipelineRuntime
}

// Server serves the control API.
type Server struct {
	tokens  tokenCache
	st      store.Store
	bus     Bus
	rt      Runtime
	log     *slog.Logger
	ep      Endpoints
	render  *Renderer
	cursors cursorCodec
	now     func() time.Time
	addrLim *limiter
	// clientAddrs finds the client behind trusted proxies; nil: the peer.
	clientAddrs ClientAddrer
	revokeMu    sync.Mutex // one token revocation at a time (tokens.go)
	tokLim      *limiter
	touch       sync.Map // token id -> time.Time of the last LastUsedAt write
	idem        keyedMutex
	videos      VideosDeps      // videos.go
	uploads     UploadsDeps     // uploads.go
	webhooks    WebhooksDeps    // webhooks.go
	sys         SystemDeps      // system.go
	profiles    []string        // transcode.profiles names
	mint        mintCache       // signing.go
	outputs     OutputsDeps     // outputs.go
	sources     SourceStatuser  // liveinputs_source.go
	pipelines   PipelineRuntime // pipelines_status.go

	handler  http.Handler
	patterns []string           // every "METHOD /path" registered, for the OpenAPI check
	ops      map[string]routeOp // by pattern, for Do (service_routes.go)

	ctx    context.Context // ends WebSocket streams on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// streamsMu orders trackStream's wg.Add before Close's wg.Wait
	streamsMu sync.Mutex
	closing   bool
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Bus == nil {
		return nil, errors.New("api: Store and Bus are required")
	}
	s := &Server{st: cfg.Store, bus: cfg.Bus, rt: cfg.Runtime, log: cfg.Logger, ep: cfg.Endpoints, render: NewRenderer(cfg.Endpoints), now: cfg.Now, videos: cfg.Videos, webhooks: cfg.Webhooks}
	if s.rt == nil {
		s.rt = idleRuntime{}
	}
	s.sys, s.profiles, s.sources = cfg.System, cfg.TranscodeProfiles, cfg.Sources
	s.pipelines = cfg.Pipelines
	s.outputs = cfg.Outputs
	s.uploads = cfg.Uploads
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	key := cfg.CursorKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	s.cursors = cursorCodec{key: key}
	rl := cfg.AuthFailures
	if rl.Burst == 0 {
		rl = RateLimit{Burst: 20, Every: 3 * time.Second}
	}
	s.addrLim = newLimiter(rl, s.now)
	s.clientAddrs = cfg.ClientAddr
	s.tokLim = newLimiter(rl, s.now)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s, nil
}

// Handler is the API; mount it at "/v1/" (it serves the full paths).
func (s *Server) Handler() http.Handler { return s.handler }

// Close ends the WebSocket event streams and waits for them; idempotent.
func (s *Server) Close() error {
	s.streamsMu.Lock()
	s.closing = true
	s.streamsMu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Patterns returns every registered "METHOD /path" pattern, sorted.
func (s *Server) Patterns() []string {
	out := append([]string(nil), s.patterns...)
	sort.Strings(out)
	return out
}

// routeFunc registers one operation: method, path pattern, required scope
// ("" = any token; scopePublic = no token) and handler.
type routeFunc func(method, path, scope string, h op)

// op is one operation's handler: it returns nil after writing its
// response, or an error that is rendered as the error envelope.
type op func(w http.ResponseWriter, r *http.Request, p *principal) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	s.ops = map[string]routeOp{}
	var handle routeFunc = func(method, path, scope string, h op) {
		pattern := method + " " + path
		s.patterns = append(s.patterns, pattern)
		s.ops[pattern] = routeOp{scope: scope, h: h}
		methods[path] = append(methods[path], method)
		mux.Handle(pattern, s.wrap(scope, method == http.MethodPost, h))
	}
	const li, liw, tr, tw = ScopeLiveInputsRead, ScopeLiveInputsWrite, ScopeTokensRead, ScopeTokensWrite
	handle("GET", "/v1/openapi.json", "", nil)
	handle("GET", "/v1/live_inputs", li, s.listLiveInputs)
	handle("POST", "/v1/live_inputs", liw, s.createLiveInput)
	handle("GET", "/v1/live_inputs/{id}", li, s.getLiveInput)
	handle("PATCH", "/v1/live_inputs/{id}", liw, s.patchLiveInput)
	handle("DELETE", "/v1/live_inputs/{id}", liw, s.deleteLiveInput)
	handle("POST", "/v1/live_inputs/{id}/rotate_key", liw, s.rotateKey)
	handle("POST", "/v1/live_inputs/{id}/complete", liw, s.completeLiveInput)
	handle("GET", "/v1/live_inputs/{id}/sessions", li, s.listSessions)
	handle("GET", "/v1/sessions/{id}", li, s.getSession)
	handle("DELETE", "/v1/sessions/{id}", liw, s.kickSession)
	handle("GET", "/v1/tokens", tr, s.listTokens)
	handle("POST", "/v1/tokens", tw, s.createToken)
	handle("GET", "/v1/tokens/{id}", tr, s.getToken)
	handle("DELETE", "/v1/tokens/{id}", tw, s.revokeToken)
	handle("GET", "/v1/events", ScopeEventsRead, s.streamEvents)
	s.signingRoutes(handle)
	s.webhooksRoutes(handle)
	s.videosRoutes(handle)
	s.uploadsRoutes(handle)
	s.systemRoutes(handle)
	s.outputsRoutes(handle)
	s.pipelinesRoutes(handle)
	handle("GET", "/v1/whoami", "", s.whoami)
	// Another method on a known path: 405 with Allow. One pattern per
	// method, not one for the path: a method-less "/v1/videos/copy" would
	// conflict with "GET /v1/videos/{id}" (neither is more specific).
	for path, ms := range methods {
		allow := strings.Join(ms, ", ")
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if slices.Contains(ms, m) || (m == "HEAD" && slices.Contains(ms, "GET")) {
				continue
			}
			mux.HandleFunc(m+" "+path, func(w http.ResponseWriter, r *http.Request) {
				s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
					Message: r.Method + " is not allowed here; use " + allow, Allow: allow})
			})
		}
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, notFound("resource "+r.URL.Path))
	})
	return mux
}

// wrap authenticates (unless scope is ""), checks the scope, applies
// Idempotency-Key to POSTs, and renders errors.
func (s *Server) wrap(scope string, post bool, h op) http.Handler {
	if h == nil { // the OpenAPI document: public
		return http.HandlerFunc(s.serveOpenAPI)
	}
	if scope == scopePublic { // a public document: no token
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r, nil); err != nil {
				s.writeError(w, r, err)
			}
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			s.writeError(w, r, paramErr("(query)", "the query string is malformed"))
			return
		}
		p, err := s.authenticate(r)
		if err == nil {
			err = s.authorize(p, scope)
		}
		if err == nil {
			if post {
				err = s.idempotent(w, r, p, h)
			} else {
				err = h(w, r, p)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// idleRuntime is the Runtime of a daemon without ingest: always idle.
type idleRuntime struct{}

func (idleRuntime) Status(string) string        { return StatusIdle }
func (idleRuntime) Sessions(string) []Session   { return nil }
func (idleRuntime) Kick(string) (string, error) { return "", ErrNoSession }
func (idleRuntime) End(string) error            { return nil }
func (idleRuntime) Session(string) (Session, bool) {
	return Session{}, false
}

var (
	_ Runtime       = idleRuntime{}
	_ SessionLookup = idleRuntime{}
)
