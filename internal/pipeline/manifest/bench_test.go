package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// bigManifest is a source, a ladder and n-2 sinks reading its rungs.
func bigManifest(n int, every string) []byte {
	var b strings.Builder
	b.WriteString("api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: big}\nspec:\n  nodes:\n")
	b.WriteString("  - {id: cam, type: source.live, config: {live_input: li_1}}\n")
	b.WriteString("  - {id: ladder, type: transcode.abr, inputs: [cam], when: 'source.video.height >= 720', config: {renditions: [{name: r1080, height: 1080, video_bitrate: 6M}, {name: r720, height: 720, video_bitrate: 3M}, {name: r360, height: 360, video_bitrate: 700k}]}}\n")
	for i := 2; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: t%d, type: thumbnail, inputs: [ladder.r720], config: {every: %s}}\n", i, every)
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
