package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileJSONSchema compiles the generated schema with a draft 2020-12
// validator (which also checks the schema against its meta-schema).
func compileJSONSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := json.Marshal(Default().JSONSchema("https://example.test/v1/pipelines/schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("https://example.test/v1/pipelines/schema.json", v); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("https://example.test/v1/pipelines/schema.json")
	if err != nil {
		t.Fatalf("compile the schema: %v", err)
	}
	return sch
}

// instance reads YAML or JSON into the values a JSON Schema validator
// takes (through JSON, so numbers are json.Number).
func instance(t testing.TB, data []byte) any {
	t.Helper()
	var y any
	if err := yaml.Unmarshal(data, &y); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJSONSchemaExamples: every example manifest of the repository and
// of testdata is valid for both the JSON Schema and Validate.
func TestJSONSchemaExamples(t *testing.T) {
	sch := compileJSONSchema(t)
	var files []string
	for _, g := range []string{"../../../examples/pipelines/*", "testdata/*.yaml"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("only %d examples: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(instance(t, data)); err != nil {
				t.Errorf("JSON Schema: %v", err)
			}
			if _, err := Default().Parse(data); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// TestJSONSchemaRefuses: shapes that the decoder or Validate refuse are
// refused by the schema too, at the same place.
func TestJSONSchemaRefuses(t *testing.T) {
	sch := compileJSONSchema(t)
	for _, tc := range []struct{ name, old, new, where string }{
		{"unknown type", "type: thumbnail", "type: thumbnails", "/spec/nodes/4/type"},
		{"unknown config field", "every: 10s", "every: 10s, fps: 2", "/spec/nodes/4/config"},
		{"bad duration", "part_duration: 200ms", "part_duration: soon", "/spec/nodes/2/config/part_duration"},
		{"int out of range", "delete_after_days: 30", "delete_after_days: -1", "/spec/nodes/3/config/delete_after_days"},
		{"bad bitrate", "video_bitrate: 700k", "video_bitrate: fast", "/spec/nodes/1/config/renditions/1/video_bitrate"},
		{"missing required config", "config: {live_input: li_123, reconnect_window: 60s}", "config: {reconnect_window: 60s}", "/spec/nodes/0/config"},
		{"webhook with inputs", "on: [rec.ready", "inputs: [cam], on: [rec.ready", "/spec/nodes/5/inputs"},
		{"source with inputs", "type: source.live,", "type: source.live, inputs: [hls],", "/spec/nodes/0/inputs"},
		{"bad id", "id: rec,", "id: Rec,", "/spec/nodes/3/id"},
		{"unknown node field", "id: cam,", "id: cam, colour: red,", "/spec/nodes/0"},
		{"wrong api version", "mpegflow.io/v1", "mpegflow.io/v2", "/api_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sch.Validate(instance(t, mutate(t, tc.old, tc.new)))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.where) {
				t.Errorf("error does not name %s: %v", tc.where, err)
			}
		})
	}
}

// TestJSONSchemaFollowsRegistry: a type registered in the Schema appears
// in the JSON Schema with its config, and nothing else is needed.
func TestJSONSchemaFollowsRegistry(t *testing.T) {
	s := Default()
	s.Register(Type{Name: "test.probe", Accepts: PortMedia, MinInputs: 1, MaxInputs: 1,
		Config: map[string]Field{"interval": {Kind: KindDuration, Required: true}}})
	doc := s.JSONSchema("x")
	defs := doc["$defs"].(map[string]any)
	cfg, ok := defs["config.test.probe"].(map[string]any)
	if !ok {
		t.Fatalf("no config.test.probe in %v", defs)
	}
	if req := cfg["required"].([]string); len(req) != 1 || req[0] != "interval" {
		t.Fatalf("required %v", req)
	}
	enum := defs["node"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]string)
	found := false
	for _, n := range enum {
		found = found || n == "test.probe"
	}
	if !found {
		t.Fatalf("type enum %v", enum)
	}
}
