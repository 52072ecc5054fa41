// Package web holds the browser-facing assets of MpegFlow, embedded into the
// binary: the live player page and the static files it loads.
//
// Paths inside [FS]:
//
//	player.html          the player page. The daemon serves it for
//	                     GET /live/{id}/ (note the trailing slash: the page
//	                     loads "index.m3u8" relative to its own URL, and the
//	                     query string of the page URL, e.g. a playback token,
//	                     is carried onto that request). /live/{id} should
//	                     redirect to /live/{id}/.
//	static/hls.min.js    hls.js from npm, copied in by the Makefile before
//	                     go build (cp node_modules/hls.js/dist/hls.min.js
//	                     web/static/hls.min.js); absent in a plain checkout.
//	static/tus.min.js    tus-js-client from npm, copied in by the Makefile
//	                     like hls.js (node_modules/tus-js-client/dist/tus.min.js).
//	static/README.txt    placeholder that keeps the embed pattern valid.
//	upload.html          the upload page, served at /upload/: a file picked
//	                     or dropped goes with tus-js-client to a one-time
//	                     upload URL (given in the page URL's fragment, or
//	                     made with an API token), with a progress bar, pause
//	                     and resume, then the video plays with hls.js at every
//	                     rung of its ladder.
//	console/index.html   the web console's page; console/dist/ holds its
//	                     bundle (app.js, app.css) built by the Makefile with
//	                     esbuild from console/src, absent in a plain
//	                     checkout (see [ConsoleHandler]).
//
// The page loads hls.js from "../../static/hls.min.js", that is /static/hls.min.js
// when it is served at /live/{id}/: the daemon serves [FS]'s static/ tree
// under /static/ (for example with http.FileServerFS(web.FS())). To load
// hls.js from another URL (a CDN or an operator's own copy), serve
// [PlayerPage] with that URL instead of the raw player.html.
//
// The page plays with hls.js (lowLatencyMode: true) where Media Source
// Extensions exist and falls back to the browser's native HLS
// (video.canPlayType("application/vnd.apple.mpegurl"), Safari on iOS)
// otherwise. It shows the status and the latency Date.now() - hls.playingDate
// (the wall-clock of EXT-X-PROGRAM-DATE-TIME of the frame on screen), and
// exposes window.mpegflow = {hls, engine, latency()} for tests. With
// ?protocol=webrtc it plays over WHEP (/whep/ID) instead, and falls back to
// LL-HLS with a visible note when WebRTC fails (window.mpegflow.fallback
// holds the reason, .pc the RTCPeerConnection).
package web

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"net/http"
)

// PlayerPath is the path of the player page inside [FS].
const PlayerPath = "player.html"

// PublishPath is the path of the "go live from the browser" page (WHIP)
// inside [FS], served at /live/{id}/publish.
const PublishPath = "publish.html"

// UploadPath is the path of the upload page inside [FS], served at
// /upload/; it loads "../static/tus.min.js" and "../static/hls.min.js".
const UploadPath = "upload.html"

// TusJSPath is the path of tus-js-client inside [FS], present only when
// the build copied it from node_modules.
const TusJSPath = "static/tus.min.js"

// HLSJSPath is the path of hls.js inside [FS], present only when the build
// copied it from node_modules.
const HLSJSPath = "static/hls.min.js"

// DefaultHLSJSURL is the script URL that player.html uses, relative to the
// page URL /live/{id}/.
const DefaultHLSJSURL = "../../static/hls.min.js"

//go:embed player.html publish.html upload.html static console/index.html console/dist
var files embed.FS

// FS returns the embedded assets: player.html and the static/ directory.
func FS() fs.FS { return files }

// HasHLSJS reports whether hls.js was embedded at build time.
func HasHLSJS() bool {
	_, err := fs.Stat(files, HLSJSPath)
	return err == nil
}

// PlayerPage returns the player page loading hls.js from hlsJSURL (attribute
// escaped). An empty hlsJSURL returns the page unchanged, which loads
// [DefaultHLSJSURL].
func PlayerPage(hlsJSURL string) []byte {
	page, err := files.ReadFile(PlayerPath)
	if err != nil {
		panic("web: player.html missing from embed: " + err.Error()) // impossible: embedded at compile time
	}
	if hlsJSURL == "" || hlsJSURL == DefaultHLSJSURL {
		return page
	}
	old := []byte(`<script src="` + DefaultHLSJSURL + `">`)
	repl := []byte(`<script src="` + html.EscapeString(hlsJSURL) + `">`)
	return bytes.Replace(page, old, repl, 1)
}

// UploadPageHandler serves the upload page ([UploadPath]); mount it on
// "GET /upload/{$}". The page sends nothing to the server but to the
// upload URL it is given, and keeps that URL (a credential) in the
// fragment, out of logs and Referer headers.
func UploadPageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		page, err := files.ReadFile(UploadPath)
		if err != nil {
			http.Error(w, "upload page missing", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(page)
	})
}
