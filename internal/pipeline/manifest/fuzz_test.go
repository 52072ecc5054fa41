package manifest

import (
	"encoding/json"
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
		_ = s.Validate(m)
		for _, n := range m.Spec.Nodes {
			if w, err := ParseWhen(n.When); err == nil {
				w.Eval(Facts{"source.video.height": 720})
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
