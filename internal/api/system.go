package api

import (
	"net/http"
	"os"
	"runtime/debug"
)

// SystemDeps is what GET /v1/system needs beyond the store.
type SystemDeps struct {
	// Transcode reports the state of transcoding; nil: transcoding is off
	// (no ffmpeg on PATH, or not configured).
	Transcode func() TranscodeInfo
	// NodeID names this daemon among several sharing one store; empty:
	// the host name.
	NodeID string
}

// TranscodeInfo is the transcoding part of GET /v1/system: the encoder
// detection made at start-up and the capacity in use.
type TranscodeInfo struct {
	// Available is false when the daemon runs without transcoding; Reason
	// says why.
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	// Requested is transcode.encoder ("auto" or a family).
	Requested string `json:"requested"`
	// Encoder is the ffmpeg encoder in use (e.g. "libx264", "h264_nvenc");
	// Family its family (x264, nvenc, qsv, vaapi, videotoolbox).
	Encoder string `json:"encoder"`
	Family  string `json:"family"`
	// Candidates are the encoders considered, in order, and why each was
	// rejected.
	Candidates []EncoderCandidate `json:"candidates"`
	// Profiles are the configured ladder rungs live inputs may name.
	Profiles []TranscodeProfile `json:"profiles"`
	// Capacity is the transcoding budget in units (megapixels per second
	// of output, libx265 weighted x5; transcode.capacity or automatic);
	// CapacityUsed the units the running ffmpeg jobs cost (ladders, WHIP
	// audio, thumbnails, MP4 builds); Active the number
	// of ladders running.
	Capacity     float64 `json:"capacity"`
	CapacityUsed float64 `json:"capacity_used"`
	Active       int     `json:"active"`
}

// EncoderCandidate is one encoder considered by detection.
type EncoderCandidate struct {
	Family   string `json:"family"`
	Encoder  string `json:"encoder"`
	Compiled bool   `json:"compiled"` // listed by ffmpeg -encoders
	OK       bool   `json:"ok"`       // its one-second test encode succeeded
	Reason   string `json:"reason,omitempty"`
}

// TranscodeProfile is one configured rung (transcode.profiles).
type TranscodeProfile struct {
	Name       string `json:"name"`
	Height     int    `json:"height"`
	BitrateBPS int64  `json:"video_bitrate_bps"`
	MaxFPS     int    `json:"max_fps"`
	Codec      string `json:"codec"`
}

// systemJSON is the body of GET /v1/system.
type systemJSON struct {
	Version   string        `json:"version"`
	NodeID    string        `json:"node_id"`
	Transcode TranscodeInfo `json:"transcode"`
}

// buildVersion is the module version of the binary, or its VCS revision
// (12 hex digits, "+dirty" when built from a modified tree), or "dev".
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value[:min(12, len(st.Value))]
		case "vcs.modified":
			if st.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return rev + dirty
}

// systemRoutes registers GET /v1/system.
func (s *Server) systemRoutes(handle routeFunc) {
	handle("GET", "/v1/system", ScopeLiveInputsRead, s.getSystem)
}

func (s *Server) getSystem(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	out := systemJSON{Version: buildVersion(), NodeID: s.sys.NodeID, Transcode: TranscodeInfo{Reason: "transcoding is not available in this daemon"}}
	if out.NodeID == "" {
		out.NodeID, _ = os.Hostname()
	}
	if f := s.sys.Transcode; f != nil {
		out.Transcode = f()
	}
	if out.Transcode.Candidates == nil {
		out.Transcode.Candidates = []EncoderCandidate{}
	}
	if out.Transcode.Profiles == nil {
		out.Transcode.Profiles = []TranscodeProfile{}
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

// systemOperations documents GET /v1/system in the OpenAPI document.
func systemOperations() map[string]operation {
	return map[string]operation{
		"GET /v1/system": {id: "getSystem", summary: "The daemon's capabilities: the transcoding encoder chosen at start-up and why, profiles and capacity.",
			scope: ScopeLiveInputsRead, ok: 200, okSchema: dataOf(ref("System"))},
	}
}

// systemSchemas are the OpenAPI component schemas of GET /v1/system and of
// the live input transcode setting.
func systemSchemas() obj {
	candidate := object(obj{
		"family": str(""), "encoder": str("ffmpeg encoder name."),
		"compiled": boolean("Listed by ffmpeg -encoders."), "ok": boolean("Its one-second test encode succeeded."),
		"reason": str("Why it was rejected."),
	})
	profile := object(obj{
		"name": str(""), "height": integer(""), "video_bitrate_bps": integer(""), "max_fps": integer(""),
		"codec": obj{"type": "string", "enum": []string{"h264", "hevc"}},
	})
	return obj{
		"System": object(obj{
			"version": str("The build: module version, or VCS revision (+dirty), or dev."),
			"node_id": str("This daemon's name among nodes sharing a store (default: the host name)."),
			"transcode": object(obj{
				"available":     boolean("false: the daemon runs passthrough-only (reason says why)."),
				"reason":        str(""),
				"requested":     obj{"type": "string", "enum": []string{"", "auto", "nvenc", "qsv", "vaapi", "videotoolbox", "x264"}},
				"encoder":       str("The ffmpeg encoder in use, e.g. libx264 or h264_nvenc."),
				"family":        str(""),
				"candidates":    arrayOf(candidate),
				"profiles":      arrayOf(profile),
				"capacity":      obj{"type": "number", "description": "Transcoding budget in units: megapixels per second of rung output, libx265 weighted x5 (transcode.capacity; automatic: 30 per core with x264)."},
				"capacity_used": obj{"type": "number", "description": "Units the running ffmpeg jobs cost (ladders, WHIP audio, thumbnails, MP4 builds); a ladder that does not fit runs passthrough-only (transcode.capacity_exceeded)."},
				"active":        integer("Ladders running now."),
			}, "available", "candidates", "profiles"),
		}, "version", "node_id", "transcode"),
		"TranscodeSetting": object(obj{
			"mode":   obj{"type": "string", "enum": []string{TranscodeOff, TranscodeOn}, "default": TranscodeOff},
			"ladder": obj{"type": "array", "items": obj{"type": "string"}, "maxItems": maxLadder, "description": "Profile names (GET /v1/system); empty with mode on = every profile."},
		}),
	}
}
