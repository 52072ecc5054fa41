package manifest

import (
	"strings"
	"testing"
)

func TestCheckMedia(t *testing.T) {
	h264 := Source{LiveInput: "li_a", Video: &VideoFacts{Codec: "h264", Width: 1280, Height: 720}, Audio: &AudioFacts{Codec: "aac"}}
	vp8 := Source{LiveInput: "li_a", Video: &VideoFacts{Codec: "vp8", Width: 640, Height: 480}, Audio: &AudioFacts{Codec: "opus"}}
	audio := Source{LiveInput: "li_a", Audio: &AudioFacts{Codec: "aac"}}
	const cam = `{id: cam, type: source.live, config: {live_input: li_a}}`
	const ladder = `{id: ladder, type: transcode.abr, inputs: [cam], config: {renditions: [{name: r360, height: 360, video_bitrate: 700k}]}}`
	for _, tc := range []struct {
		name  string
		nodes []string
		src   Source
		want  []string // "node path message-fragment"
	}{
		{"h264 into everything", []string{cam, ladder, `{id: hls, type: package.llhls, inputs: [cam, ladder]}`,
			`{id: rec, type: record.vod, inputs: [cam]}`, `{id: th, type: thumbnail, inputs: [cam]}`}, h264, nil},
		{"audio only into a ladder", []string{cam, ladder, `{id: hls, type: package.llhls, inputs: [cam, ladder]}`}, audio,
			[]string{"ladder /spec/nodes/1/inputs/0 audio only"}},
		{"audio only into a thumbnail", []string{cam, `{id: th, type: thumbnail, inputs: [cam]}`}, audio,
			[]string{"th /spec/nodes/1/inputs/0 needs video"}},
		{"audio only into HLS", []string{cam, `{id: hls, type: package.llhls, inputs: [cam]}`}, audio, nil},
		{"a ladder skipped by when", []string{cam, `{id: ladder, type: transcode.abr, inputs: [cam], when: source.has_video, config: {renditions: [{name: r, height: 360, video_bitrate: 700k}]}}`}, audio, nil},
		{"vp8 into HLS without a ladder", []string{cam, `{id: hls, type: package.llhls, inputs: [cam]}`}, vp8,
			[]string{"hls /spec/nodes/1/inputs/0 vp8, which HLS cannot carry"}},
		{"vp8 into HLS with a ladder", []string{cam, ladder, `{id: hls, type: package.llhls, inputs: [cam, ladder]}`}, vp8, nil},
		{"vp8 into HLS with one rung", []string{cam, ladder, `{id: hls, type: package.llhls, inputs: [cam, ladder.r360]}`}, vp8, nil},
		{"vp8 into HLS, the ladder elsewhere", []string{cam, ladder, `{id: hls, type: package.llhls, inputs: [cam]}`}, vp8,
			[]string{"hls /spec/nodes/2/inputs/0 add a transcode.abr"}},
		{"vp8 ladder off by when", []string{cam, `{id: ladder, type: transcode.abr, inputs: [cam], when: "source.video.codec == 'h264'", config: {renditions: [{name: r, height: 360, video_bitrate: 700k}]}}`,
			`{id: hls, type: package.llhls, inputs: [cam, ladder]}`}, vp8, []string{"hls /spec/nodes/2/inputs/0 HLS cannot carry"}},
		{"vp8 recorded without a ladder", []string{cam, `{id: rec, type: record.vod, inputs: [cam]}`}, vp8,
			[]string{"rec /spec/nodes/1/inputs/0 nothing transcodes it"}},
		{"vp8 recorded with a ladder", []string{cam, ladder, `{id: rec, type: record.vod, inputs: [cam]}`}, vp8, nil},
		{"a node off by when is not checked", []string{cam, `{id: hls, type: package.llhls, inputs: [cam], when: "source.video.codec != 'vp8'"}`}, vp8, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  nodes:\n"
			for _, n := range tc.nodes {
				doc += "  - " + n + "\n"
			}
			m, err := Default().Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			errs := m.CheckMedia("cam", tc.src)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %v, want %v", errs, tc.want)
			}
			for i, w := range tc.want {
				f := strings.SplitN(w, " ", 3)
				e := errs[i]
				if e.Node != f[0] || e.Path != f[1] || !strings.Contains(e.Message, f[2]) || e.Line == 0 {
					t.Errorf("error %d: %+v, want %s", i, e, w)
				}
			}
		})
	}
}
