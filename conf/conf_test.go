package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mpegflow.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Address != ":8080" || c.RTMP.Address != ":1935" || c.Metrics.Address != "127.0.0.1:9464" {
		t.Fatalf("addresses: %+v %+v %+v", c.HTTP, c.RTMP, c.Metrics)
	}
	if c.HLS.SegmentDuration.D() != 2*time.Second || c.HLS.PartDuration.D() != 200*time.Millisecond {
		t.Fatalf("hls: %+v", c.HLS)
	}
	if c.RTMP.ReconnectWindow.D() != 10*time.Second || c.RTMP.OnDuplicate != "reject" {
		t.Fatalf("rtmp: %+v", c.RTMP)
	}
	if c.DataDir != "./data" || c.Log.Format != "text" || c.Log.Level != "info" || c.RTMPS.Enabled() {
		t.Fatalf("misc: %+v", c)
	}
	if len(c.LiveInputs) != 1 || c.LiveInputs[0].ID != "demo" || c.LiveInputs[0].StreamKey != AutoKey {
		t.Fatalf("live inputs: %+v", c.LiveInputs)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want string
	}{
		{"unknown key", "http:\n  adress: \":1\"\n", nil, "field adress not found"},
		{"part too long", "hls:\n  part_duration: 5s\n", nil, "hls.part_duration: must be between 100ms and 2s, got 5s"},
		{"env part too long", "", []string{"MPEGFLOW_HLS_PART_DURATION=5s"}, "hls.part_duration: must be between 100ms and 2s, got 5s"},
		{"env bad duration", "", []string{"MPEGFLOW_HLS_SEGMENT_DURATION=soon"}, "hls.segment_duration (MPEGFLOW_HLS_SEGMENT_DURATION): invalid duration"},
		{"env unknown", "", []string{"MPEGFLOW_HTTP_ADRESS=:1"}, "MPEGFLOW_HTTP_ADRESS: no such configuration key"},
		{"bad format", "log:\n  format: xml\n", nil, "log.format: must be text or json"},
		{"bad dup policy", "rtmp:\n  on_duplicate: maybe\n", nil, "rtmp.on_duplicate"},
		{"bad addr", "http:\n  address: nope\n", nil, "http.address: must be host:port"},
		{"rtmps without cert", "rtmps:\n  address: \":1936\"\n", nil, "rtmps.cert_file: required"},
		{"rtsps without key", "rtsps:\n  address: \":8322\"\n  cert_file: c.pem\n", nil, "rtsps.key_file: required"},
		{"rtsp odd rtp port", "rtsp:\n  udp_rtp_address: \":8001\"\n  udp_rtcp_address: \":8002\"\n", nil, "rtsp.udp_rtp_address: must have an even port"},
		{"rtsp rtcp not next", "rtsp:\n  udp_rtcp_address: \":8003\"\n", nil, "rtsp.udp_rtcp_address: port must be"},
		{"rtsp half udp", "rtsp:\n  udp_rtcp_address: \"\"\n", nil, "rtsp.udp_rtcp_address: set both"},
		{"rtsp udp without tcp", "rtsp:\n  address: \"\"\n", nil, "rtsp.udp_rtp_address: needs rtsp.address"},
		{"rtsp bad address", "rtsp:\n  address: \"8554\"\n", nil, "rtsp.address: must be host:port"},
		{"short key", "live_inputs:\n  - {id: a, stream_key: short}\n", nil, "live_inputs[0].stream_key"},
		{"dup id", "live_inputs:\n  - {id: a, stream_key: auto}\n  - {id: a, stream_key: auto}\n", nil, "live_inputs[1].id: duplicate"},
		{"bad id", "live_inputs:\n  - {id: \"../x\", stream_key: auto}\n", nil, "live_inputs[0].id"},
		{"s3 without endpoint", "storage:\n  kind: s3\n", nil, "storage.s3.endpoint: required"},
		{"bad encoder", "transcode:\n  encoder: gpu\n", nil, "transcode.encoder: must be one of"},
		{"bad profile height", "transcode:\n  profiles:\n    - {name: x, height: 7, video_bitrate: 1M, max_fps: 30, codec: h264}\n", nil, "transcode.profiles[0].height"},
		{"bad proxy", "http:\n  trusted_proxies: [nope]\n", nil, "http.trusted_proxies[0]"},
		{"bad on_error", "admission:\n  on_error: maybe\n", nil, "admission.on_error"},
		{"env float", "", []string{"MPEGFLOW_RECORDING_THUMBNAIL_TIME_PCT=2"}, "recording.thumbnail_time_pct: must be between 0 and 1"},
		{"short lease", "recording:\n  lease: 1s\n", nil, "recording.lease: must be between 3s and 1h"},
		{"heartbeat vs lease", "", []string{"MPEGFLOW_RECORDING_LEASE=6s"}, "recording.heartbeat: must be between 100ms and 2s, got 5s"},
		{"bad node id", "recording:\n  node_id: \"a b\"\n", nil, "recording.node_id"},
		{"part vs segment", "hls:\n  segment_duration: 1s\n  part_duration: 600ms\n", nil, "at most half"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
			if strings.Contains(tt.file, "short") && strings.Contains(err.Error(), "short") {
				t.Fatalf("error echoes the stream key: %v", err)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	p := writeFile(t, "http:\n  address: \"127.0.0.1:1\"\nlive_inputs:\n  - {id: cam1, name: Cam, stream_key: secretkey123}\n")
	c, err := Load(p, []string{
		"MPEGFLOW_HTTP_ADDRESS=127.0.0.1:2",
		"MPEGFLOW_DATA_DIR=/tmp/x",
		"MPEGFLOW_RTMP_RECONNECT_WINDOW=3s",
		"OTHER=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Address != "127.0.0.1:2" || c.DataDir != "/tmp/x" || c.RTMP.ReconnectWindow.D() != 3*time.Second {
		t.Fatalf("%+v", c)
	}
	if len(c.LiveInputs) != 1 || c.LiveInputs[0].StreamKey != "secretkey123" {
		t.Fatalf("live inputs: %+v", c.LiveInputs)
	}
	c, err = Load("", []string{`MPEGFLOW_LIVE_INPUTS=[{"id":"x","stream_key":"abcdefgh12"}]`})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.LiveInputs) != 1 || c.LiveInputs[0].ID != "x" {
		t.Fatalf("env list: %+v", c.LiveInputs)
	}
}

func TestDefaultFileIsTheDefaults(t *testing.T) {
	if !strings.Contains(string(Default()), "segment_duration: 2s") {
		t.Fatal("default file lost its documentation")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("http:\n  address: \":1\"\n"))
	f.Add([]byte("hls: {part_duration: 300ms}"))
	f.Add([]byte("live_inputs: [{id: a, stream_key: auto}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "c.yml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, nil)
		if err == nil && c.Validate() != nil {
			t.Fatal("Load returned an invalid config")
		}
	})
}
