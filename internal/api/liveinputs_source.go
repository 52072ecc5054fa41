package api

import (
	"encoding/json"
	"fmt"
	"github.com/mpegflow/mpegflow/internal/ingest/rtsp"
	"github.com/mpegflow/mpegflow/internal/jsontime"
	"net/url"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// Pull transports of a live input's source.
const (
	SourceTransportAuto = "auto"
	SourceTransportTCP  = "tcp"
	SourceTransportUDP  = "udp"
	maxSourceURL        = 2048
	// maskedPassword replaces the password of a source URL on read; a
	// write that sends the masked URL back keeps the stored password.
	maskedPassword = "***"
)

// SourceState is the state of a live input's puller, as the daemon reports
// it: connecting, connected, or retrying with the last error and the time
// of the next attempt. Texts never carry credentials.
type SourceState struct {
	State       string
	LastError   string
	NextRetryAt time.Time // zero unless retrying
	Since       time.Time
	Warning     string // part of the camera's stream left out (e.g. G.711 audio)
}

// SourceStatuser reports the pullers of live inputs with a source; it is
// implemented by the composition root over the RTSP pullers.
type SourceStatuser interface {
	SourceStatus(liveInputID string) (SourceState, bool)
}

// sourceJSON is a live input's pull source: an IP camera or any RTSP URL
// the daemon plays into the input while it is enabled.
type sourceJSON struct {
	URL       string            `json:"url"` // password masked
	Transport string            `json:"transport"`
	OnDemand  bool              `json:"on_demand"`
	Status    *sourceStatusJSON `json:"status"`
}

type sourceStatusJSON struct {
	State       string         `json:"state"` // idle (on demand, no viewer) | connecting | connected | retrying | stopped
	LastError   string         `json:"last_error,omitempty"`
	NextRetryAt *jsontime.Time `json:"next_retry_at,omitempty"`
	Since       *jsontime.Time `json:"since,omitempty"`
	Warning     string         `json:"warning,omitempty"`
}

// sourcePatch is the writable part of a source.
type sourcePatch struct {
	URL       *string `json:"url"`
	Transport *string `json:"transport"`
	OnDemand  *bool   `json:"on_demand"`
}

// maskSourceURL returns raw with the password of its userinfo replaced by
// maskedPassword.
func maskSourceURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), maskedPassword)
		}
	}
	return strings.Replace(u.String(), ":"+url.QueryEscape(maskedPassword)+"@", ":"+maskedPassword+"@", 1)
}

// sourceToJSON renders li's source with the puller's status, or nil.
func (s *Server) sourceToJSON(li *store.LiveInput) *sourceJSON {
	if li.Source == nil {
		return nil
	}
	out := &sourceJSON{URL: maskSourceURL(li.Source.URL), Transport: li.Source.Transport, OnDemand: li.Source.OnDemand}
	if out.Transport == "" {
		out.Transport = SourceTransportAuto
	}
	st := &sourceStatusJSON{State: "stopped"}
	if s.sources != nil && li.Enabled {
		if ss, ok := s.sources.SourceStatus(li.ID); ok {
			st = &sourceStatusJSON{State: ss.State, LastError: ss.LastError, Warning: ss.Warning}
			if !ss.NextRetryAt.IsZero() {
				t := jsontime.Of(ss.NextRetryAt)
				st.NextRetryAt = &t
			}
			if !ss.Since.IsZero() {
				t := jsontime.Of(ss.Since)
				st.Since = &t
			}
		}
	}
	out.Status = st
	return out
}

// apply sets the fields of p on li's source (creating it); a URL equal to
// the masked form of the stored one keeps the stored one (and its
// password).
func (p *sourcePatch) apply(li *store.LiveInput) {
	var cur store.PullSource
	if li.Source != nil {
		cur = *li.Source
	}
	if p.URL != nil {
		if cur.URL == "" || *p.URL != maskSourceURL(cur.URL) {
			cur.URL = *p.URL
		}
	}
	if p.Transport != nil {
		cur.Transport = *p.Transport
	}
	if p.OnDemand != nil {
		cur.OnDemand = *p.OnDemand
	}
	li.Source = &cur
}

// applySourcePatch applies the "source" member of a merge patch: null
// removes the source.
func applySourcePatch(li *store.LiveInput, raw json.RawMessage) error {
	if string(raw) == "null" {
		li.Source = nil
		return nil
	}
	var sub map[string]json.RawMessage
	if err := decodeValue(raw, &sub); err != nil {
		return fieldErr(CodeValidation, "source", err.Error())
	}
	var p sourcePatch
	for k, v := range sub {
		f := "source." + k
		var err error
		switch k {
		case "url":
			err = decodeValue(v, &p.URL)
		case "transport":
			err = decodeValue(v, &p.Transport)
		case "on_demand":
			err = decodeValue(v, &p.OnDemand)
		default:
			return fieldErr(CodeUnknownField, f, fmt.Sprintf("unknown field %q", f))
		}
		if err != nil {
			return fieldErr(CodeValidation, f, err.Error())
		}
	}
	p.apply(li)
	return nil
}

// validateSource checks a live input's source: an rtsp:// or rtsps:// URL
// with a host, and a known transport. Messages never quote the URL.
func validateSource(li *store.LiveInput) error {
	src := li.Source
	if src == nil {
		return nil
	}
	if len(src.URL) > maxSourceURL {
		return fieldErr(CodeValidation, "source.url", fmt.Sprintf("source.url is longer than %d characters", maxSourceURL))
	}
	u, err := url.Parse(src.URL)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Hostname() == "" || u.Fragment != "" ||
		strings.ContainsAny(src.URL, " \t\r\n") {
		return fieldErr(CodeValidation, "source.url", "source.url must be rtsp://[user:password@]host[:port]/path (or rtsps://)")
	}
	switch src.Transport {
	case "", SourceTransportAuto, SourceTransportTCP, SourceTransportUDP:
	default:
		return fieldErr(CodeValidation, "source.transport", `source.transport must be "auto", "tcp" or "udp"`)
	}
	if u.Scheme == "rtsps" && src.Transport == SourceTransportUDP {
		return fieldErr(CodeValidation, "source.transport", "rtsps sources are pulled over tcp")
	}
	return nil
}

// sourceSchema and sourceInSchema are the OpenAPI schemas of a source.
func sourceSchema() obj {
	return obj{"type": []string{"object", "null"}, "description": "An RTSP camera the daemon pulls into this live input while it is enabled; null = publishers push.",
		"properties": obj{
			"url":       str("rtsp:// or rtsps:// URL; the password of its userinfo reads as ***."),
			"transport": obj{"type": "string", "enum": []string{SourceTransportAuto, SourceTransportTCP, SourceTransportUDP}},
			"on_demand": boolean("Pull only while someone watches: the camera is connected at the first LL-HLS or WHEP request (which waits up to rtsp.on_demand_start_timeout, else 503 with Retry-After) and disconnected rtsp.on_demand_idle_timeout after the last one. Restream outputs and recordings do not keep it connected."),
			"status": obj{"type": "object", "properties": obj{
				"state":         obj{"type": "string", "enum": []string{"idle", "connecting", "connected", "retrying", "stopped"}, "description": "idle: pulled on demand and waiting for a viewer."},
				"last_error":    str("Why the last attempt failed; never carries credentials."),
				"next_retry_at": dateTime("When the puller tries again (retrying)."),
				"since":         dateTime("When the state was entered."),
				"warning":       str("Part of the camera's stream left out, e.g. G.711 audio."),
			}},
		}}
}

func sourceInSchema() obj {
	return obj{"type": []string{"object", "null"}, "description": "null removes the source. Sending back the masked url keeps the stored password.",
		"properties": obj{
			"url":       obj{"type": "string", "maxLength": maxSourceURL},
			"transport": obj{"type": "string", "enum": []string{SourceTransportAuto, SourceTransportTCP, SourceTransportUDP}},
			"on_demand": obj{"type": "boolean"},
		}, "additionalProperties": false}
}

// SourcesOver reports the state of the RTSP pullers as the API shows it.
func SourcesOver(ps *rtsp.Pullers) SourceStatuser { return pullerSources{ps} }

type pullerSources struct{ ps *rtsp.Pullers }

func (s pullerSources) SourceStatus(id string) (SourceState, bool) {
	st, ok := s.ps.Status(id)
	return SourceState{State: st.State, LastError: st.LastError, NextRetryAt: st.NextRetryAt, Since: st.Since, Warning: st.Warning}, ok
}
