package playback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Stores are the store tables signed playback reads.
type Stores interface {
	SigningKeys() store.SigningKeys
	LiveInputs() store.LiveInputs
	Videos() store.Videos
}

// SetupConfig configures Setup.
type SetupConfig struct {
	Store          Stores
	TokenCacheSize int      // verified tokens kept (VerifierConfig.CacheSize)
	GeoIPDatabase  string   // MaxMind database path; "" = no country rules
	TrustedProxies []string // http.trusted_proxies
	// PlayURL and PublishURL are the admission hooks ("" = none), called
	// with Timeout; FailOpen admits when a hook cannot be reached.
	PlayURL, PublishURL string
	Timeout             time.Duration
	FailOpen            bool
	// Registerer receives mpegflow_playback_refused_total{reason}.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Service is signed playback as the daemon runs it: the gate of every
// /live/ request, the gate of every /videos/ request, and the publish
// admission hook.
type Service struct {
	Live    *Gate // /live/: sub = live input id, the play hook
	Videos  *Gate // /videos/: sub = video id, no play hook
	geo     *GeoIP
	publish *Hook
	once    sync.Once
}

// Setup builds signed playback: the token verifier over the store's
// signing keys (the server's minting key among them, created when
// missing), the GeoIP database, the trusted proxies, the admission hooks
// and the refusal metric.
func Setup(ctx context.Context, cfg SetupConfig) (_ *Service, err error) {
	keys := cfg.Store.SigningKeys()
	ver, err := NewVerifier(VerifierConfig{Keys: keys, CacheSize: cfg.TokenCacheSize})
	if err != nil {
		return nil, err
	}
	// the minting key is a signing key row like the others (listed,
	// revocable, verified through the store); make sure it exists
	if _, _, err := MintKey(ctx, keys); err != nil {
		return nil, err
	}
	proxies, err := ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("http.%w", err)
	}
	s := &Service{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.GeoIPDatabase != "" {
		if s.geo, err = OpenGeoIP(cfg.GeoIPDatabase); err != nil {
			return nil, fmt.Errorf("geoip.database: %w", err)
		}
	}
	var hookKey []byte
	if cfg.PlayURL != "" || cfg.PublishURL != "" {
		if hookKey, err = AdmissionKey(ctx, keys); err != nil {
			return nil, err
		}
	}
	hook := func(url string) (*Hook, error) {
		return NewHook(HookConfig{URL: url, Secret: hookKey, Timeout: cfg.Timeout, FailOpen: cfg.FailOpen, Logger: cfg.Logger})
	}
	play, err := hook(cfg.PlayURL)
	if err == nil {
		s.publish, err = hook(cfg.PublishURL)
	}
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mpegflow_playback_refused_total",
		Help: "Playback requests refused, by reason (token_expired, access_rule_blocked, ...).",
	}, []string{"reason"})
	if err := cfg.Registerer.Register(refused); err != nil {
		return nil, fmt.Errorf("playback metrics: %w", err)
	}
	count := func(r Reason) { refused.WithLabelValues(string(r)).Inc() }
	lis, vids := cfg.Store.LiveInputs(), cfg.Store.Videos()
	s.Live, err = NewGate(GateConfig{Verifier: ver, Geo: s.geo, Proxies: proxies, Play: play, Logger: cfg.Logger, Refused: count,
		Policies: func(ctx context.Context, id string) (Policy, error) {
			li, err := lis.Get(ctx, id)
			if err != nil {
				return Policy{}, policyErr(err)
			}
			return Policy{ID: li.ID, RequireSignedURLs: li.RequireSignedURLs, AllowedOrigins: li.AllowedOrigins}, nil
		}})
	if err != nil {
		return nil, err
	}
	s.Videos, err = NewGate(GateConfig{Verifier: ver, Geo: s.geo, Proxies: proxies, Logger: cfg.Logger, Refused: count,
		Policies: func(ctx context.Context, id string) (Policy, error) {
			v, err := vids.Get(ctx, id)
			if err != nil {
				return Policy{}, policyErr(err)
			}
			return Policy{ID: v.ID, RequireSignedURLs: v.RequireSignedURLs, AllowedOrigins: v.AllowedOrigins}, nil
		}})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func policyErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoInput
	}
	return err
}

// Directory returns d, decorated with the publish admission hook when one
// is configured: a publisher with a valid stream key is then accepted only
// when the hook allows it (its answer cached per client and live input). A
// refusal is auth.ErrRefused with the hook's reason, which ingest logs.
func (s *Service) Directory(d auth.Directory) auth.Directory {
	if s.publish == nil {
		return d
	}
	return &PublishDirectory{Directory: d, Hook: s.publish, Geo: s.geo}
}

// Close releases the GeoIP database; idempotent.
func (s *Service) Close() {
	s.once.Do(func() { _ = s.geo.Close() })
}
