package app

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/mpegflow/mpegflow/web"
)

// routes builds the handler of http.address: health, the player page, the
// embedded static files and the HLS tree of every live input.
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("starting\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	static, _ := fs.Sub(web.FS(), "static")
	mux.Handle("GET /static/", a.cors(http.StripPrefix("/static/", http.FileServerFS(static))))
	page := web.PlayerPage(a.cfg.HTTP.HLSJSURL)
	mux.HandleFunc("GET /live/{id}", func(w http.ResponseWriter, r *http.Request) {
		u := "/live/" + r.PathValue("id") + "/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
	})
	publish, _ := fs.ReadFile(web.FS(), web.PublishPath)
	live := a.cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest := r.PathValue("rest")
		if rest == "publish" {
			// the publisher's page: the stream key it asks for is the
			// credential, so playback rules do not apply
			a.servePage(w, r, r.PathValue("id"), publish)
			return
		}
		id, ok := a.checkPlayback(w, r, r.PathValue("id"))
		if !ok {
			return
		}
		if rest == "" {
			a.servePage(w, r, id, page)
			return
		}
		a.hls.ServeStream(w, r, id, rest)
	}))
	mux.Handle("/live/{id}/{rest...}", live)
	a.recordingRoutes(mux) // /videos/{id}/...: recordings (recording.go)
	a.uploadRoutes(mux)    // /uploads/...: tus direct uploads (uploads.go)
	if a.whip != nil {
		mux.Handle("/whip/", a.whip.Handler())
	}
	if a.whep != nil {
		mux.Handle("/whep/", a.whep.Handler())
	}
	mux.Handle("/v1/", a.metrics.API(a.control.Handler()))
	a.rpcRoutes(mux)
	mux.Handle("GET /console/", http.StripPrefix("/console", web.ConsoleHandler())) // the web console (web/console)
	mux.Handle("OPTIONS /static/", a.cors(http.NotFoundHandler()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("MpegFlow\n\nplayback: /live/ID/index.m3u8\nplayer:   /live/ID/\nhealth:   /healthz /readyz\n"))
	})
	return mux
}

// servePage writes one of the embedded HTML pages of live input id, or 404
// when there is no such input.
func (a *App) servePage(w http.ResponseWriter, r *http.Request, id string, page []byte) {
	if _, err := a.dir.ByID(r.Context(), id); err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(page)
}

// cors answers preflights and sets Access-Control-Allow-Origin as configured
// (http.cors_allow_origin; "" disables CORS).
func (a *App) cors(h http.Handler) http.Handler {
	origin := a.cfg.HTTP.CORSAllowOrigin
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
