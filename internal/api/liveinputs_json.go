package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Limits of live input fields.
const (
	maxNameLen        = 256      // characters
	maxMetaBytes      = 16 << 10 // serialized
	maxReconnectSecs  = 3600     //
	maxDeleteAfter    = 36500    // days
	maxAllowedOrigins = 32       //
	maxOriginLen      = 2048     //
	maxLadder         = 8        // transcode.ladder entries
)

// Transcode modes of a live input.
const (
	TranscodeOff = "off" // the source is passed through alone (default)
	TranscodeOn  = "on"  // the source plus the ladder's rungs
)

// liveInputJSON is the API's live input object.
type liveInputJSON struct {
	ID                     string         `json:"id"`
	Name                   string         `json:"name"`
	Meta                   map[string]any `json:"meta"`
	Enabled                bool           `json:"enabled"`
	Static                 bool           `json:"static"`
	Status                 string         `json:"status"`
	CreatedAt              jsontime.Time  `json:"created_at"`
	UpdatedAt              jsontime.Time  `json:"updated_at"`
	LastConnectedAt        *jsontime.Time `json:"last_connected_at"`
	KeysRotatedAt          *jsontime.Time `json:"keys_rotated_at"`
	ReconnectWindowSeconds int            `json:"reconnect_window_seconds"`
	Recording              recordingJSON  `json:"recording"`
	Transcode              transcodeJSON  `json:"transcode"`
	RequireSignedURLs      bool           `json:"require_signed_urls"`
	AllowedOrigins         []string       `json:"allowed_origins"`
	Version                int64          `json:"version"`
	RTMP                   *rtmpJSON      `json:"rtmp"`
	SRT                    *srtJSON       `json:"srt"`
	WHIP                   *whipJSON      `json:"whip"`
	RTSP                   *rtspJSON      `json:"rtsp"`
	Playback               playbackJSON   `json:"playback"`
	WebRTCPlayback         *webrtcJSON    `json:"webrtc_playback"`
	Source                 *sourceJSON    `json:"source"`
}

// transcodeJSON is a live input's transcode setting.
type transcodeJSON struct {
	Mode   string   `json:"mode"`   // off | on
	Ladder []string `json:"ladder"` // profile names; [] with mode on = every profile
}

type recordingJSON struct {
	Mode            string `json:"mode"`
	DeleteAfterDays int    `json:"delete_after_days"`
}

// rtmpJSON: OBS "Server" and "Stream Key". StreamKey is omitted for tokens
// without live_inputs:write.
type rtmpJSON struct {
	URL       string `json:"url"`
	StreamKey string `json:"stream_key,omitempty"`
}

type srtJSON struct {
	URL        string `json:"url"`
	StreamID   string `json:"stream_id,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// rtspJSON: the RTSP publish URL (ANNOUNCE/RECORD); with the stream key
// in its path for tokens with live_inputs:write.
type rtspJSON struct {
	URL string `json:"url"`
}

type whipJSON struct {
	URL string `json:"url"` // bearer token: the stream key
}

// webrtcJSON is the WHEP endpoint (draft-ietf-wish-whep) of a live input;
// a playback token goes in ?token= or as a bearer token.
type webrtcJSON struct {
	URL string `json:"url"`
}

type playbackJSON struct {
	HLS    string `json:"hls"`
	Player string `json:"player"`
	// TokenExpiresAt is set when the URLs carry a playback token (a
	// signed live input, read by a caller allowed to mint).
	TokenExpiresAt *jsontime.Time `json:"token_expires_at,omitempty"`
}

// publicHost turns a listen address into the host:port clients dial: a
// wildcard or empty host is replaced by the host of the request.
func publicHost(listen string, r *http.Request) string {
	reqHost := r.Host
	if h, _, err := net.SplitHostPort(reqHost); err == nil {
		reqHost = h
	}
	reqHost = strings.Trim(reqHost, "[]")
	if reqHost == "" {
		reqHost = "localhost"
	}
	h, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if h == "" || h == "0.0.0.0" || h == "::" {
		h = reqHost
	}
	return net.JoinHostPort(h, port)
}

func (s *Server) toJSON(li *store.LiveInput, r *http.Request, secrets bool) liveInputJSON {
	status := StatusDisabled
	if li.Enabled {
		status = s.rt.Status(li.ID)
	}
	out := liveInputObject(s.ep, li, r, secrets, status)
	out.Source = s.sourceToJSON(li)
	return out
}

// liveInputObject renders li as the API returns it, with status (the
// runtime's, or StatusDisabled), its URLs built from ep and the request's
// host; the stream key and SRT passphrase only when secrets is set.
func liveInputObject(ep Endpoints, li *store.LiveInput, r *http.Request, secrets bool, status string) liveInputJSON {
	out := liveInputJSON{
		ID: li.ID, Name: li.Name, Meta: li.Meta, Enabled: li.Enabled, Static: li.Static,
		CreatedAt: jsontime.Of(li.CreatedAt), UpdatedAt: jsontime.Of(li.UpdatedAt),
		LastConnectedAt: jsontime.Ptr(li.LastConnectedAt), KeysRotatedAt: jsontime.Ptr(li.KeysRotatedAt),
		ReconnectWindowSeconds: li.ReconnectWindowSeconds,
		Recording:              recordingJSON{Mode: li.Recording.Mode, DeleteAfterDays: li.Recording.DeleteAfterDays},
		RequireSignedURLs:      li.RequireSignedURLs, AllowedOrigins: li.AllowedOrigins, Version: li.Version,
	}
	if out.Meta == nil {
		out.Meta = map[string]any{}
	}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if out.Recording.Mode == "" {
		out.Recording.Mode = store.RecordingOff
	}
	out.Transcode = transcodeJSON{Mode: li.Transcode.Mode, Ladder: li.Transcode.Ladder}
	if out.Transcode.Mode == "" {
		out.Transcode.Mode = TranscodeOff
	}
	if out.Transcode.Ladder == nil {
		out.Transcode.Ladder = []string{}
	}
	out.Status = status
	if ep.RTMP != "" {
		out.RTMP = &rtmpJSON{URL: "rtmp://" + publicHost(ep.RTMP, r) + "/live"}
		if secrets {
			out.RTMP.StreamKey = li.StreamKey
		}
	}
	if ep.SRT != "" {
		hp := publicHost(ep.SRT, r)
		out.SRT = &srtJSON{URL: "srt://" + hp}
		if secrets {
			out.SRT.StreamID = "publish:" + li.StreamKey
			out.SRT.Passphrase = li.SRTPassphrase
			q := url.Values{"streamid": {out.SRT.StreamID}}
			if li.SRTPassphrase != "" {
				q.Set("passphrase", li.SRTPassphrase)
			}
			out.SRT.URL += "?" + q.Encode()
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	httpHost := r.Host
	if ep.HTTP != "" {
		httpHost = publicHost(ep.HTTP, r)
	}
	if ep.RTSP != "" {
		out.RTSP = &rtspJSON{URL: "rtsp://" + publicHost(ep.RTSP, r) + "/live"}
		if secrets {
			out.RTSP.URL += "/" + li.StreamKey
		}
	}
	base := scheme + "://" + httpHost
	esc := url.PathEscape(li.ID)
	out.WHIP = &whipJSON{URL: base + "/whip/" + esc}
	out.Playback = playbackURLs(ep, r, "/live/", li.ID)
	out.WebRTCPlayback = &webrtcJSON{URL: base + "/whep/" + esc}
	return out
}

func etag(li *store.LiveInput) string { return `"` + strconv.FormatInt(li.Version, 10) + `"` }

// checkIfMatch enforces If-Match (RFC 9110 §13.1.1) against li's ETag.
func checkIfMatch(r *http.Request, li *store.LiveInput) error {
	return checkETag(r, etag(li), "live input")
}

// liveInputCreate is the body of POST /v1/live_inputs; every field is optional.
type liveInputCreate struct {
	Name                   *string         `json:"name"`
	Meta                   map[string]any  `json:"meta"`
	Enabled                *bool           `json:"enabled"`
	ReconnectWindowSeconds *int            `json:"reconnect_window_seconds"`
	Recording              *recordingPatch `json:"recording"`
	Transcode              *transcodePatch `json:"transcode"`
	RequireSignedURLs      *bool           `json:"require_signed_urls"`
	AllowedOrigins         []string        `json:"allowed_origins"`
	SRT                    *srtCreate      `json:"srt"`
	Source                 *sourcePatch    `json:"source"`
}

// srtCreate sets the SRT passphrase at creation (SRT encryption, 10-79
// characters; "" = unencrypted); absent, one is generated. rotate_key
// replaces it later.
type srtCreate struct {
	Passphrase *string `json:"passphrase"`
}

// validSRTPassphrase: "" or 10-79 printable ASCII characters (the SRT
// library's SRTO_PASSPHRASE range).
func validSRTPassphrase(p string) bool {
	if p == "" {
		return true
	}
	if len(p) < 10 || len(p) > 79 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return false
		}
	}
	return true
}

type transcodePatch struct {
	Mode   *string  `json:"mode"`
	Ladder []string `json:"ladder"`
}

type recordingPatch struct {
	Mode            *string `json:"mode"`
	DeleteAfterDays *int    `json:"delete_after_days"`
}

// apply copies the set fields of c onto li.
func (c *liveInputCreate) apply(li *store.LiveInput) {
	if c.Name != nil {
		li.Name = *c.Name
	}
	if c.Meta != nil {
		li.Meta = c.Meta
	}
	if c.Enabled != nil {
		li.Enabled = *c.Enabled
	}
	if c.ReconnectWindowSeconds != nil {
		li.ReconnectWindowSeconds = *c.ReconnectWindowSeconds
	}
	if c.Recording != nil {
		c.Recording.apply(&li.Recording)
	}
	if c.Transcode != nil {
		if c.Transcode.Mode != nil {
			li.Transcode.Mode = *c.Transcode.Mode
		}
		if c.Transcode.Ladder != nil {
			li.Transcode.Ladder = c.Transcode.Ladder
		}
	}
	if c.RequireSignedURLs != nil {
		li.RequireSignedURLs = *c.RequireSignedURLs
	}
	if c.AllowedOrigins != nil {
		li.AllowedOrigins = c.AllowedOrigins
	}
	if c.SRT != nil && c.SRT.Passphrase != nil {
		li.SRTPassphrase = *c.SRT.Passphrase
	}
	if c.Source != nil {
		c.Source.apply(li)
	}
}

func (p *recordingPatch) apply(r *store.Recording) {
	if p.Mode != nil {
		r.Mode = *p.Mode
	}
	if p.DeleteAfterDays != nil {
		r.DeleteAfterDays = *p.DeleteAfterDays
	}
}

// validateLiveInput checks the settable fields; the error names the field.
func validateLiveInput(li *store.LiveInput) error {
	if n := utf8.RuneCountInString(li.Name); n > maxNameLen {
		return fieldErr(CodeValidation, "name", fmt.Sprintf("name is longer than %d characters", maxNameLen))
	}
	if !nameCharsOK(li.Name) {
		return fieldErr(CodeValidation, "name", "name must not contain control or bidirectional override characters")
	}
	if b, err := json.Marshal(li.Meta); err != nil || len(b) > maxMetaBytes {
		return fieldErr(CodeValidation, "meta", fmt.Sprintf("meta is larger than %d bytes as JSON", maxMetaBytes))
	}
	if v := li.ReconnectWindowSeconds; v < 0 || v > maxReconnectSecs {
		return fieldErr(CodeValidation, "reconnect_window_seconds", fmt.Sprintf("reconnect_window_seconds must be 0 (daemon default) to %d", maxReconnectSecs))
	}
	if m := li.Recording.Mode; m != store.RecordingOff && m != store.RecordingAutomatic {
		return fieldErr(CodeValidation, "recording.mode", `recording.mode must be "off" or "automatic"`)
	}
	if d := li.Recording.DeleteAfterDays; d < 0 || d > maxDeleteAfter {
		return fieldErr(CodeValidation, "recording.delete_after_days", fmt.Sprintf("recording.delete_after_days must be 0 (keep) to %d", maxDeleteAfter))
	}
	if len(li.AllowedOrigins) > maxAllowedOrigins {
		return fieldErr(CodeValidation, "allowed_origins", fmt.Sprintf("allowed_origins lists more than %d origins", maxAllowedOrigins))
	}
	for i, o := range li.AllowedOrigins {
		if !validOrigin(o) {
			return fieldErr(CodeValidation, fmt.Sprintf("allowed_origins[%d]", i), `each allowed origin must be "*" or scheme://host[:port], e.g. https://example.com`)
		}
	}
	return validateSource(li)
}

// validateTranscode checks the transcode setting: mode off or on, and a
// ladder of distinct configured profile names (s.profiles).
func (s *Server) validateTranscode(li *store.LiveInput) error {
	switch li.Transcode.Mode {
	case "", TranscodeOff:
	case TranscodeOn:
		if len(s.profiles) == 0 {
			return fieldErr(CodeValidation, "transcode.mode", "transcoding has no profiles configured on this daemon (transcode.profiles)")
		}
	default:
		return fieldErr(CodeValidation, "transcode.mode", `transcode.mode must be "off" or "on"`)
	}
	if len(li.Transcode.Ladder) > maxLadder {
		return fieldErr(CodeValidation, "transcode.ladder", fmt.Sprintf("transcode.ladder lists more than %d profiles", maxLadder))
	}
	seen := map[string]bool{}
	for i, n := range li.Transcode.Ladder {
		known := false
		for _, p := range s.profiles {
			known = known || p == n
		}
		if !known || seen[n] {
			return fieldErr(CodeValidation, fmt.Sprintf("transcode.ladder[%d]", i),
				fmt.Sprintf("each ladder entry must be a distinct configured profile (%s), got %q", strings.Join(s.profiles, ", "), n))
		}
		seen[n] = true
	}
	return nil
}

func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	if len(o) > maxOriginLen {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !strings.HasSuffix(o, "/")
}

// readOnlyField reports whether k is a live input field a client cannot set.
func readOnlyField(k string) bool {
	switch k {
	case "id", "static", "status", "created_at", "updated_at", "last_connected_at", "keys_rotated_at",
		"version", "rtmp", "srt", "whip", "rtsp", "playback", "webrtc_playback", "stream_key":
		return true
	}
	return false
}

// applyMergePatch applies a JSON merge patch (RFC 7396) to li. Absent
// members are unchanged; null resets a member to its default.
func applyMergePatch(li *store.LiveInput, body []byte) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil {
		return jsonErr(err)
	}
	for k, raw := range patch {
		null := string(raw) == "null"
		dec := func(v any) error {
			if err := decodeValue(raw, v); err != nil {
				return fieldErr(CodeValidation, k, err.Error())
			}
			return nil
		}
		switch k {
		case "name":
			li.Name = ""
			if !null {
				if err := dec(&li.Name); err != nil {
					return err
				}
			}
		case "meta":
			if null {
				li.Meta = map[string]any{}
				continue
			}
			var m map[string]any
			if err := dec(&m); err != nil {
				return err
			}
			if li.Meta == nil {
				li.Meta = map[string]any{}
			}
			li.Meta = mergeObject(li.Meta, m)
		case "enabled":
			if err := dec(&li.Enabled); err != nil || null {
				return fieldErr(CodeValidation, k, "enabled must be true or false")
			}
		case "require_signed_urls":
			if err := dec(&li.RequireSignedURLs); err != nil || null {
				return fieldErr(CodeValidation, k, "require_signed_urls must be true or false")
			}
		case "reconnect_window_seconds":
			li.ReconnectWindowSeconds = 0
			if !null {
				if err := dec(&li.ReconnectWindowSeconds); err != nil {
					return err
				}
			}
		case "allowed_origins":
			li.AllowedOrigins = []string{}
			if !null {
				if err := dec(&li.AllowedOrigins); err != nil {
					return err
				}
			}
		case "source":
			if err := applySourcePatch(li, raw); err != nil {
				return err
			}
		case "transcode":
			if null {
				li.Transcode = store.TranscodeSetting{Mode: TranscodeOff}
				continue
			}
			var sub map[string]json.RawMessage
			if err := dec(&sub); err != nil {
				return err
			}
			for sk, sraw := range sub {
				f := "transcode." + sk
				snull := string(sraw) == "null"
				switch sk {
				case "mode":
					li.Transcode.Mode = TranscodeOff
					if !snull {
						if err := decodeValue(sraw, &li.Transcode.Mode); err != nil {
							return fieldErr(CodeValidation, f, err.Error())
						}
					}
				case "ladder":
					li.Transcode.Ladder = nil
					if !snull {
						if err := decodeValue(sraw, &li.Transcode.Ladder); err != nil {
							return fieldErr(CodeValidation, f, err.Error())
						}
					}
				default:
					return fieldErr(CodeUnknownField, f, fmt.Sprintf("unknown field %q", f))
				}
			}
		case "recording":
			if null {
				li.Recording = store.Recording{Mode: store.RecordingOff}
				continue
			}
			var sub map[string]json.RawMessage
			if err := dec(&sub); err != nil {
				return err
			}
			for sk, sraw := range sub {
				f := "recording." + sk
				snull := string(sraw) == "null"
				switch sk {
				case "mode":
					li.Recording.Mode = store.RecordingOff
					if !snull {
						if err := decodeValue(sraw, &li.Recording.Mode); err != nil {
							return fieldErr(CodeValidation, f, err.Error())
						}
					}
				case "delete_after_days":
					li.Recording.DeleteAfterDays = 0
					if !snull {
						if err := decodeValue(sraw, &li.Recording.DeleteAfterDays); err != nil {
							return fieldErr(CodeValidation, f, err.Error())
						}
					}
				default:
					return fieldErr(CodeUnknownField, f, fmt.Sprintf("unknown field %q", f))
				}
			}
		default:
			if readOnlyField(k) {
				return fieldErr(CodeValidation, k, k+" is read-only")
			}
			return fieldErr(CodeUnknownField, k, fmt.Sprintf("unknown field %q", k))
		}
	}
	return nil
}

// decodeValue decodes one JSON value with a message fit for people.
func decodeValue(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return fmt.Errorf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Errorf("invalid value")
	}
	return nil
}

// mergeObject applies an RFC 7396 merge patch object to target.
func mergeObject(target, patch map[string]any) map[string]any {
	for k, v := range patch {
		if v == nil {
			delete(target, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			tm, _ := target[k].(map[string]any)
			if tm == nil {
				tm = map[string]any{}
			}
			target[k] = mergeObject(tm, pm)
			continue
		}
		target[k] = v
	}
	return target
}
