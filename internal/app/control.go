package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/store/postgres"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// ErrLiveInputDisabled is returned by the control plane's Directory for the
// stream key of a live input with enabled=false. It wraps
// auth.ErrUnknownKey, so ingest refuses it like an unknown key, and it is
// distinct (errors.Is) for logs and events.
var ErrLiveInputDisabled = fmt.Errorf("%w: live input disabled", auth.ErrUnknownKey)

// SQLiteFile is the database file in data_dir when store.postgres_url is
// empty.
const SQLiteFile = "mpegflow.db"

// control is the control plane: the store, the event bus, the /v1 API, the
// store-backed Directory and the live state of every input, fed by the hub
// hooks StreamStarted / StreamDisconnected / StreamEnded.
type control struct {
	log *slog.Logger
	st  store.Store
	bus *events.Bus
	api *api.Server
	rt  *liveRuntime
	dir *storeDirectory

	closeOnce sync.Once
	closeErr  error
}

// openControl opens the store (PostgreSQL when store.postgres_url is set,
// else SQLite at data_dir/mpegflow.db), imports the static live inputs of
// the configuration (read-only over the API), makes sure an admin token
// exists (a generated one is printed once to stdout, never logged), and
// builds the API.
//
// features, when not nil, builds the feature dependencies of the API
// (signed playback, webhooks, videos) from the opened store and bus.
func openControl(ctx context.Context, cfg *conf.Config, log *slog.Logger, stdout io.Writer, features func(store.Store, *events.Bus) (featureDeps, error)) (_ *control, err error) {
	var st store.Store
	if cfg.Store.PostgresURL != "" {
		db, err := postgres.Open(ctx, cfg.Store.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("store.postgres_url: %w", err)
		}
		st = db
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data_dir: %w", err)
		}
		db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, SQLiteFile))
		if err != nil {
			return nil, fmt.Errorf("data_dir: %w", err)
		}
		st = db
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	if err := importStatic(ctx, st.LiveInputs(), cfg, log); err != nil {
		return nil, err
	}
	b, err := api.BootstrapAdmin(ctx, st.Tokens(), cfg.API.AdminToken, time.Now())
	if err != nil {
		return nil, fmt.Errorf("api.admin_token: %w", err)
	}
	switch {
	case b.Generated != "":
		// The console, not the log: the secret must not reach log storage.
		fmt.Fprintf(stdout, "\nMpegFlow admin API token (shown once, stored hashed; set api.admin_token to choose your own):\n\n    %s\n\n", b.Generated)
		log.Info("generated the admin API token and printed it to the console once")
	case b.ConfiguredRevoked:
		log.Warn("api.admin_token was revoked over the API and is refused; configure another one")
	case b.Replaced > 0:
		log.Info("api.admin_token changed; the previous one is revoked", "revoked", b.Replaced)
	}
	key, err := cursorKey(ctx, st.Tokens())
	if err != nil {
		return nil, err
	}
	c := &control{log: log, st: st, bus: events.NewBus(), dir: &storeDirectory{lis: st.LiveInputs()}}
	c.rt = &liveRuntime{bus: c.bus, lis: st.LiveInputs(), wh: st.Webhooks(), log: log, live: map[string]*liveState{}}
	var fd featureDeps
	if features != nil {
		if fd, err = features(st, c.bus); err != nil {
			return nil, err
		}
	}
	proxies, err := playback.ParseProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("http.%w", err)
	}
	c.api, err = api.New(api.Config{
		ClientAddr: proxies,
		Store:      st, Bus: c.bus, Runtime: c.rt, Logger: log.With("component", "api"),
		Endpoints: api.Endpoints{RTMP: cfg.RTMP.Address, SRT: cfg.SRT.Address, RTSP: cfg.RTSP.Address, HTTP: cfg.HTTP.Address},
		CursorKey: key,
		Signing:   fd.Signing,
		Webhooks:  fd.Webhooks,
		Videos:    fd.Videos,
		Uploads:   fd.Uploads,
		System:    fd.System, TranscodeProfiles: transcodeProfileNames(cfg),
		Outputs: fd.Outputs,
		Sources: fd.Sources,
	})
	if err != nil {
		return nil, err
	}
	c.rt.render, c.rt.renderError = c.api.LiveInputData, c.api.LiveInputErrorData
	return c, nil
}

// cursorKey derives the list cursor key from the hash of the oldest API
// token: secret, and the same on every node sharing the database and across
// restarts (tokens are revoked, never deleted).
func cursorKey(ctx context.Context, tokens store.Tokens) ([]byte, error) {
	rows, _, err := tokens.List(ctx, store.ListOptions{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	h := sha256.New()
	h.Write([]byte("mpegflow list cursor key v1\x00"))
	if len(rows) > 0 {
		h.Write(rows[0].Hash)
	}
	return h.Sum(nil), nil
}

// importStatic makes the stored static live inputs those of the
// configuration: created or updated (Static=true, the config's name and
// key, "auto" keys from data_dir via ResolveKeys), and those no longer
// configured deleted.
func importStatic(ctx context.Context, lis store.LiveInputs, cfg *conf.Config, log *slog.Logger) error {
	entries, err := ResolveKeys(cfg)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	want := map[string]bool{}
	for i, e := range entries {
		want[e.ID] = true
		hash := api.HashSecret(e.StreamKey)
		li, err := lis.Get(ctx, e.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			li = &store.LiveInput{ID: e.ID, Name: e.Name, Meta: map[string]any{}, Enabled: true, StreamKey: e.StreamKey, StreamKeyHash: hash,
				SRTPassphrase: e.SRTPassphrase, Recording: store.Recording{Mode: store.RecordingOff}, AllowedOrigins: []string{},
				Static: true, Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := lis.Create(ctx, li); err != nil {
				return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
		}
		if li.Static && li.Name == e.Name && li.StreamKey == e.StreamKey && li.SRTPassphrase == e.SRTPassphrase && li.Enabled {
			continue
		}
		if !li.Static {
			log.Warn("a live input created over the API has the id of a configured one; the configuration wins", "live_input", e.ID)
		}
		li.Static, li.Name, li.StreamKey, li.StreamKeyHash, li.SRTPassphrase, li.Enabled = true, e.Name, e.StreamKey, hash, e.SRTPassphrase, true
		li.UpdatedAt = now
		if err := lis.Update(ctx, li); err != nil {
			return fmt.Errorf("live_inputs[%d]: import: %w", i, err)
		}
	}
	var stale []string
	after := ""
	for {
		rows, more, err := lis.List(ctx, store.ListOptions{Limit: api.MaxLimit, After: after})
		if err != nil {
			return fmt.Errorf("live_inputs: import: %w", err)
		}
		for _, li := range rows {
			if li.Static && !want[li.ID] {
				stale = append(stale, li.ID)
			}
		}
		if !more || len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	for _, id := range stale {
		if err := lis.Delete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("live_inputs: remove %s: %w", id, err)
		}
		log.Info("removed a live input no longer in the configuration", "live_input", id)
	}
	return nil
}

// Directory resolves stream keys and ids against the store.
func (c *control) Directory() auth.Directory { return c.dir }

// Handler serves /v1/ (the API, /v1/events, /v1/openapi.json).
func (c *control) Handler() http.Handler { return c.api.Handler() }

// Bus is the event bus (for webhooks and metrics).
func (c *control) Bus() *events.Bus { return c.bus }

// SetPublisherControl gives the API its actions on publishers and their
// live figures; until it is called, kick and complete answer 501 and
// sessions report no bitrate.
func (c *control) SetPublisherControl(p publisherControl) { c.rt.setControl(p) }

// StreamStarted records that a publisher of live input id was accepted
// (every connection, reconnections included): status connected, a session,
// last_connected_at, and live_input.connected.
func (c *control) StreamStarted(id, protocol, remote string) { c.rt.started(id, protocol, remote) }

// StreamDisconnected records that the publisher of id left while the stream
// waits in its reconnect window: status reconnecting,
// live_input.disconnected.
func (c *control) StreamDisconnected(id string) { c.rt.disconnected(id) }

// StreamEnded records that the broadcast of id ended: status idle,
// live_input.idle (preceded by live_input.disconnected when the publisher
// was still attached).
func (c *control) StreamEnded(id string) { c.rt.ended(id) }

// Errored emits live_input.errored for live input id (a transcoder
// failed): code, message and the live input as the API returns it.
func (c *control) Errored(id, code, message string) { c.rt.errored(id, code, message) }

// Close stops the event streams and closes the store; idempotent.
func (c *control) Close() error {
	c.closeOnce.Do(func() {
		_ = c.api.Close()
		c.bus.Close()
		c.closeErr = c.st.Close()
	})
	return c.closeErr
}

// storeDirectory is the auth.Directory of the control plane.
type storeDirectory struct{ lis store.LiveInputs }

var _ auth.Directory = (*storeDirectory)(nil)

// maxStreamKey bounds the keys looked up (a key is 29 characters; static
// keys may be longer).
const maxStreamKey = 512

// ByStreamKey implements auth.Directory: the key's SHA-256 is looked up,
// then compared in constant time. Disabled inputs give
// ErrLiveInputDisabled.
func (d *storeDirectory) ByStreamKey(ctx context.Context, key string) (auth.LiveInput, error) {
	if key == "" || len(key) > maxStreamKey {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	h := api.HashSecret(key)
	li, err := d.lis.GetByStreamKeyHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	if err != nil {
		return auth.LiveInput{}, fmt.Errorf("resolve stream key: %w", err)
	}
	if subtle.ConstantTimeCompare(li.StreamKeyHash, h) != 1 {
		return auth.LiveInput{}, auth.ErrUnknownKey
	}
	if !li.Enabled {
		return auth.LiveInput{}, ErrLiveInputDisabled
	}
	return auth.LiveInput{ID: li.ID, Name: li.Name, SRTPassphrase: li.SRTPassphrase,
		ReconnectWindow: time.Duration(li.ReconnectWindowSeconds) * time.Second}, nil
}

// ByID implements auth.Directory.
func (d *storeDirectory) ByID(ctx context.Context, id string) (auth.LiveInput, error) {
	li, err := d.lis.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.LiveInput{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.LiveInput{}, fmt.Errorf("resolve live input: %w", err)
	}
	return auth.LiveInput{ID: li.ID, Name: li.Name, SRTPassphrase: li.SRTPassphrase,
		ReconnectWindow: time.Duration(li.ReconnectWindowSeconds) * time.Second}, nil
}

// publisherControl is what the hub side supplies for the API's actions on
// publishers (declared here, where it is consumed).
type publisherControl interface {
	// Kick disconnects the current publisher of a live input (the stream
	// waits in its reconnect window); false when there is none.
	Kick(liveInputID string) bool
	// End ends the broadcast now: publisher disconnected, stream ended
	// (ENDLIST) without the reconnect window; false when idle.
	End(liveInputID string) bool
	// Stats returns the publisher's received bitrate (bits/s over the last
	// seconds), its codecs and the number of viewers now.
	Stats(liveInputID string) (bitrateBPS int64, codecs []string, viewers int)
}

// liveState is the live state of one live input with a stream.
type liveState struct {
	status  string
	session *api.Session
	row     *store.LiveInput // as read at the last connection; nil if unread
}

// liveRuntime implements api.Runtime from the hub hooks, and emits the
// status events (live_input.connected, .disconnected, .idle) through the
// webhook outbox (issue 7): connected in the transaction that records
// last_connected_at, the others (changes of the runtime state alone) in
// their own, before they are published on the bus.
type liveRuntime struct {
	bus *events.Bus
	lis store.LiveInputs
	wh  store.Webhooks
	log *slog.Logger
	// render is the API's live input object (api.Server.LiveInputData),
	// the data of the status events; set once when the API is built.
	render func(li *store.LiveInput, status string) any
	// renderError is the data of live_input.errored
	// (api.Server.LiveInputErrorData); set with render.
	renderError func(li *store.LiveInput, code, message string) any

	mu   sync.Mutex
	live map[string]*liveState
	pc   publisherControl
}

var _ api.Runtime = (*liveRuntime)(nil)

// eventWriteTimeout bounds the store writes of the status hooks.
const eventWriteTimeout = 5 * time.Second

func (r *liveRuntime) setControl(p publisherControl) {
	r.mu.Lock()
	r.pc = p
	r.mu.Unlock()
}

func (r *liveRuntime) control() publisherControl {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pc
}

// data is the data of a status event: the live input as the API returns
// it, with status; {"id", "status"} when the row is gone and was never
// read.
func (r *liveRuntime) data(id string, li *store.LiveInput, status string) any {
	if li == nil || r.render == nil {
		return map[string]string{"id": id, "status": status}
	}
	return r.render(li, status)
}

func (r *liveRuntime) started(id, protocol, remote string) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := &api.Session{ID: api.NewSessionID(now), LiveInputID: id, Protocol: protocol, Remote: remote, StartedAt: now}
	st := &liveState{status: api.StatusConnected, session: s}
	r.mu.Lock()
	r.live[id] = st
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	var ev events.Event
	err := r.lis.SetLastConnectedEmitting(ctx, id, now, func(li *store.LiveInput) ([]*store.WebhookEvent, error) {
		ev = events.New(events.LiveInputConnected, id, r.data(id, li, api.StatusConnected))
		r.mu.Lock()
		st.row = li
		r.mu.Unlock()
		return webhook.ToOutbox(ev)
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			r.log.Error("cannot record the connection and its event; live_input.connected is not delivered", "live_input", id, "error", err)
		}
		ev = events.New(events.LiveInputConnected, id, r.data(id, nil, api.StatusConnected))
	}
	r.bus.Publish(ev)
}

// row returns live input id as stored now, else as read at its last
// connection (it was deleted), else nil.
func (r *liveRuntime) row(ctx context.Context, id string, st *liveState) *store.LiveInput {
	li, err := r.lis.Get(ctx, id)
	if err == nil {
		return li
	}
	if !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("cannot read the live input of a status event", "live_input", id, "error", err)
	}
	if st == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return st.row
}

// emit writes evs to the outbox in one transaction, then publishes them.
func (r *liveRuntime) emit(ctx context.Context, evs ...events.Event) {
	rows, err := webhook.ToOutbox(evs...)
	if err == nil {
		err = r.wh.Emit(ctx, rows...)
	}
	if err != nil {
		r.log.Error("cannot write status events to the webhook outbox; they are not delivered", "events", len(evs), "error", err)
	}
	for _, e := range evs {
		r.bus.Publish(e)
	}
}

// errored emits live_input.errored: the live input as the API returns it
// and {code, message}.
func (r *liveRuntime) errored(id, code, message string) {
	r.mu.Lock()
	st := r.live[id]
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	var data any = events.ErrorData{Code: code, Message: message}
	if li := r.row(ctx, id, st); li != nil && r.renderError != nil {
		data = r.renderError(li, code, message)
	}
	r.emit(ctx, events.New(events.LiveInputErrored, id, data))
}

func (r *liveRuntime) disconnected(id string) {
	r.mu.Lock()
	st := r.live[id]
	var s *api.Session
	if st != nil {
		s = st.session
		st.status, st.session = api.StatusReconnecting, nil
	}
	r.mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	r.emit(ctx, events.New(events.LiveInputDisconnected, id, r.data(id, r.row(ctx, id, st), api.StatusReconnecting)))
}

func (r *liveRuntime) ended(id string) {
	r.mu.Lock()
	st := r.live[id]
	delete(r.live, id)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	data := r.data(id, r.row(ctx, id, st), api.StatusIdle)
	var evs []events.Event
	if st != nil && st.session != nil {
		evs = append(evs, events.New(events.LiveInputDisconnected, id, data))
	}
	r.emit(ctx, append(evs, events.New(events.LiveInputIdle, id, data))...)
}

// Status implements api.Runtime.
func (r *liveRuntime) Status(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.live[id]; st != nil {
		return st.status
	}
	return api.StatusIdle
}

// Sessions implements api.Runtime.
func (r *liveRuntime) Sessions(id string) []api.Session {
	r.mu.Lock()
	st, pc := r.live[id], r.pc
	var s api.Session
	ok := st != nil && st.session != nil
	if ok {
		s = *st.session
	}
	r.mu.Unlock()
	if !ok {
		return nil
	}
	if pc != nil {
		s.BitrateBPS, s.Codecs, s.Viewers = pc.Stats(id)
	}
	if s.Codecs == nil {
		s.Codecs = []string{}
	}
	return []api.Session{s}
}

// Session implements api.SessionLookup.
func (r *liveRuntime) Session(sid string) (api.Session, bool) {
	r.mu.Lock()
	id := ""
	for lid, st := range r.live {
		if st.session != nil && st.session.ID == sid {
			id = lid
		}
	}
	r.mu.Unlock()
	for _, s := range r.Sessions(id) {
		if s.ID == sid {
			return s, true
		}
	}
	return api.Session{}, false
}

var _ api.SessionLookup = (*liveRuntime)(nil)

// Kick implements api.Runtime.
func (r *liveRuntime) Kick(sid string) (string, error) {
	r.mu.Lock()
	id := ""
	for lid, st := range r.live {
		if st.session != nil && st.session.ID == sid {
			id = lid
		}
	}
	pc := r.pc
	r.mu.Unlock()
	if id == "" {
		return "", api.ErrNoSession
	}
	if pc == nil {
		return "", api.ErrNotSupported
	}
	if !pc.Kick(id) {
		return "", api.ErrNoSession
	}
	return id, nil
}

// End implements api.Runtime.
func (r *liveRuntime) End(id string) error {
	pc := r.control()
	if pc == nil {
		return api.ErrNotSupported
	}
	pc.End(id)
	return nil
}

// liveIDs returns the ids with a stream, sorted (tests).
func (r *liveRuntime) liveIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.live))
	for id := range r.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
