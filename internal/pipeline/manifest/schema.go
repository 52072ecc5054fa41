package manifest

import (
	"sort"
	"time"
)

// Port is what flows along an edge, as a set of bits.
type Port uint8

const (
	// PortMedia is one stream of the hub (a source, or one rendition:
	// `ladder.720p`).
	PortMedia Port = 1 << iota
	// PortLadder is every rendition of a ladder at once (`ladder`).
	PortLadder
)

// Type describes one kind of node a manifest may name: its config, what
// it reads and what it writes. Adding a node kind to manifests is one
// Type registered in the Schema.
type Type struct {
	Name string
	// Doc describes the type in the JSON Schema (for editors).
	Doc string
	// Config lists the fields of the node's config; any other is refused.
	Config map[string]Field
	// Accepts is what the node reads; 0 means it takes no inputs.
	Accepts Port
	// MinInputs and MaxInputs bound len(inputs); MaxInputs 0 is no bound.
	MinInputs, MaxInputs int
	// Output is what other nodes read from it; 0 is a sink.
	Output Port
	// Renditions: the node's ports `id.name` are the names of its
	// config's renditions, each a PortMedia.
	Renditions bool
	// Events the node emits, named in another node's `on` as `id.event`.
	Events []string
	// Triggered nodes run on events (`on`, at least one) and take no
	// inputs.
	Triggered bool
	// Hot lists the fields of a Change (config.NAME, inputs, on, when)
	// that the running node takes in place; a change of any other field
	// restarts it.
	Hot []string
	// Check is an extra check of a config that Config's fields passed,
	// returning problems relative to the config (path "" is the config).
	Check func(cfg map[string]any) []Error
}

// FieldKind is the type of a config value.
type FieldKind int

// Kinds of config values.
const (
	KindString   FieldKind = iota
	KindInt                // an integer, between Min and Max when they are not both 0
	KindBool               //
	KindDuration           // a Go duration string ("200ms", "10s"), between Min and Max (nanoseconds)
	KindBitrate            // bits per second: an integer or "3000k", "2.5M"; between Min and Max
	KindObjects            // a list of objects of Fields, at least Min items
)

// Field is one config field.
type Field struct {
	Kind FieldKind
	// Doc describes the field in the JSON Schema.
	Doc      string
	Required bool
	Min, Max int64
	// Enum, when set, lists the accepted strings.
	Enum []string
	// Fields of each object of a KindObjects list.
	Fields map[string]Field
}

// Schema is the set of node types manifests are validated against.
type Schema struct{ types map[string]Type }

// NewSchema returns a Schema of the given types.
func NewSchema(types ...Type) *Schema {
	s := &Schema{types: map[string]Type{}}
	for _, t := range types {
		s.Register(t)
	}
	return s
}

// Register adds or replaces a type.
func (s *Schema) Register(t Type) { s.types[t.Name] = t }

// Type returns the type called name.
func (s *Schema) Type(name string) (Type, bool) {
	t, ok := s.types[name]
	return t, ok
}

// Names lists the types, sorted.
func (s *Schema) Names() []string {
	out := make([]string, 0, len(s.types))
	for n := range s.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Default returns the node types the daemon runs: a live source, the
// ABR ladder, the LL-HLS packager, the recorder, thumbnails, WHEP
// playback, restream outputs and webhook notifications.
func Default() *Schema {
	ms := int64(time.Millisecond)
	sec := int64(time.Second)
	return NewSchema(
		Type{Name: "source.live", Output: PortMedia,
			Hot:    []string{"config.reconnect_window"},
			Doc:    "The media of a live input, whatever brings it (RTMP, SRT, WHIP, or an RTSP camera the live input pulls). Ports: the node itself.",
			Events: []string{"connected", "disconnected", "errored"},
			Config: map[string]Field{
				"live_input":       {Kind: KindString, Required: true, Doc: "The id of the live input (li_...); one live input has at most one pipeline."},
				"reconnect_window": {Kind: KindDuration, Min: 0, Max: 3600 * sec, Doc: "How long a broadcast waits for its publisher to come back before it ends."},
			}},
		Type{Name: "transcode.abr", Accepts: PortMedia, MinInputs: 1, MaxInputs: 1,
			Output: PortLadder, Renditions: true, Events: []string{"errored"},
			Doc: "An ABR ladder transcoded by ffmpeg from one stream. Ports: `id` (every rung) and `id.NAME` (one rung).",
			Config: map[string]Field{
				"renditions": {Kind: KindObjects, Required: true, Min: 1, Fields: map[string]Field{
					"name":          {Kind: KindString, Required: true, Doc: "The rung's name: its port is `ladder.NAME`."},
					"height":        {Kind: KindInt, Required: true, Min: 16, Max: 4320, Doc: "Output height in pixels."},
					"width":         {Kind: KindInt, Min: 16, Max: 7680, Doc: "Output width in pixels; default: keep the aspect ratio."},
					"video_bitrate": {Kind: KindBitrate, Required: true, Min: 50_000, Max: 100_000_000, Doc: "Video bits per second: 3000k, 2.5M or 700000."},
					"audio_bitrate": {Kind: KindBitrate, Min: 16_000, Max: 512_000, Doc: "Audio bits per second."},
					"codec":         {Kind: KindString, Enum: []string{"h264", "h265"}, Doc: "Video codec; default h264."},
				}},
			},
			Check: uniqueRenditions},
		Type{Name: "package.llhls", Accepts: PortMedia | PortLadder, MinInputs: 1,
			Events: []string{"errored"}, Doc: "Low-Latency HLS (RFC 8216bis) of its inputs: one variant per stream or rung.",
			Config: map[string]Field{
				"part_duration":    {Kind: KindDuration, Min: 100 * ms, Max: 2 * sec, Doc: "Partial segment target (EXT-X-PART-INF PART-TARGET)."},
				"segment_duration": {Kind: KindDuration, Min: sec, Max: 30 * sec, Doc: "Segment target (EXT-X-TARGETDURATION)."},
			}},
		Type{Name: "record.vod", Accepts: PortMedia | PortLadder, MinInputs: 1,
			Events: []string{"started", "ready", "errored"}, Hot: []string{"config.delete_after_days"}, Doc: "Records its inputs to a VOD asset.",
			Config: map[string]Field{
				"delete_after_days": {Kind: KindInt, Min: 0, Max: 36500, Doc: "Delete the recording after this many days; 0 keeps it."},
			}},
		Type{Name: "thumbnail", Accepts: PortMedia, MinInputs: 1, MaxInputs: 1,
			Events: []string{"errored"}, Hot: []string{"config.every", "config.width", "config.keep"},
			Doc: "JPEG images of one stream's video, one per interval, decoded from a key frame; the newest is served at /v1/live_inputs/ID/thumbnail.jpg.",
			Config: map[string]Field{
				"every": {Kind: KindDuration, Min: sec, Max: 3600 * sec, Doc: "Interval between images (stream time); default 10s."},
				"width": {Kind: KindInt, Min: 16, Max: 3840, Doc: "Image width in pixels; default the video's."},
				"keep":  {Kind: KindInt, Min: 1, Max: 10, Doc: "How many of its latest images the node keeps on disk; default 3."},
			}},
		Type{Name: "package.whep", Accepts: PortMedia, MinInputs: 1, MaxInputs: 1,
			Events: []string{"errored"}, Config: map[string]Field{},
			Doc: "WebRTC playback (WHEP, RFC 9725 §4) of one stream."},
		Type{Name: "output.restream", Accepts: PortMedia, MinInputs: 1, MaxInputs: 1,
			Events: []string{"connected", "disconnected", "errored"},
			Doc:    "Pushes one stream to a stored restream output (RTMP(S) or SRT).",
			Config: map[string]Field{
				// A reference to a stored restream output: its URL holds a
				// stream key, which a manifest never inlines.
				"output": {Kind: KindString, Required: true, Doc: "The id of a restream output of the live input; its URL and key stay there."},
			}},
		Type{Name: "notify.webhook", Triggered: true, Hot: []string{"config.webhook", "on"},
			Doc: "Delivers the events named in `on` to a stored webhook endpoint.",
			Config: map[string]Field{
				"webhook": {Kind: KindString, Required: true, Doc: "The id of a webhook endpoint (whk_...); its secret stays there."},
			}},
	)
}

func uniqueRenditions(cfg map[string]any) []Error {
	var errs []Error
	seen := map[string]bool{}
	l, _ := cfg["renditions"].([]any)
	for i, r := range l {
		o, _ := r.(map[string]any)
		name, _ := o["name"].(string)
		p := pointer(pointer("/renditions", i), "name")
		switch {
		case !validID(name):
			errs = append(errs, Error{Path: p, Message: "a rendition name is 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit"})
		case seen[name]:
			errs = append(errs, Error{Path: p, Message: "duplicate rendition name " + quote(name)})
		}
		seen[name] = true
	}
	return errs
}
