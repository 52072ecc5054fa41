package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/store"
)

// playbackState is signed playback (issue 6): the gate every /live/
// request passes, the publish admission hook, the GeoIP database.
type playbackState struct {
	gate    *playback.Gate // /live/
	videos  *playback.Gate // /videos/: sub = video id, no play hook
	geo     *playback.GeoIP
	publish *playback.Hook
	once    sync.Once
}

// initPlayback builds signed playback (issue 6): the token verifier over
// the store's signing keys (the server's minting key among them), the GeoIP
// database (geoip.database), the trusted proxies, the admission hooks, and
// the refusal metric mpegflow_playback_refused_total{reason}.
func (a *App) initPlayback(st store.Store, _ *events.Bus) (api.SigningDeps, error) {
	ctx := context.Background()
	log := a.log.With("component", "playback")
	ver, err := playback.NewVerifier(playback.VerifierConfig{Keys: st.SigningKeys(), CacheSize: a.cfg.Playback.TokenCacheSize})
	if err != nil {
		return api.SigningDeps{}, err
	}
	// the minting key is a signing key row like the others (listed,
	// revocable, verified through the store); make sure it exists
	if _, _, err := playback.MintKey(ctx, st.SigningKeys()); err != nil {
		return api.SigningDeps{}, err
	}
	proxies, err := playback.ParseProxies(a.cfg.HTTP.TrustedProxies)
	if err != nil {
		return api.SigningDeps{}, fmt.Errorf("http.%w", err)
	}
	pb := &playbackState{}
	if a.cfg.GeoIP.Database != "" {
		if pb.geo, err = playback.OpenGeoIP(a.cfg.GeoIP.Database); err != nil {
			return api.SigningDeps{}, fmt.Errorf("geoip.database: %w", err)
		}
	}
	var hookKey []byte
	if a.cfg.Admission.PlayURL != "" || a.cfg.Admission.PublishURL != "" {
		if hookKey, err = playback.AdmissionKey(ctx, st.SigningKeys()); err != nil {
			_ = pb.geo.Close()
			return api.SigningDeps{}, err
		}
	}
	hook := func(url string) (*playback.Hook, error) {
		return playback.NewHook(playback.HookConfig{URL: url, Secret: hookKey, Timeout: a.cfg.Admission.Timeout.D(),
			FailOpen: a.cfg.Admission.OnError == "allow", Logger: log})
	}
	play, err := hook(a.cfg.Admission.PlayURL)
	if err == nil {
		pb.publish, err = hook(a.cfg.Admission.PublishURL)
	}
	if err != nil {
		_ = pb.geo.Close()
		return api.SigningDeps{}, fmt.Errorf("admission: %w", err)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_playback_refused_total",
		Help: "Playback requests refused, by reason (token_expired, access_rule_blocked, ...).",
	}, []string{"reason"})
	if err := a.metrics.Registry.Register(refused); err != nil {
		_ = pb.geo.Close()
		return api.SigningDeps{}, fmt.Errorf("playback metrics: %w", err)
	}
	lis := st.LiveInputs()
	pb.gate, err = playback.NewGate(playback.GateConfig{
		Verifier: ver,
		Policies: func(ctx context.Context, id string) (playback.Policy, error) {
			li, err := lis.Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return playback.Policy{}, playback.ErrNoInput
			}
			if err != nil {
				return playback.Policy{}, err
			}
			return playback.Policy{ID: li.ID, RequireSignedURLs: li.RequireSignedURLs, AllowedOrigins: li.AllowedOrigins}, nil
		},
		Geo: pb.geo, Proxies: proxies, Play: play, Logger: log,
		Refused: func(r playback.Reason) { refused.WithLabelValues(string(r)).Inc() },
	})
	if err != nil {
		_ = pb.geo.Close()
		return api.SigningDeps{}, err
	}
	vids := st.Videos()
	pb.videos, err = playback.NewGate(playback.GateConfig{
		Verifier: ver,
		Policies: func(ctx context.Context, id string) (playback.Policy, error) {
			v, err := vids.Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return playback.Policy{}, playback.ErrNoInput
			}
			if err != nil {
				return playback.Policy{}, err
			}
			return playback.Policy{ID: v.ID, RequireSignedURLs: v.RequireSignedURLs, AllowedOrigins: v.AllowedOrigins}, nil
		},
		Geo: pb.geo, Proxies: proxies, Logger: log,
		Refused: func(r playback.Reason) { refused.WithLabelValues(string(r)).Inc() },
	})
	if err != nil {
		_ = pb.geo.Close()
		return api.SigningDeps{}, err
	}
	a.pb = pb
	return api.SigningDeps{}, nil
}

// checkPlayback authorizes a playback request: every request under
// /live/{idOrToken}/ (player page, playlists, blocking reloads, init
// segments, parts, segments). idOrToken is a live input id, or a playback
// token in its place; a token may also come as ?token=. It is the HTTP
// edge of playback, so it chooses the status codes: 401 for a missing or
// invalid token, 403 for a valid one that does not grant this request
// (another input, an access rule, the origin, the admission hook), 503
// when the keys cannot be read; the body is {"error": {"code": reason,
// "message": ...}} like the API's errors.
func (a *App) checkPlayback(w http.ResponseWriter, r *http.Request, idOrToken string) (string, bool) {
	if a.pb == nil { // initPlayback did not run: refuse rather than serve unchecked
		http.Error(w, "playback unavailable", http.StatusServiceUnavailable)
		return "", false
	}
	return a.checkGate(w, r, a.pb.gate, idOrToken, "live_input")
}

// checkVideo authorizes a request under /videos/{idOrToken}/ (player page,
// playlist, init segments, segments, thumbnails, MP4 download) with the
// rules of live inputs: the video's require_signed_urls (a token whose sub
// is the video id, in the path in place of the id or as ?token=), its
// allowed_origins and the token's access rules; refusals as checkPlayback.
// The play admission hook is not called for videos.
func (a *App) checkVideo(w http.ResponseWriter, r *http.Request, idOrToken string) (string, bool) {
	if a.pb == nil {
		http.Error(w, "playback unavailable", http.StatusServiceUnavailable)
		return "", false
	}
	return a.checkGate(w, r, a.pb.videos, idOrToken, "video")
}

// checkGate runs gate over a request whose path element idOrToken names
// the resource (logged as kind) and answers the refusals.
func (a *App) checkGate(w http.ResponseWriter, r *http.Request, gate *playback.Gate, idOrToken, kind string) (string, bool) {
	rest := r.PathValue("rest")
	playlist := rest == "" || strings.HasSuffix(rest, ".m3u8")
	res, err := gate.Check(r.Context(), r, idOrToken, playlist)
	if err != nil {
		reason := playback.ReasonOf(err)
		status := reason.Status()
		if reason == playback.ReasonUnavailable {
			a.log.Warn("playback authorization unavailable", "error", err)
		}
		elem := idOrToken
		if playback.LooksLikeToken(elem) {
			elem = "(token)" // a bearer credential: never logged
		}
		a.log.Debug("playback refused", "reason", string(reason), kind, elem, "resource", rest)
		msg := reason.Message()
		if m := playback.HookReason(err); m != "" {
			msg = m
		}
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": string(reason), "message": msg}})
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = w.Write(append(b, '\n'))
		return "", false
	}
	if res.Private {
		playback.MarkPrivate(w.Header())
	}
	if res.Origin != "" && w.Header().Get("Access-Control-Allow-Origin") != "" {
		// allowed_origins: CORS names the origin rather than *
		w.Header().Set("Access-Control-Allow-Origin", res.Origin)
		w.Header().Add("Vary", "Origin")
	}
	return res.ID, true
}

func (a *App) closePlayback() {
	if a.pb == nil {
		return
	}
	a.pb.once.Do(func() { _ = a.pb.geo.Close() })
}

// wrapDirectory returns d, decorated with the publish admission hook when
// admission.publish_url is set: a publisher with a valid stream key is
// then accepted only when the hook allows it (its answer cached per client
// and live input for ttl_seconds). A refusal is auth.ErrRefused with the
// hook's reason, which ingest logs.
func (a *App) wrapDirectory(d auth.Directory) auth.Directory {
	if a.pb == nil || a.pb.publish == nil {
		return d
	}
	return &playback.PublishDirectory{Directory: d, Hook: a.pb.publish, Geo: a.pb.geo}
}
