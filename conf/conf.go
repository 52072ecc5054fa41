// Package conf is MpegFlow's typed configuration. Load applies, in order: the
// embedded defaults (mpegflow.yml), the YAML file given by the operator
// (strict: unknown keys are errors), MPEGFLOW_* environment variables, and
// Validate, whose errors name the key and the rule.
package conf

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed mpegflow.yml
var defaultYAML []byte

// Default returns the embedded default configuration file.
func Default() []byte { return bytes.Clone(defaultYAML) }

// Config is the whole configuration.
type Config struct {
	DataDir    string      `yaml:"data_dir"`
	Store      Store       `yaml:"store"`
	API        API         `yaml:"api"`
	Log        Log         `yaml:"log"`
	HTTP       HTTP        `yaml:"http"`
	RTMP       RTMP        `yaml:"rtmp"`
	RTMPS      RTMPS       `yaml:"rtmps"`
	SRT        SRT         `yaml:"srt"`
	RTSP       RTSP        `yaml:"rtsp"`
	RTSPS      RTSPS       `yaml:"rtsps"`
	WebRTC     WebRTC      `yaml:"webrtc"`
	Metrics    Metrics     `yaml:"metrics"`
	HLS        HLS         `yaml:"hls"`
	Playback   Playback    `yaml:"playback"`
	GeoIP      GeoIP       `yaml:"geoip"`
	Admission  Admission   `yaml:"admission"`
	Webhooks   Webhooks    `yaml:"webhooks"`
	Restream   Restream    `yaml:"restream"`
	Storage    Storage     `yaml:"storage"`
	Recording  Recording   `yaml:"recording"`
	Uploads    Uploads     `yaml:"uploads"`
	Transcode  Transcode   `yaml:"transcode"`
	LiveInputs []LiveInput `yaml:"live_inputs"`
}

// Store selects the database.
type Store struct {
	PostgresURL string `yaml:"postgres_url"` // default "": SQLite in data_dir
}

// API configures the control API.
type API struct {
	AdminToken string `yaml:"admin_token"` // default "": generated at first start
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}

// HTTP configures the playback listener.
type HTTP struct {
	Address         string   `yaml:"address"`           // default ":8080"
	CORSAllowOrigin string   `yaml:"cors_allow_origin"` // default "*"
	HLSJSURL        string   `yaml:"hlsjs_url"`         // default "" (embedded copy)
	TrustedProxies  []string `yaml:"trusted_proxies"`   // CIDRs; default none
}

// RTMP configures RTMP ingest.
type RTMP struct {
	Address         string   `yaml:"address"`          // default ":1935"
	ReconnectWindow Duration `yaml:"reconnect_window"` // default 10s
	OnDuplicate     string   `yaml:"on_duplicate"`     // reject | replace; default reject
}

// RTMPS configures RTMP over TLS; enabled when all three are set.
type RTMPS struct {
	Address  string `yaml:"address"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether RTMPS is configured.
func (r RTMPS) Enabled() bool { return r.Address != "" }

// SRT configures SRT ingest.
type SRT struct {
	Address string   `yaml:"address"` // default ":8890" (UDP); "" disables
	Latency Duration `yaml:"latency"` // default 120ms
}

// RTSP configures RTSP publish ingest (RFC 2326 ANNOUNCE/RECORD), over TCP
// (interleaved) and, when both UDP addresses are set, UDP.
type RTSP struct {
	Address        string `yaml:"address"`          // default ":8554"; "" disables
	UDPRTPAddress  string `yaml:"udp_rtp_address"`  // default ":8000" (even port); "" = TCP only
	UDPRTCPAddress string `yaml:"udp_rtcp_address"` // default ":8001" (the RTP port + 1)
	// OnDemandStartTimeout bounds how long the first viewer of a camera
	// pulled on demand (source.on_demand) waits for its stream; default
	// 10s. OnDemandIdleTimeout is how long such a camera stays connected
	// after its last viewer's request; default 10s.
	OnDemandStartTimeout Duration `yaml:"on_demand_start_timeout"`
	OnDemandIdleTimeout  Duration `yaml:"on_demand_idle_timeout"`
}

// RTSPS configures RTSP over TLS (TCP only); enabled when address is set,
// which then requires cert_file and key_file.
type RTSPS struct {
	Address  string `yaml:"address"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether RTSPS is configured.
func (r RTSPS) Enabled() bool { return r.Address != "" }

// WebRTC configures WHIP ingest and WHEP playback, which share one ICE
// transport.
type WebRTC struct {
	UDPAddress string   `yaml:"udp_address"`  // default ":8189"; "" disables WHIP and WHEP
	TCPAddress string   `yaml:"tcp_address"`  // ICE-TCP fallback port; default "" (off)
	NAT1To1IPs []string `yaml:"nat_1to1_ips"` // default none
}

// Metrics configures the Prometheus listener.
type Metrics struct {
	Address string `yaml:"address"` // default "127.0.0.1:9464"; "" disables
}

// HLS configures the Low-Latency HLS packager.
type HLS struct {
	SegmentDuration    Duration `yaml:"segment_duration"`     // default 2s
	MaxSegmentDuration Duration `yaml:"max_segment_duration"` // default 10s; bounds EXT-X-TARGETDURATION
	PartDuration       Duration `yaml:"part_duration"`        // default 200ms
}

// Playback configures signed playback.
type Playback struct {
	TokenCacheSize int `yaml:"token_cache_size"` // default 100000
}

// GeoIP configures the country database.
type GeoIP struct {
	Database string `yaml:"database"` // MaxMind .mmdb path; default ""
}

// Admission configures the admission hooks.
type Admission struct {
	PublishURL string   `yaml:"publish_url"` // default ""
	PlayURL    string   `yaml:"play_url"`    // default ""
	Timeout    Duration `yaml:"timeout"`     // default 2s
	OnError    string   `yaml:"on_error"`    // allow | deny; default deny
}

// Webhooks configures webhook delivery.
type Webhooks struct {
	Timeout      Duration `yaml:"timeout"`       // per attempt, default 10s
	Workers      int      `yaml:"workers"`       // default 8
	LogRetention Duration `yaml:"log_retention"` // default 168h
	// AllowPrivateTargets lets URLs resolve to loopback/private addresses.
	AllowPrivateTargets bool `yaml:"allow_private_targets"` // default false
}

// Restream configures the restream outputs of live inputs.
type Restream struct {
	// AllowPrivateTargets lets output URLs resolve to loopback/private
	// addresses (a server on the daemon's own network).
	AllowPrivateTargets bool `yaml:"allow_private_targets"` // default false
}

// Storage configures blob storage for recordings.
type Storage struct {
	Kind string `yaml:"kind"` // local | s3; default local
	S3   S3     `yaml:"s3"`
}

// S3 configures S3-compatible object storage.
type S3 struct {
	Endpoint  string `yaml:"endpoint"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"` // default us-east-1
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	UseTLS    bool   `yaml:"use_tls"` // default true
}

// Recording configures recordings.
type Recording struct {
	ThumbnailTimePct float64 `yaml:"thumbnail_time_pct"` // default 0.1
	// NodeID names this node among several on one database; recordings
	// carry it. "" (default) = the id kept in data_dir/node_id, made from
	// the host name and random bits the first time.
	NodeID string `yaml:"node_id"`
	// Lease is how long a recording stays this node's without a renewal;
	// other nodes recover the recordings of a node silent that long.
	Lease Duration `yaml:"lease"` // default 30s
	// Heartbeat is how often leases are renewed and other nodes'
	// expired recordings looked for; at most a third of the lease.
	Heartbeat Duration `yaml:"heartbeat"` // default 5s
}

// Uploads configures videos made from files: tus direct uploads, plain
// uploads and copies from a URL (internal/upload).
type Uploads struct {
	// MaxSize bounds a tus upload, and the max_size_bytes a direct upload
	// may ask for.
	MaxSize int64 `yaml:"max_size"` // default 32212254720 (30 GiB)
	// PlainMaxSize bounds the body of POST /v1/videos/upload.
	PlainMaxSize int64 `yaml:"plain_max_size"` // default 200000000
	// CopyMaxSize and CopyTimeout bound a copy from a URL.
	CopyMaxSize int64    `yaml:"copy_max_size"` // default 32212254720
	CopyTimeout Duration `yaml:"copy_timeout"`  // default 1h
	// AllowPrivateSources lets copies reach loopback, private and
	// link-local addresses (tests, private networks).
	AllowPrivateSources bool `yaml:"allow_private_sources"` // default false
	// Workers is the number of files processed at once on this node.
	Workers int `yaml:"workers"` // default 1
	// MaxUnfinishedPerToken bounds the direct uploads and copies of one
	// API token still waiting for their file (429 past it).
	MaxUnfinishedPerToken int `yaml:"max_unfinished_per_token"` // default 100
}

// Transcode configures ABR transcoding.
type Transcode struct {
	Encoder     string             `yaml:"encoder"`      // auto | nvenc | qsv | vaapi | videotoolbox | x264
	VAAPIDevice string             `yaml:"vaapi_device"` // default /dev/dri/renderD128
	Capacity    int                `yaml:"capacity"`     // budget in units (Mpx/s of rung output, libx265 x5); 0 = 30 per core (x264), 995 (hardware)
	Profiles    []TranscodeProfile `yaml:"profiles"`
}

// TranscodeProfile is one named rung of a ladder.
type TranscodeProfile struct {
	Name         string `yaml:"name"`
	Height       int    `yaml:"height"`
	VideoBitrate string `yaml:"video_bitrate"` // e.g. 3000k
	MaxFPS       int    `yaml:"max_fps"`
	Codec        string `yaml:"codec"` // h264 | hevc
}

// LiveInput is a live input declared in the configuration.
type LiveInput struct {
	ID            string `yaml:"id"`
	Name          string `yaml:"name"`
	StreamKey     string `yaml:"stream_key"`     // "auto": generated and kept in data_dir
	SRTPassphrase string `yaml:"srt_passphrase"` // optional, 10-79 characters
}

// AutoKey is the stream_key value that asks for a generated key.
const AutoKey = "auto"

// Duration is a time.Duration written as a Go duration string ("2s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Load builds the configuration from the defaults, the file at path (if path
// is not empty) and the environment (environ in os.Environ form).
func Load(path string, environ []string) (*Config, error) {
	var c Config
	if err := decodeStrict(defaultYAML, &c); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		// A file that sets live_inputs replaces the default list (yaml.v3
		// decodes a sequence into a new slice).
		if err := decodeStrict(b, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func decodeStrict(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
