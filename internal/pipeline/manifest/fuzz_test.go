package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder and the validator: they
// never panic, and a manifest that decodes survives a JSON round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: a}\nspec: {nodes: [{id: c, type: source.live, config: {live_input: li_1}}]}\n"))
	f.Add([]byte(`{"api_version":"mpegflow.io/v1","kind":"Pipeline","metadata":{"name":"a"},"spec":{"nodes":[{"id":"c","type":"source.live","inputs":["c"],"when":"source.video.height > 1"}]}}`))
	s := Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if s.Validate(m) == nil {
			for _, n := range m.Spec.Nodes {
				cond, err := m.Condition(n.ID)
				if err != nil {
					t.Fatalf("node %q of a valid manifest: %v", n.ID, err)
				}
				_, _ = cond(Facts{"source.video.height": 720})
			}
		}
		j, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		m2, err := Decode(j)
		if err != nil {
			t.Fatalf("re-decode %s: %v", j, err)
		}
		j2, _ := json.Marshal(m2)
		if string(j) != string(j2) {
			t.Fatalf("round trip:\n%s\n%s", j, j2)
		}
	})
}

// FuzzValidate builds manifests straight from fuzzed nodes (bypassing the
// decoder, so ids, ports, events and expressions may be anything) and
// checks the validator and the planner: they never panic; a manifest
// that validates plans to nothing against itself, every node's condition
// compiles and evaluates within its cost limit, and its JSON form
// decodes and validates again.
//
// spec holds one node a line: `id type input,input event,event`; a type
// gets a config that fits it, and every node gets `when`.
func FuzzValidate(f *testing.F) {
	f.Add("cam source.live\nladder transcode.abr cam\nhls package.llhls cam,ladder\nrec record.vod ladder.r1\nhook notify.webhook - rec.ready", "source.video.height >= 720")
	f.Add("cam source.live\nl transcode.abr l.r1", "")
	f.Add("cam source.live\nt thumbnail cam\nw package.whep cam\no output.restream cam", "source.video.codec in ['h264'] && source.has_audio")
	f.Add("a source.live\na source.live", "[1,2,3].all(x, x > source.video.width)")
	f.Add("cam source.live\nh package.llhls cam,cam", "source.video.fps > 2")
	f.Add("cam source.live\nx notify.webhook cam cam.disconnected", "size(source.live_input) < 3")
	s := Default()
	f.Fuzz(func(t *testing.T, spec, when string) {
		m := &Manifest{APIVersion: APIVersion, Kind: KindPipeline, Metadata: Metadata{Name: "fuzz"}}
		for i, line := range strings.Split(spec, "\n") {
			if i > 50 {
				break
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			n := Node{ID: f[0], Type: f[1], When: when, Config: fittingConfig(f[1])}
			if len(f) > 2 && f[2] != "-" {
				n.Inputs = strings.Split(f[2], ",")
			}
			if len(f) > 3 {
				n.On = strings.Split(f[3], ",")
			}
			m.Spec.Nodes = append(m.Spec.Nodes, n)
		}
		if err := s.Validate(m); err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("not Errors: %v", err)
			}
			_ = Diff(nil, m) // the planner copes with invalid manifests too
			return
		}
		if p := Diff(m, m); !p.Empty() {
			t.Fatalf("a manifest differs from itself:\n%s", p)
		}
		for _, n := range m.Spec.Nodes {
			cond, err := m.Condition(n.ID)
			if err != nil {
				t.Fatalf("valid manifest, condition of %s: %v", n.ID, err)
			}
			if _, err := cond(Source{LiveInput: "li_1", Protocol: "rtmp", Video: &VideoFacts{Codec: "h264", Height: 720}}.Facts()); err != nil && !errors.Is(err, ErrWhenCost) {
				t.Logf("evaluate %q: %v", n.When, err) // runtime errors (division by zero) are allowed
			}
		}
		j, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Parse(j); err != nil {
			t.Fatalf("a valid manifest's JSON is refused: %v\n%s", err, j)
		}
	})
}

// fittingConfig is a config a node of typ accepts.
func fittingConfig(typ string) map[string]any {
	switch typ {
	case "source.live":
		return map[string]any{"live_input": "li_1"}
	case "transcode.abr":
		return map[string]any{"renditions": []any{map[string]any{"name": "r1", "height": int64(360), "video_bitrate": "700k"}}}
	case "output.restream":
		return map[string]any{"output": "out_1"}
	case "notify.webhook":
		return map[string]any{"webhook": "whk_1"}
	}
	return nil
}
