package manifest

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func load(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/sunday.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseExample(t *testing.T) {
	m, err := Default().Parse(load(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata.Name != "sunday-service" || len(m.Spec.Nodes) != 6 || m.Metadata.Labels["team"] != "av" {
		t.Fatalf("decoded %+v", m)
	}
	// The same manifest as JSON decodes to the same value.
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Default().Parse(j)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(m2)
	if string(j) != string(j2) {
		t.Fatalf("JSON round trip:\n%s\n%s", j, j2)
	}
}

// mutate replaces the first occurrence of old in the example.
func mutate(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(load(t))
	// A second ladder reading the first, for the cycle case.
	s += "  - {id: l2, type: transcode.abr, inputs: [ladder.360p], config: {renditions: [{name: a, height: 240, video_bitrate: 300k}]}}\n"
	if !strings.Contains(s, old) {
		t.Fatalf("example has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, old, new  string
		path, node, msg string
	}{
		{"unknown top field", "kind: Pipeline", "kind: Pipeline\nstatus: {}", "/status", "", "unknown field"},
		{"unknown node field", "id: cam,", "id: cam, colour: red,", "/spec/nodes/0/colour", "", "unknown field"},
		{"unknown config field", "every: 10s", "every: 10s, fps: 2", "/spec/nodes/4/config/fps", "thumbs", "unknown field"},
		{"wrong api version", "mpegflow.io/v1", "mpegflow.io/v2", "/api_version", "", "must be"},
		{"bad name", "name: sunday-service", "name: Sunday_Service", "/metadata/name", "", "DNS label"},
		{"duplicate id", "id: rec,", "id: hls,", "/spec/nodes/3/id", "hls", "duplicate id"},
		{"unknown type", "type: thumbnail", "type: thumbnails", "/spec/nodes/4/type", "thumbs", "unknown node type"},
		{"dangling input", "inputs: [cam], config: {delete", "inputs: [cma], config: {delete", "/spec/nodes/3/inputs/0", "rec", `no node "cma"`},
		{"unknown rendition", "inputs: [ladder.360p]", "inputs: [ladder.1080p]", "/spec/nodes/4/inputs/0", "thumbs", "no rendition"},
		{"ladder into thumbnail", "inputs: [ladder.360p]", "inputs: [ladder]", "/spec/nodes/4/inputs/0", "thumbs", "cannot read"},
		{"sink as input", "inputs: [ladder.360p]", "inputs: [hls]", "/spec/nodes/4/inputs/0", "thumbs", "has no output"},
		{"self cycle", "inputs: [cam]\n", "inputs: [ladder.720p]\n", "/spec/nodes/1/inputs", "ladder", "cycle: ladder -> ladder"},
		{"cycle", "inputs: [cam]\n", "inputs: [l2.a]\n", "/spec/nodes/1/inputs", "ladder", "cycle: ladder -> l2 -> ladder"},
		{"bad duration", "part_duration: 200ms", "part_duration: 200", "/spec/nodes/2/config/part_duration", "hls", "duration"},
		{"duration out of range", "part_duration: 200ms", "part_duration: 10ms", "/spec/nodes/2/config/part_duration", "hls", "between 100ms and 2s"},
		{"bad bitrate", "video_bitrate: 700k", "video_bitrate: fast", "/spec/nodes/1/config/renditions/1/video_bitrate", "ladder", "bitrate"},
		{"missing height", "height: 360, ", "", "/spec/nodes/1/config/renditions/1/height", "ladder", "required"},
		{"duplicate rendition", "name: 360p", "name: 720p", "/spec/nodes/1/config/renditions/1/name", "ladder", "duplicate rendition"},
		{"when unknown field", "source.video.codec", "source.video.bitrate", "/spec/nodes/1/when", "ladder", "unknown field"},
		{"when type mismatch", `== "h264"`, "== 264", "/spec/nodes/1/when", "ladder", "no matching overload"},
		{"bad event", "rec.ready", "rec.done", "/spec/nodes/5/on/0", "hook", "emits"},
		{"webhook with inputs", "on: [rec.ready", "inputs: [cam], on: [rec.ready", "/spec/nodes/5/inputs", "hook", "takes no inputs"},
		{"alias", "labels: {team: av}", "labels: &l {team: av}", "/metadata/labels", "", "anchors"},
		{"duplicate key", "type: source.live,", "type: source.live, type: thumbnail,", "/spec/nodes/0", "", "already defined"},
		{"two documents", "api_version", "---\n{}\n---\napi_version", "", "", "more than one document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Default().Parse(mutate(t, tc.old, tc.new))
			var es Errors
			if !errors.As(err, &es) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want Errors", err)
			}
			for _, e := range es {
				if e.Path == tc.path && e.Node == tc.node && strings.Contains(e.Message, tc.msg) {
					if e.Path != "" && e.Line == 0 {
						t.Errorf("%v: no line", e)
					}
					return
				}
			}
			t.Fatalf("no error at %q for node %q containing %q in %v", tc.path, tc.node, tc.msg, err)
		})
	}
}

func TestEveryProblemListed(t *testing.T) {
	_, err := Default().Parse([]byte(`{"api_version":"x","kind":"Pipeline","metadata":{"name":"a"},"spec":{"nodes":[
		{"id":"cam","type":"source.live","config":{"live_input":"li_1"}},
		{"id":"a","type":"nope"},
		{"id":"b","type":"thumbnail","inputs":["zz"]}]}}`))
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: big}\nspec:\n  nodes:\n")
	for i := 0; i <= MaxNodes; i++ {
		b.WriteString("  - {id: n, type: thumbnail}\n")
	}
	if _, err := Decode([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("too many nodes: %v", err)
	}
	if _, err := Decode(make([]byte, MaxBytes+1)); err == nil {
		t.Fatal("too many bytes accepted")
	}
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	if _, err := Decode([]byte(bomb)); err == nil || !strings.Contains(err.Error(), "anchors") {
		t.Fatalf("billion laughs: %v", err)
	}
}

func TestBitrate(t *testing.T) {
	for in, want := range map[any]int64{"3000k": 3_000_000, "2.5M": 2_500_000, int64(700000): 700000, "800": 800} {
		if got, err := ParseBitrate(in); err != nil || got != want {
			t.Errorf("%v: %d %v", in, got, err)
		}
	}
	for _, in := range []any{"k", "-1k", "1e400", true} {
		if _, err := ParseBitrate(in); err == nil {
			t.Errorf("%v accepted", in)
		}
	}
}
