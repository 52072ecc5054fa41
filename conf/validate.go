package conf

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Validate checks every value; the error names the key and the rule, e.g.
// "hls.part_duration: must be between 100ms and 2s, got 5s".
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("data_dir: must not be empty")
	}
	if u := c.Store.PostgresURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return fmt.Errorf("store.postgres_url: must start with postgres:// or postgresql://")
	}
	if t := c.API.AdminToken; t != "" && len(t) < 16 {
		return fmt.Errorf("api.admin_token: must be at least 16 characters")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: must be one of debug, info, warn, error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: must be text or json, got %q", c.Log.Format)
	}
	if err := checkAddr("http.address", c.HTTP.Address, false); err != nil {
		return err
	}
	if err := checkAddr("rtmp.address", c.RTMP.Address, false); err != nil {
		return err
	}
	if err := checkAddr("metrics.address", c.Metrics.Address, true); err != nil {
		return err
	}
	if err := checkDuration("rtmp.reconnect_window", c.RTMP.ReconnectWindow.D(), 0, 10*time.Minute); err != nil {
		return err
	}
	switch c.RTMP.OnDuplicate {
	case "reject", "replace":
	default:
		return fmt.Errorf("rtmp.on_duplicate: must be reject or replace, got %q", c.RTMP.OnDuplicate)
	}
	if err := checkAddr("srt.address", c.SRT.Address, true); err != nil {
		return err
	}
	if err := checkDuration("srt.latency", c.SRT.Latency.D(), 20*time.Millisecond, 8*time.Second); err != nil {
		return err
	}
	if err := c.validateRTSP(); err != nil {
		return err
	}
	if err := checkAddr("webrtc.udp_address", c.WebRTC.UDPAddress, true); err != nil {
		return err
	}
	if err := checkAddr("webrtc.tcp_address", c.WebRTC.TCPAddress, true); err != nil {
		return err
	}
	for i, ip := range c.WebRTC.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("webrtc.nat_1to1_ips[%d]: not an IP address: %q", i, ip)
		}
	}
	if c.RTMPS.Enabled() {
		if err := checkAddr("rtmps.address", c.RTMPS.Address, false); err != nil {
			return err
		}
		if c.RTMPS.CertFile == "" {
			return fmt.Errorf("rtmps.cert_file: required when rtmps.address is set")
		}
		if c.RTMPS.KeyFile == "" {
			return fmt.Errorf("rtmps.key_file: required when rtmps.address is set")
		}
	}
	if err := checkDuration("hls.segment_duration", c.HLS.SegmentDuration.D(), 500*time.Millisecond, 10*time.Second); err != nil {
		return err
	}
	if err := checkDuration("hls.max_segment_duration", c.HLS.MaxSegmentDuration.D(), c.HLS.SegmentDuration.D(), 30*time.Second); err != nil {
		return err
	}
	if err := checkDuration("hls.part_duration", c.HLS.PartDuration.D(), 100*time.Millisecond, 2*time.Second); err != nil {
		return err
	}
	if c.HLS.PartDuration.D() > c.HLS.SegmentDuration.D()/2 {
		return fmt.Errorf("hls.part_duration: must be at most half of hls.segment_duration (%s), got %s",
			c.HLS.SegmentDuration, c.HLS.PartDuration)
	}
	if err := c.validateFeatures(); err != nil {
		return err
	}
	ids := map[string]bool{}
	keys := map[string]bool{}
	for i, li := range c.LiveInputs {
		if !idPattern.MatchString(li.ID) {
			return fmt.Errorf("live_inputs[%d].id: must be 1-64 letters, digits, '-' or '_', got %q", i, li.ID)
		}
		if ids[li.ID] {
			return fmt.Errorf("live_inputs[%d].id: duplicate id %q", i, li.ID)
		}
		ids[li.ID] = true
		if li.StreamKey != AutoKey && len(li.StreamKey) < 8 {
			// never echo the key itself
			return fmt.Errorf("live_inputs[%d].stream_key: must be at least 8 characters or \"auto\"", i)
		}
		if p := li.SRTPassphrase; p != "" && (len(p) < 10 || len(p) > 79) {
			return fmt.Errorf("live_inputs[%d].srt_passphrase: must be 10-79 characters", i)
		}
		if li.StreamKey != AutoKey {
			if keys[li.StreamKey] {
				return fmt.Errorf("live_inputs[%d].stream_key: the same key is used by another live input", i)
			}
			keys[li.StreamKey] = true
		}
	}
	return nil
}

func checkAddr(key, addr string, optional bool) error {
	if addr == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: must not be empty", key)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: must be host:port or :port, got %q", key, addr)
	}
	return nil
}

func checkDuration(key string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return fmt.Errorf("%s: must be between %s and %s, got %s", key, fmtDur(lo), fmtDur(hi), fmtDur(d))
	}
	return nil
}

// fmtDur prints 2s rather than 2s0ms and 10m rather than 10m0s.
func fmtDur(d time.Duration) string {
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}

var bitratePattern = regexp.MustCompile(`^[1-9][0-9]*[kM]?$`)

func (c *Config) validateFeatures() error {
	for i, p := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return fmt.Errorf("http.trusted_proxies[%d]: not a CIDR or IP: %q", i, p)
		}
	}
	if c.Playback.TokenCacheSize < 0 {
		return fmt.Errorf("playback.token_cache_size: must be >= 0, got %d", c.Playback.TokenCacheSize)
	}
	for key, u := range map[string]string{"admission.publish_url": c.Admission.PublishURL, "admission.play_url": c.Admission.PlayURL} {
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("%s: must be an http:// or https:// URL", key)
		}
	}
	if err := checkDuration("admission.timeout", c.Admission.Timeout.D(), 50*time.Millisecond, 30*time.Second); err != nil {
		return err
	}
	if c.Admission.OnError != "allow" && c.Admission.OnError != "deny" {
		return fmt.Errorf("admission.on_error: must be allow or deny, got %q", c.Admission.OnError)
	}
	if err := checkDuration("webhooks.timeout", c.Webhooks.Timeout.D(), time.Second, 60*time.Second); err != nil {
		return err
	}
	if c.Webhooks.Workers < 1 || c.Webhooks.Workers > 256 {
		return fmt.Errorf("webhooks.workers: must be between 1 and 256, got %d", c.Webhooks.Workers)
	}
	if err := checkDuration("webhooks.log_retention", c.Webhooks.LogRetention.D(), time.Hour, 90*24*time.Hour); err != nil {
		return err
	}
	switch c.Storage.Kind {
	case "local":
	case "s3":
		if c.Storage.S3.Endpoint == "" {
			return fmt.Errorf("storage.s3.endpoint: required when storage.kind is s3")
		}
		if c.Storage.S3.Bucket == "" {
			return fmt.Errorf("storage.s3.bucket: required when storage.kind is s3")
		}
	default:
		return fmt.Errorf("storage.kind: must be local or s3, got %q", c.Storage.Kind)
	}
	if p := c.Recording.ThumbnailTimePct; p < 0 || p > 1 {
		return fmt.Errorf("recording.thumbnail_time_pct: must be between 0 and 1, got %g", p)
	}
	if err := checkDuration("recording.lease", c.Recording.Lease.D(), 3*time.Second, time.Hour); err != nil {
		return err
	}
	if err := checkDuration("recording.heartbeat", c.Recording.Heartbeat.D(), 100*time.Millisecond, c.Recording.Lease.D()/3); err != nil {
		return err
	}
	if id := c.Recording.NodeID; len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return fmt.Errorf("recording.node_id: at most 64 printable ASCII characters without spaces, got %q", id)
	}
	for _, l := range []struct {
		key string
		v   int64
	}{{"uploads.max_size", c.Uploads.MaxSize}, {"uploads.plain_max_size", c.Uploads.PlainMaxSize}, {"uploads.copy_max_size", c.Uploads.CopyMaxSize}} {
		if l.v < 1<<20 || l.v > 1<<40 {
			return fmt.Errorf("%s: must be between 1 MiB and 1 TiB in bytes, got %d", l.key, l.v)
		}
	}
	if err := checkDuration("uploads.copy_timeout", c.Uploads.CopyTimeout.D(), time.Second, 24*time.Hour); err != nil {
		return err
	}
	if w := c.Uploads.Workers; w < 1 || w > 64 {
		return fmt.Errorf("uploads.workers: must be between 1 and 64, got %d", w)
	}
	if n := c.Uploads.MaxUnfinishedPerToken; n < 1 || n > 1_000_000 {
		return fmt.Errorf("uploads.max_unfinished_per_token: must be between 1 and 1000000, got %d", n)
	}
	switch c.Transcode.Encoder {
	case "auto", "nvenc", "qsv", "vaapi", "videotoolbox", "x264":
	default:
		return fmt.Errorf("transcode.encoder: must be one of auto, nvenc, qsv, vaapi, videotoolbox, x264, got %q", c.Transcode.Encoder)
	}
	if c.Transcode.Capacity < 0 {
		return fmt.Errorf("transcode.capacity: must be >= 0, got %d", c.Transcode.Capacity)
	}
	names := map[string]bool{}
	for i, p := range c.Transcode.Profiles {
		k := fmt.Sprintf("transcode.profiles[%d]", i)
		if !idPattern.MatchString(p.Name) || names[p.Name] {
			return fmt.Errorf("%s.name: must be a unique name of letters, digits, '-' or '_', got %q", k, p.Name)
		}
		names[p.Name] = true
		if p.Height < 144 || p.Height > 4320 || p.Height%2 != 0 {
			return fmt.Errorf("%s.height: must be an even number between 144 and 4320, got %d", k, p.Height)
		}
		if !bitratePattern.MatchString(p.VideoBitrate) {
			return fmt.Errorf("%s.video_bitrate: must be like 3000k or 5M, got %q", k, p.VideoBitrate)
		}
		if p.MaxFPS < 1 || p.MaxFPS > 240 {
			return fmt.Errorf("%s.max_fps: must be between 1 and 240, got %d", k, p.MaxFPS)
		}
		if p.Codec != "h264" && p.Codec != "hevc" {
			return fmt.Errorf("%s.codec: must be h264 or hevc, got %q", k, p.Codec)
		}
	}
	return nil
}

// validateRTSP checks rtsp.* and rtsps.*: the UDP addresses go in pairs
// whose RTCP port is the RTP port + 1 (RFC 3550 §11), and the RTP port is
// even; UDP needs the RTSP listener.
func (c *Config) validateRTSP() error {
	r := c.RTSP
	if err := checkDuration("rtsp.on_demand_start_timeout", r.OnDemandStartTimeout.D(), 100*time.Millisecond, 2*time.Minute); err != nil {
		return err
	}
	if err := checkDuration("rtsp.on_demand_idle_timeout", r.OnDemandIdleTimeout.D(), 100*time.Millisecond, time.Hour); err != nil {
		return err
	}
	if err := checkAddr("rtsp.address", r.Address, true); err != nil {
		return err
	}
	if err := checkAddr("rtsp.udp_rtp_address", r.UDPRTPAddress, true); err != nil {
		return err
	}
	if err := checkAddr("rtsp.udp_rtcp_address", r.UDPRTCPAddress, true); err != nil {
		return err
	}
	if (r.UDPRTPAddress == "") != (r.UDPRTCPAddress == "") {
		return fmt.Errorf("rtsp.udp_rtcp_address: set both udp_rtp_address and udp_rtcp_address, or neither")
	}
	if r.UDPRTPAddress != "" {
		if r.Address == "" {
			return fmt.Errorf("rtsp.udp_rtp_address: needs rtsp.address")
		}
		rtp, err := portOf(r.UDPRTPAddress)
		if err != nil || rtp%2 != 0 {
			return fmt.Errorf("rtsp.udp_rtp_address: must have an even port, got %q", r.UDPRTPAddress)
		}
		if rtcp, err := portOf(r.UDPRTCPAddress); err != nil || rtcp != rtp+1 {
			return fmt.Errorf("rtsp.udp_rtcp_address: port must be udp_rtp_address's + 1, got %q", r.UDPRTCPAddress)
		}
	}
	if c.RTSPS.Enabled() {
		if err := checkAddr("rtsps.address", c.RTSPS.Address, false); err != nil {
			return err
		}
		if c.RTSPS.CertFile == "" {
			return fmt.Errorf("rtsps.cert_file: required when rtsps.address is set")
		}
		if c.RTSPS.KeyFile == "" {
			return fmt.Errorf("rtsps.key_file: required when rtsps.address is set")
		}
	}
	return nil
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
