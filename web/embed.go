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
//	static/README.txt    placeholder that keeps the embed pattern valid.
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
)

// PlayerPath is the path of the player page inside [FS].
const PlayerPath = "player.html"

// PublishPath is the path of the "go live from the browser" page (WHIP)
// inside [FS], served at /live/{id}/publish.
const PublishPath = "publish.html"

// HLSJSPath is the path of hls.js inside [FS], present only when the build
// copied it from node_modules.
const HLSJSPath = "static/hls.min.js"

// DefaultHLSJSURL is the script URL that player.html uses, relative to the
// page URL /live/{id}/.
const DefaultHLSJSURL = "../../static/hls.min.js"

//go:embed player.html publish.html static console/index.html console/dist
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
