package web

import (
	"io/fs"
	"net/http"
	"path"
)

// Paths of the web console inside [FS].
const (
	consoleIndex = "console/index.html"
	consoleDist  = "console/dist"
	consoleApp   = "console/dist/app.js"
)

// HasConsole reports whether the console bundle was built into this
// binary (make build runs esbuild before go build).
func HasConsole() bool {
	_, err := fs.Stat(files, consoleApp)
	return err == nil
}

// consoleCSP keeps the console to its own origin: scripts and styles from
// the daemon only (hls.js from /static/), the API and its WebSocket on the
// same host, media from the daemon and blob: (Media Source Extensions), and
// no framing.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// ConsoleHandler serves the web console with paths relative to its mount
// point: mount it with http.StripPrefix("/console", ...) at "GET /console/".
// "/" is the page; "/app.js", "/app.css" the bundle. A binary built without
// the bundle answers 503 with a line saying how to build it.
func ConsoleHandler() http.Handler {
	dist, err := fs.Sub(files, consoleDist)
	if err != nil {
		panic("web: console/dist missing from embed: " + err.Error()) // impossible: embedded at compile time
	}
	assets := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if !HasConsole() {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("the web console was not built into this binary: run make build (it needs npm)\n"))
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/" || p == "/index.html" {
			page, _ := files.ReadFile(consoleIndex)
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(page)
			return
		}
		if p == "/README.txt" {
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		assets.ServeHTTP(w, r)
	})
}
