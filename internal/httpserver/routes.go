// Package httpserver is the handler of the playback listener
// (http.address): health, the embedded player, publish and console pages
// and static files, the LL-HLS tree of every live input behind its
// playback gate, recorded videos, WHIP, and the control API.
package httpserver

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/output/vodhttp"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/web"
)

// LiveServer serves the LL-HLS tree under /live/ID/ (hlsout.Server).
type LiveServer interface {
	ServeStream(w http.ResponseWriter, r *http.Request, id, rest string)
}

// Inputs resolves live input ids (the player and publish pages of unknown
// inputs are 404).
type Inputs interface {
	ByID(ctx context.Context, id string) (auth.LiveInput, error)
}

// Config configures the handler.
type Config struct {
	// CORSAllowOrigin is http.cors_allow_origin ("" disables CORS).
	CORSAllowOrigin string
	// HLSJSURL is where the player page loads hls.js from.
	HLSJSURL string
	Live     LiveServer
	Inputs   Inputs
	// LiveGate authorizes every request under /live/{idOrToken}/ but the
	// publish page; nil refuses them with 503.
	LiveGate *playback.Gate
	// Videos serves /videos/{id}/...; nil: not mounted.
	Videos http.Handler
	// WHIP serves /whip/; nil: not mounted.
	WHIP http.Handler
	// API serves /v1/.
	API http.Handler
	// Routes are more routes (features' endpoints).
	Routes []Route
	// Ready reports readiness for /readyz.
	Ready  *atomic.Bool
	Logger *slog.Logger
}

// Route is one more route of the listener.
type Route struct {
	Pattern string
	Handler http.Handler
}

// New returns the handler of the playback listener.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cors := CORS(cfg.CORSAllowOrigin)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Ready == nil || !cfg.Ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("starting\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	static, _ := fs.Sub(web.FS(), "static")
	mux.Handle("GET /static/", cors(http.StripPrefix("/static/", http.FileServerFS(static))))
	page := web.PlayerPage(cfg.HLSJSURL)
	mux.HandleFunc("GET /live/{id}", vodhttp.Redirect("/live/"))
	publish, _ := fs.ReadFile(web.FS(), web.PublishPath)
	mux.Handle("/live/{id}/{rest...}", cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest := r.PathValue("rest")
		if rest == "publish" {
			// the publisher's page: the stream key it asks for is the
			// credential, so playback rules do not apply
			servePage(w, r, cfg.Inputs, r.PathValue("id"), publish)
			return
		}
		id, ok := vodhttp.Authorize(w, r, cfg.LiveGate, r.PathValue("id"), "live_input", cfg.Logger)
		if !ok {
			return
		}
		if rest == "" {
			servePage(w, r, cfg.Inputs, id, page)
			return
		}
		cfg.Live.ServeStream(w, r, id, rest)
	})))
	mux.HandleFunc("GET /videos/{id}", vodhttp.Redirect("/videos/"))
	if cfg.Videos != nil {
		mux.Handle("/videos/{id}/{rest...}", cors(cfg.Videos))
	}
	if cfg.WHIP != nil {
		mux.Handle("/whip/", cfg.WHIP)
	}
	mux.Handle("/v1/", cfg.API)
	for _, rt := range cfg.Routes {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.Handle("GET /console/", http.StripPrefix("/console", web.ConsoleHandler())) // the web console (web/console)
	mux.Handle("OPTIONS /static/", cors(http.NotFoundHandler()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("MpegFlow\n\nplayback: /live/ID/index.m3u8\nplayer:   /live/ID/\nhealth:   /healthz /readyz\n"))
	})
	return mux
}

// servePage writes one of the embedded HTML pages of live input id, or 404
// when there is no such input.
func servePage(w http.ResponseWriter, r *http.Request, inputs Inputs, id string, page []byte) {
	if _, err := inputs.ByID(r.Context(), id); err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(page)
}

// CORS returns a wrapper that answers preflights and sets
// Access-Control-Allow-Origin to origin ("" disables CORS: preflights get
// 204 without headers).
func CORS(origin string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if origin != "" {
				hd := w.Header()
				hd.Set("Access-Control-Allow-Origin", origin)
				if origin != "*" {
					hd.Add("Vary", "Origin")
				}
				hd.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Age, Date")
				if r.Method == http.MethodOptions {
					hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
					if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
						hd.Set("Access-Control-Allow-Headers", sanitizeHeaderList(req))
					}
					hd.Set("Access-Control-Max-Age", "86400")
					w.WriteHeader(http.StatusNoContent)
					return
				}
			} else if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// sanitizeHeaderList echoes only header-name characters.
func sanitizeHeaderList(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == ',', r == ' ':
			return r
		}
		return -1
	}, s)
}

// H2C is the protocols of the playback listener: HTTP/1.1, and HTTP/2
// without TLS (prior knowledge) for gRPC clients.
func H2C() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}
