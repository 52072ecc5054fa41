// Package vodhttp serves recorded videos over HTTP: the player page, the
// HLS playlist (VOD once ready, EVENT while recording), init and media
// segments, thumbnails and the progressive MP4, each behind the playback
// gate of videos. Errors are answered through internal/api's error table.
package vodhttp

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
)

// Config configures the Handler.
type Config struct {
	// Recorder serves the videos' files; nil: every video is 404.
	Recorder *record.Recorder
	// Blobs is the recorder's blob store (cached on-demand thumbnails).
	Blobs blob.Store
	// Gate authorizes every request (sub = video id, no play hook); nil:
	// every request is refused with 503.
	Gate *playback.Gate
	// PlayerPage is the HTML of GET /videos/{id}/.
	PlayerPage []byte
	Logger     *slog.Logger
}

// Handler serves:
//
//	GET /videos/{id}/                 the player page
//	GET /videos/{id}/index.m3u8       HLS playlist: VOD when ready, EVENT while recording (DVR);
//	                                  multivariant for a video made from a file with a ladder
//	GET /videos/{id}/{rung}/index.m3u8, initN.mp4, segN.m4s   one rendition of a ladder
//	GET /videos/{id}/initN.mp4        init segments (ISO/IEC 14496-12 ftyp+moov)
//	GET /videos/{id}/segN.m4s         media segments (moof+mdat)
//	GET /videos/{id}/thumbnail.jpg    JPEG; ?time=SECONDS&width=PIXELS (cached)
//	GET /videos/{id}/download.mp4     progressive MP4 (built on first request), byte ranges
//
// {id} may be a playback token in place of the id, and any request may
// carry one as ?token= (required when the video has require_signed_urls);
// the playlist carries ?token= onto its URIs. Mount it on the pattern
// "/videos/{id}/{rest...}".
type Handler struct{ cfg Config }

// New returns the Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg}
}

// Redirect answers GET /videos/{id} with the player page's URL.
func Redirect(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := prefix + r.PathValue("id") + "/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery // a playback token stays on
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.cfg.Recorder == nil {
		http.NotFound(w, r)
		return
	}
	id, ok := Authorize(w, r, h.cfg.Gate, r.PathValue("id"), "video", h.cfg.Logger)
	if !ok {
		return
	}
	if blob.CheckKey(record.Prefix(id)+"x") != nil {
		http.NotFound(w, r)
		return
	}
	rec := h.cfg.Recorder
	ctx := r.Context()
	hd := w.Header()
	switch rest := r.PathValue("rest"); rest {
	case "":
		if _, err := rec.Video(ctx, id); err != nil {
			h.error(w, r, err)
			return
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-cache")
		_, _ = w.Write(h.cfg.PlayerPage)
	case "index.m3u8":
		b, final, err := rec.Playlist(ctx, id)
		if err != nil {
			h.error(w, r, err)
			return
		}
		// ?token= (and any other parameter) goes onto every URI, as live
		b = hls.CarryQuery(b, r.URL.RawQuery)
		hd.Set("Content-Type", "application/vnd.apple.mpegurl")
		if final {
			hd.Set("Cache-Control", playback.CacheControl(hd, "max-age=60"))
		} else {
			hd.Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(b)
	case "thumbnail.jpg":
		h.thumbnail(w, r, id)
	case "download.mp4":
		if _, err := rec.MP4(ctx, id); err != nil {
			h.error(w, r, err)
			return
		}
		hd.Set("Content-Disposition", `attachment; filename="`+id+`.mp4"`)
		h.serveBlob(w, r, id, rest, "video/mp4", "max-age=3600")
	default:
		if rung, ok := strings.CutSuffix(rest, "/"+record.PlaylistName); ok {
			b, err := rec.RenditionPlaylist(ctx, id, rung)
			if err != nil {
				h.error(w, r, err)
				return
			}
			hd.Set("Content-Type", "application/vnd.apple.mpegurl")
			hd.Set("Cache-Control", playback.CacheControl(hd, "max-age=60"))
			_, _ = w.Write(hls.CarryQuery(b, r.URL.RawQuery))
			return
		}
		ct := "video/mp4"
		if path.Ext(rest) == ".m4s" {
			ct = "video/iso.segment"
		}
		h.serveBlob(w, r, id, rest, ct, "public, max-age=31536000, immutable")
	}
}

// thumbnail serves thumbnail.jpg of video id.
func (h *Handler) thumbnail(w http.ResponseWriter, r *http.Request, id string) {
	tq, err := record.ParseThumbnailQuery(r.URL.Query())
	if err != nil {
		h.error(w, r, err)
		return
	}
	key, err := h.cfg.Recorder.Thumbnail(r.Context(), id, tq.At, tq.Width)
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.serveBlob(w, r, id, path.Base(key), "image/jpeg", "max-age=3600")
}

// serveBlob serves a file of a video with byte ranges (RFC 9110 §14).
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, id, name, contentType, cache string) {
	var o blob.Object
	var err error
	if len(name) > 64 || strings.Count(name, "/") > 1 { // a rendition's files are in a directory; Open checks the names

		err = record.ErrNotFound
	} else if o, err = h.cfg.Recorder.Open(r.Context(), id, name); err == nil {
		defer o.Close()
	}
	if err != nil && path.Ext(name) == ".jpg" && h.cfg.Blobs != nil {
		// thumbnails with a time or width are not among the names Open serves
		if o2, err2 := h.cfg.Blobs.Open(r.Context(), record.Prefix(id)+name); err2 == nil {
			o, err = o2, nil
			defer o.Close()
		}
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", playback.CacheControl(hd, cache))
	http.ServeContent(w, r, "", o.Info().ModTime, o)
}

// error answers a recorder error through the API's error table.
func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	e := api.MediaError(err)
	if e == nil {
		return // the client went away
	}
	if e.Code == api.CodeInternal {
		h.cfg.Logger.Error("serving a video", "path", r.URL.Path, "error", err)
	}
	api.WriteError(w, e)
}

// Authorize runs gate over a request whose path element idOrToken names
// the resource (logged as kind) and answers the refusals through the API's
// error table (api.PlaybackRefusal); it returns the resource's id. With
// allowed_origins, CORS names the request's origin rather than *. A nil
// gate refuses with 503 rather than serve unchecked.
func Authorize(w http.ResponseWriter, r *http.Request, gate *playback.Gate, idOrToken, kind string, log *slog.Logger) (string, bool) {
	if gate == nil {
		http.Error(w, "playback unavailable", http.StatusServiceUnavailable)
		return "", false
	}
	rest := r.PathValue("rest")
	playlist := rest == "" || strings.HasSuffix(rest, ".m3u8")
	res, err := gate.Check(r.Context(), r, idOrToken, playlist)
	if err != nil {
		e := api.PlaybackRefusal(err)
		if e.Status == http.StatusServiceUnavailable {
			log.Warn("playback authorization unavailable", "error", err)
		}
		elem := idOrToken
		if playback.LooksLikeToken(elem) {
			elem = "(token)" // a bearer credential: never logged
		}
		log.Debug("playback refused", "reason", e.Code, kind, elem, "resource", rest)
		api.WriteError(w, e)
		return "", false
	}
	if res.Private {
		playback.MarkPrivate(w.Header())
	}
	if res.Origin != "" && w.Header().Get("Access-Control-Allow-Origin") != "" {
		w.Header().Set("Access-Control-Allow-Origin", res.Origin)
		w.Header().Add("Vary", "Origin")
	}
	return res.ID, true
}
