package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

// storeFactory opens an empty store for a test.
type storeFactory struct {
	name string
	open func(t testing.TB) store.Store
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mpegflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// forEachStore runs f against every store implementation, through the real
// HTTP stack.
func forEachStore(t *testing.T, f func(t *testing.T, e *env)) {
	for _, sf := range storeFactories() {
		t.Run(sf.name, func(t *testing.T) {
			f(t, newEnv(t, sf.open(t)))
		})
	}
}

// fakeRuntime is a controllable Runtime.
type fakeRuntime struct {
	mu       sync.Mutex
	status   map[string]string
	sessions map[string][]Session
	ended    []string
	kicked   []string
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{status: map[string]string{}, sessions: map[string][]Session{}}
}

func (f *fakeRuntime) connect(id, sid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = StatusConnected
	f.sessions[id] = []Session{{ID: sid, LiveInputID: id, Protocol: "rtmp", Remote: "127.0.0.1:5555", StartedAt: time.Now().UTC(), Codecs: []string{"h264", "aac"}}}
}

func (f *fakeRuntime) Status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.status[id]; ok {
		return s
	}
	return StatusIdle
}

func (f *fakeRuntime) Sessions(id string) []Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Session(nil), f.sessions[id]...)
}

// Session implements SessionLookup.
func (f *fakeRuntime) Session(sid string) (Session, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ss := range f.sessions {
		for _, s := range ss {
			if s.ID == sid {
				return s, true
			}
		}
	}
	return Session{}, false
}

func (f *fakeRuntime) Kick(sid string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, ss := range f.sessions {
		for _, s := range ss {
			if s.ID == sid {
				f.kicked = append(f.kicked, sid)
				delete(f.sessions, id)
				f.status[id] = StatusReconnecting
				return id, nil
			}
		}
	}
	return "", ErrNoSession
}

func (f *fakeRuntime) End(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, id)
	delete(f.sessions, id)
	delete(f.status, id)
	return nil
}

var _ Runtime = (*fakeRuntime)(nil)

// env is a Server behind a real HTTP server.
type env struct {
	t     testing.TB
	st    store.Store
	bus   *events.Bus
	rt    *fakeRuntime
	srv   *Server
	hs    *httptest.Server
	admin string
}

func newEnv(t testing.TB, st store.Store) *env {
	t.Helper()
	return newEnvWith(t, st, nil)
}

// newEnvWith is newEnv with a chance to change the Config.
func newEnvWith(t testing.TB, st store.Store, opt func(*Config)) *env {
	t.Helper()
	e := &env{t: t, st: st, bus: events.NewBus(), rt: newFakeRuntime()}
	b, err := BootstrapAdmin(context.Background(), st.Tokens(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.admin = b.Generated
	cfg := Config{Store: st, Bus: e.bus, Runtime: e.rt, Endpoints: Endpoints{RTMP: ":1935", SRT: ":8890"},
		AuthFailures: RateLimit{Burst: 5, Every: time.Minute}}
	if opt != nil {
		opt(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.hs.Close()
		_ = e.srv.Close()
		e.bus.Close()
	})
	return e
}

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (r resp) data() map[string]any {
	d, _ := r.JSON["data"].(map[string]any)
	return d
}

func (r resp) list() []any {
	d, _ := r.JSON["data"].([]any)
	return d
}

func (r resp) code() string {
	e, _ := r.JSON["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends a request; body may be a string, []byte or any JSON value.
func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.hs.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	if len(out.Body) > 0 {
		_ = json.Unmarshal(out.Body, &out.JSON)
	}
	return out
}

// want fails unless r has the status (and the error code, when not "").
func (r resp) want(t testing.TB, status int, code string) resp {
	t.Helper()
	if r.Status != status || (code != "" && r.code() != code) {
		t.Fatalf("got HTTP %d %s, want %d %s: %s", r.Status, r.code(), status, code, r.Body)
	}
	return r
}

// token creates an API token with scopes.
func (e *env) token(scopes ...string) string {
	e.t.Helper()
	r := e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "t", "scopes": scopes}).want(e.t, 201, "")
	return r.data()["token"].(string)
}

func (e *env) create(body any) map[string]any {
	e.t.Helper()
	return e.do("POST", "/v1/live_inputs", e.admin, body).want(e.t, 201, "").data()
}
