package manifest

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
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
		// A ladder change restarts the ladder, its rungs and what reads a
		// rung, never the source, the packager reading the whole ladder or
		// the recorder.
		{"ladder", base, mutate(t, "video_bitrate: 3000k", "video_bitrate: 3500k")},
		// Adding a thumbnail and a webhook is hot.
		{"hot-add", base, mutate(t, "  - {id: hook,", "  - {id: snap, type: thumbnail, inputs: [cam], config: {every: 5s}}\n"+
			"  - {id: hook2, type: notify.webhook, on: [snap.errored], config: {webhook: whk_2}}\n  - {id: hook,")},
		// Fields the running node takes in place.
		{"hot-config", base, []byte(strings.NewReplacer("delete_after_days: 30", "delete_after_days: 7", "every: 10s", "every: 30s",
			"on: [rec.ready, cam.disconnected]", "on: [rec.ready]").Replace(string(base)))},
		// Another live input restarts everything that reads the source.
		{"source", base, mutate(t, "live_input: li_123", "live_input: li_456")},
		{"delete-ladder", base, []byte(strings.NewReplacer(
			"  - {id: l2, type: transcode.abr, inputs: [ladder.360p], config: {renditions: [{name: a, height: 240, video_bitrate: 300k}]}}\n", "",
			"inputs: [cam, ladder]", "inputs: [cam]", "inputs: [ladder.360p], config: {every", "inputs: [cam], config: {every").Replace(
			string(base[:strings.Index(string(base), "  - id: ladder")]) + string(base[strings.Index(string(base), "  - {id: hls"):])))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var old *Manifest
			if tc.old != nil {
				old = parse(t, tc.old)
			}
			plan := Diff(old, parse(t, tc.new))
			js, err := json.MarshalIndent(plan.Changes, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got := plan.String() + "\n" + string(js) + "\n"
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
