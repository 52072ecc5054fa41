package manifest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden plans")

func TestPlanGolden(t *testing.T) {
	base := mutate(t, "team: av", "team: av") // with the second ladder
	for _, tc := range []struct {
		name     string
		old, new []byte
	}{
		{"create", nil, base},
		{"unchanged", base, base},
		{"edit", base, mutate(t, "video_bitrate: 700k", "video_bitrate: 800k")},
		{"add-and-remove", base, mutate(t, "  - {id: thumbs, type: thumbnail, inputs: [ladder.360p], config: {every: 10s}}\n",
			"  - {id: snap, type: thumbnail, inputs: [cam]}\n")},
		{"rewire", base, mutate(t, "inputs: [cam, ladder]", "inputs: [ladder]")},
		{"replace", base, mutate(t, "{id: thumbs, type: thumbnail, inputs: [ladder.360p], config: {every: 10s}}", "{id: thumbs, type: package.whep, inputs: [ladder.360p]}")},
		{"labels", base, mutate(t, "team: av", "team: ops")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old *Manifest
			if tc.old != nil {
				old = parse(t, tc.old)
			}
			got := Diff(old, parse(t, tc.new)).String()
			golden := filepath.Join("testdata", "plans", tc.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func parse(t *testing.T, b []byte) *Manifest {
	t.Helper()
	m, err := Default().Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpecEqual(t *testing.T) {
	a := parse(t, mutate(t, "team: av", "team: av"))
	b := parse(t, mutate(t, "team: av", "team: ops"))
	if !SpecEqual(a, b) {
		t.Fatal("labels changed the spec")
	}
	if SpecEqual(a, parse(t, mutate(t, "every: 10s", "every: 20s"))) {
		t.Fatal("a config change left the spec equal")
	}
}
