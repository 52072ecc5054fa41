package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// bigManifest is a source, a ladder and n-2 sinks reading its rungs.
func bigManifest(n int, every string) []byte { return bigManifestWhen(n, every, "") }

// bigManifestWhen is bigManifest with when on every sink.
func bigManifestWhen(n int, every, when string) []byte {
	var b strings.Builder
	b.WriteString("api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: big}\nspec:\n  nodes:\n")
	b.WriteString("  - {id: cam, type: source.live, config: {live_input: li_1}}\n")
	b.WriteString("  - {id: ladder, type: transcode.abr, inputs: [cam], when: 'source.video.height >= 720', config: {renditions: [{name: r1080, height: 1080, video_bitrate: 6M}, {name: r720, height: 720, video_bitrate: 3M}, {name: r360, height: 360, video_bitrate: 700k}]}}\n")
	for i := 2; i < n; i++ {
		w := ""
		if when != "" {
			w = ", when: '" + when + "'"
		}
		fmt.Fprintf(&b, "  - {id: t%d, type: thumbnail, inputs: [ladder.r720]%s, config: {every: %s}}\n", i, w, every)
	}
	return []byte(b.String())
}

// BenchmarkParse200 decodes and validates a 200-node manifest.
func BenchmarkParse200(b *testing.B) {
	data := bigManifest(200, "10s")
	s := Default()
	for b.Loop() {
		if _, err := s.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan200 diffs two 200-node manifests that differ in every
// sink's config.
func BenchmarkPlan200(b *testing.B) {
	s := Default()
	old, err := s.Parse(bigManifest(200, "10s"))
	if err != nil {
		b.Fatal(err)
	}
	new, err := s.Parse(bigManifest(200, "20s"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if p := Diff(old, new); p.Count(Update) != 198 {
			b.Fatal(p.String())
		}
	}
}

// BenchmarkParse200When decodes and validates a 200-node manifest whose
// every node has a CEL condition to compile and cost-check.
func BenchmarkParse200When(b *testing.B) {
	data := bigManifestWhen(200, "10s", "source.video.height >= 720 && source.video.codec in [\"h264\", \"h265\"]")
	s := Default()
	for b.Loop() {
		if _, err := s.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan200Restart diffs two 200-node manifests whose ladder
// differs: the ladder restarts and with it the 198 sinks reading a rung.
func BenchmarkPlan200Restart(b *testing.B) {
	s := Default()
	old, err := s.Parse(bigManifest(200, "10s"))
	if err != nil {
		b.Fatal(err)
	}
	new, err := s.Parse([]byte(strings.Replace(string(bigManifest(200, "10s")), "video_bitrate: 6M", "video_bitrate: 5M", 1)))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if p := s.Diff(old, new); p.Restarting() != 199 {
			b.Fatal(p.String())
		}
	}
}

// BenchmarkJSONSchema generates the JSON Schema of the default types.
func BenchmarkJSONSchema(b *testing.B) {
	s := Default()
	for b.Loop() {
		_ = s.JSONSchema("x")
	}
}

// BenchmarkParse200DistinctWhen is the worst case: 198 different
// conditions, each compiled and cost-checked.
func BenchmarkParse200DistinctWhen(b *testing.B) {
	data := bigManifest(200, "10s")
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, "type: thumbnail") {
			lines[i] = strings.Replace(l, "inputs:", fmt.Sprintf("when: 'source.video.height >= %d', inputs:", i), 1)
		}
	}
	data = []byte(strings.Join(lines, "\n"))
	s := Default()
	for b.Loop() {
		if _, err := s.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
