package api

import (
	"fmt"
	"strings"
	"testing"
)

const pipelineYAML = `api_version: mpegflow.io/v1
kind: Pipeline
metadata: {name: sunday, labels: {team: av}}
spec:
  nodes:
  - {id: cam, type: source.live, config: {live_input: LIVE_INPUT}}
  - id: ladder
    type: transcode.abr
    inputs: [cam]
    when: source.video.height >= 720
    config: {renditions: [{name: 720p, height: 720, video_bitrate: 3000k}]}
  - {id: hls, type: package.llhls, inputs: [cam, ladder]}
`

const yamlCT = "application/yaml"

// pipelineDoc is pipelineYAML bound to a new live input.
func (e *env) pipelineDoc() string {
	e.t.Helper()
	id := e.create(map[string]any{"name": "cam"})["id"].(string)
	return strings.Replace(pipelineYAML, "LIVE_INPUT", id, 1)
}

func TestPipelinesLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		pipelineYAML := e.pipelineDoc()
		r := e.do("POST", "/v1/pipelines", e.admin, pipelineYAML, "Content-Type", yamlCT).want(t, 201, "")
		if r.Header.Get("Location") != "/v1/pipelines/sunday" || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("headers %v", r.Header)
		}
		if d := r.data(); d["generation"] != float64(1) || d["manifest"].(map[string]any)["kind"] != "Pipeline" {
			t.Fatalf("created %s", r.Body)
		}
		e.do("POST", "/v1/pipelines", e.admin, pipelineYAML, "Content-Type", yamlCT).want(t, 409, CodeConflict)

		// The same manifest as JSON: no change, the generation stays.
		got := e.do("GET", "/v1/pipelines/sunday", e.admin, nil).want(t, 200, "")
		r = e.do("PUT", "/v1/pipelines/sunday", e.admin, got.data()["manifest"]).want(t, 200, "")
		if d := r.data(); d["changed"] != false || d["pipeline"].(map[string]any)["generation"] != float64(1) {
			t.Fatalf("idempotent apply: %s", r.Body)
		}

		// A dry run plans and stores nothing.
		changed := strings.Replace(pipelineYAML, "3000k", "2500k", 1) + "  - {id: rec, type: record.vod, inputs: [cam]}\n"
		r = e.do("PUT", "/v1/pipelines/sunday?dry_run=true", e.admin, changed, "Content-Type", yamlCT).want(t, 200, "")
		text := r.data()["plan"].(map[string]any)["text"].(string)
		for _, want := range []string{"~ ladder (transcode.abr) will be restarted: config.renditions", "+ rec (record.vod) will be created", "Plan: 1 to create, 1 to update"} {
			if !strings.Contains(text, want) {
				t.Fatalf("plan lacks %q:\n%s", want, text)
			}
		}
		if g := e.do("GET", "/v1/pipelines/sunday", e.admin, nil); g.data()["generation"] != float64(1) {
			t.Fatal("a dry run stored")
		}

		// A stale If-Match changes nothing; the right one applies.
		e.do("PUT", "/v1/pipelines/sunday", e.admin, changed, "Content-Type", yamlCT, "If-Match", `"7"`).want(t, 412, CodePreconditionFailed)
		r = e.do("PUT", "/v1/pipelines/sunday", e.admin, changed, "Content-Type", yamlCT, "If-Match", `"1"`).want(t, 200, "")
		if r.Header.Get("ETag") != `"2"` || r.data()["pipeline"].(map[string]any)["generation"] != float64(2) {
			t.Fatalf("apply: %v %s", r.Header, r.Body)
		}

		// Revisions, newest first, paged.
		r = e.do("GET", "/v1/pipelines/sunday/revisions?limit=1", e.admin, nil).want(t, 200, "")
		if l := r.list(); len(l) != 1 || l[0].(map[string]any)["generation"] != float64(2) {
			t.Fatalf("revisions: %s", r.Body)
		}
		cur := r.JSON["next_cursor"].(string)
		r = e.do("GET", "/v1/pipelines/sunday/revisions?limit=1&cursor="+cur, e.admin, nil).want(t, 200, "")
		if l := r.list(); len(l) != 1 || l[0].(map[string]any)["generation"] != float64(1) || r.JSON["next_cursor"] != nil {
			t.Fatalf("revisions page 2: %s", r.Body)
		}

		// Rollback to generation 1 is generation 3, with the plan back.
		e.do("POST", "/v1/pipelines/sunday/rollback", e.admin, map[string]any{"generation": 9}).want(t, 400, CodeValidation)
		r = e.do("POST", "/v1/pipelines/sunday/rollback", e.admin, map[string]any{"generation": 1}).want(t, 200, "")
		if d := r.data(); d["pipeline"].(map[string]any)["generation"] != float64(3) ||
			!strings.Contains(d["plan"].(map[string]any)["text"].(string), "- rec (record.vod) will be deleted") {
			t.Fatalf("rollback: %s", r.Body)
		}

		// A PUT of a new name creates it; the list pages by name. One
		// live input is bound by one pipeline at most.
		monday := strings.Replace(pipelineYAML, "name: sunday", "name: monday", 1)
		r = e.do("PUT", "/v1/pipelines/monday", e.admin, monday, "Content-Type", yamlCT).want(t, 409, CodeConflict)
		if r.JSON["error"].(map[string]any)["details"].(map[string]any)["pipeline"] != "sunday" {
			t.Fatalf("conflict: %s", r.Body)
		}
		monday = strings.Replace(e.pipelineDoc(), "name: sunday", "name: monday", 1)
		e.do("PUT", "/v1/pipelines/monday", e.admin, monday, "Content-Type", yamlCT).want(t, 200, "")
		e.do("PUT", "/v1/pipelines/tuesday", e.admin, pipelineYAML, "Content-Type", yamlCT).want(t, 400, CodeValidation)
		r = e.do("GET", "/v1/pipelines?limit=1", e.admin, nil).want(t, 200, "")
		if l := r.list(); len(l) != 1 || l[0].(map[string]any)["name"] != "monday" {
			t.Fatalf("list: %s", r.Body)
		}
		r = e.do("GET", "/v1/pipelines?limit=1&cursor="+r.JSON["next_cursor"].(string), e.admin, nil).want(t, 200, "")
		if l := r.list(); len(l) != 1 || l[0].(map[string]any)["name"] != "sunday" {
			t.Fatalf("list page 2: %s", r.Body)
		}

		e.do("DELETE", "/v1/pipelines/sunday", e.admin, nil, "If-Match", `"1"`).want(t, 412, CodePreconditionFailed)
		e.do("DELETE", "/v1/pipelines/sunday", e.admin, nil).want(t, 204, "")
		e.do("GET", "/v1/pipelines/sunday", e.admin, nil).want(t, 404, CodeNotFound)
		e.do("GET", "/v1/pipelines/sunday/revisions", e.admin, nil).want(t, 404, CodeNotFound)
	})
}

func TestPipelinesInvalid(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pipelineYAML := e.pipelineDoc()
	for _, tc := range []struct {
		name, body, ct string
		status         int
		code           string
		paths          []string
	}{
		{"every problem listed", strings.NewReplacer("inputs: [cam]\n", "inputs: [cma]\n", "package.llhls", "package.hls").Replace(pipelineYAML), yamlCT,
			400, CodeValidation, []string{"/spec/nodes/1/inputs/0", "/spec/nodes/2/type"}},
		{"unknown field", strings.Replace(pipelineYAML, "kind: Pipeline", "kind: Pipeline\nstatus: x", 1), yamlCT, 400, CodeValidation, []string{"/status"}},
		{"cycle", strings.Replace(pipelineYAML, "inputs: [cam]\n", "inputs: [ladder.720p]\n", 1), yamlCT, 400, CodeValidation, []string{"/spec/nodes/1/inputs"}},
		{"missing live input and webhook", strings.Replace(pipelineYAML, "  - {id: hls", "  - {id: hook, type: notify.webhook, on: [cam.disconnected], config: {webhook: whk_nope}}\n  - {id: hls", 1) +
			"  - {id: cam2, type: source.live, config: {live_input: li_nope}}\n", yamlCT, 400, CodeValidation, []string{"/spec/nodes/2/config/webhook", "/spec/nodes/4/config/live_input"}},
		{"bad JSON", `{"api_version": `, "application/json", 400, CodeInvalidJSON, nil},
		{"other media type", pipelineYAML, "text/plain", 415, CodeUnsupportedMediaType, nil},
		{"too large", pipelineYAML + "#" + strings.Repeat("x", MaxBodyBytes), yamlCT, 413, CodeBodyTooLarge, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/pipelines", e.admin, tc.body, "Content-Type", tc.ct).want(t, tc.status, tc.code)
			if tc.paths == nil {
				return
			}
			det := r.JSON["error"].(map[string]any)["details"].(map[string]any)
			var got []string
			for _, x := range det["errors"].([]any) {
				got = append(got, x.(map[string]any)["path"].(string))
			}
			for _, p := range tc.paths {
				if !strings.Contains(fmt.Sprint(got), p) {
					t.Fatalf("no error at %s in %s", p, r.Body)
				}
			}
		})
	}
	if r := e.do("GET", "/v1/pipelines", e.admin, nil).want(t, 200, ""); len(r.list()) != 0 {
		t.Fatalf("an invalid manifest was stored: %s", r.Body)
	}
	e.do("PUT", "/v1/pipelines/sunday?dry_run=maybe", e.admin, pipelineYAML, "Content-Type", yamlCT).want(t, 400, CodeInvalidParameter)
	e.do("GET", "/v1/pipelines/Bad_Name!", e.admin, nil).want(t, 404, CodeNotFound)
	// read scope cannot write
	ro := e.token(ScopeLiveInputsRead)
	e.do("POST", "/v1/pipelines", ro, pipelineYAML, "Content-Type", yamlCT).want(t, 403, CodeForbidden)
}

// An Idempotency-Key retry of a YAML creation replays the first answer.
func TestPipelinesIdempotentYAML(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pipelineYAML := e.pipelineDoc()
	a := e.do("POST", "/v1/pipelines", e.admin, pipelineYAML, "Content-Type", yamlCT, "Idempotency-Key", "k1").want(t, 201, "")
	b := e.do("POST", "/v1/pipelines", e.admin, pipelineYAML, "Content-Type", yamlCT, "Idempotency-Key", "k1").want(t, 201, "")
	if string(a.Body) != string(b.Body) || b.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s / %s", a.Body, b.Body)
	}
}
