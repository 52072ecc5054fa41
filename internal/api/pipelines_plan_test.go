package api

import (
	"fmt"
	"strings"
	"testing"
)

// TestPipelineSchemaPublic: the JSON Schema is served without a token,
// as a draft 2020-12 document listing every node type.
func TestPipelineSchemaPublic(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	r := e.do("GET", "/v1/pipelines/schema.json", "", nil).want(t, 200, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/schema+json" {
		t.Fatalf("content type %q", ct)
	}
	if r.JSON["$schema"] != "https://json-schema.org/draft/2020-12/schema" || !strings.HasSuffix(r.JSON["$id"].(string), "/v1/pipelines/schema.json") {
		t.Fatalf("schema head: %v %v", r.JSON["$schema"], r.JSON["$id"])
	}
	defs := r.JSON["$defs"].(map[string]any)
	for _, typ := range []string{"source.live", "transcode.abr", "package.llhls", "record.vod", "thumbnail", "notify.webhook", "package.whep", "output.restream"} {
		if _, ok := defs["config."+typ]; !ok {
			t.Errorf("no config of %s", typ)
		}
	}
	// The schema path is not a pipeline name, and other methods are 405.
	e.do("DELETE", "/v1/pipelines/schema.json", e.admin, nil).want(t, 405, CodeMethodNotAllowed)
}

func TestPipelinePlan(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	doc := e.pipelineDoc()
	// Against nothing: every node is created.
	r := e.do("POST", "/v1/pipelines/sunday/plan", e.admin, doc, "Content-Type", yamlCT).want(t, 200, "")
	plan := r.data()["plan"].(map[string]any)
	for _, c := range plan["changes"].([]any) {
		if c := c.(map[string]any); c["action"] != "create" || c["impact"] != "hot" {
			t.Fatalf("first plan: %s", r.Body)
		}
	}
	e.do("PUT", "/v1/pipelines/sunday", e.admin, doc, "Content-Type", yamlCT).want(t, 200, "")

	// A ladder change and a new recorder: the ladder restarts, the
	// recorder is hot, the source and packager run on.
	changed := strings.Replace(doc, "3000k", "2500k", 1) + "  - {id: rec, type: record.vod, inputs: [cam]}\n"
	ro := e.token(ScopeLiveInputsRead)
	r = e.do("POST", "/v1/pipelines/sunday/plan", ro, changed, "Content-Type", yamlCT).want(t, 200, "")
	if r.Header.Get("ETag") != `"1"` || r.data()["dry_run"] != true || r.data()["changed"] != true {
		t.Fatalf("plan: %v %s", r.Header, r.Body)
	}
	got := map[string]string{}
	for _, c := range r.data()["plan"].(map[string]any)["changes"].([]any) {
		c := c.(map[string]any)
		got[c["node"].(string)] = fmt.Sprint(c["action"], "/", c["impact"], c["restarts"])
	}
	want := map[string]string{"cam": "unchanged/none<nil>", "ladder": "update/restart[ladder.720p]", "hls": "unchanged/none<nil>", "rec": "create/hot<nil>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if strings.Contains(string(r.Body), "2500") {
		t.Fatalf("the plan echoes a value: %s", r.Body)
	}
	if g := e.do("GET", "/v1/pipelines/sunday", e.admin, nil); g.data()["generation"] != float64(1) {
		t.Fatal("a plan stored")
	}

	// Bad input: named node and field, nothing stored.
	bad := strings.Replace(doc, "source.video.height >= 720", "source.video.bitrate >= 720", 1)
	r = e.do("POST", "/v1/pipelines/sunday/plan", e.admin, bad, "Content-Type", yamlCT).want(t, 400, CodeValidation)
	if msg := r.JSON["error"].(map[string]any)["message"].(string); !strings.Contains(msg, `node "ladder"`) || !strings.Contains(msg, "/spec/nodes/1/when") {
		t.Fatalf("message %q", msg)
	}
	e.do("POST", "/v1/pipelines/monday/plan", e.admin, doc, "Content-Type", yamlCT).want(t, 400, CodeValidation)
	e.do("POST", "/v1/pipelines/sunday/plan", "", doc, "Content-Type", yamlCT).want(t, 401, CodeUnauthorized)
}

// TestPipelinesBadInput: each hostile or broken manifest is a 4xx naming
// the node and field, nothing is stored, and the server answers on.
func TestPipelinesBadInput(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	doc := e.pipelineDoc()
	e.do("PUT", "/v1/pipelines/sunday", e.admin, doc, "Content-Type", yamlCT).want(t, 200, "")
	var many strings.Builder
	many.WriteString(strings.Replace(doc, "  - {id: hls", "  - {id: hls0", 1))
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(&many, "  - {id: n%d, type: thumbnail, inputs: [cam]}\n", i)
	}
	bomb := "api_version: mpegflow.io/v1\nkind: Pipeline\nmetadata: {name: sunday, labels: &a {x: y}}\nspec: {nodes: [{id: c, type: source.live, config: *a}]}\n" +
		"x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf("x%d: &x%d [*x%d, *x%d, *x%d, *x%d, *x%d, *x%d, *x%d, *x%d, *x%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	costly := "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c != source.video.height)))"
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		node, path string // the first error's node and JSON pointer
		msg        string
	}{
		{"cycle", strings.Replace(doc, "inputs: [cam]\n", "inputs: [ladder.720p]\n", 1), 400, CodeValidation, "ladder", "/spec/nodes/1/inputs", "cycle: ladder -> ladder"},
		{"unknown type", strings.Replace(doc, "package.llhls", "package.hds", 1), 400, CodeValidation, "hls", "/spec/nodes/2/type", "unknown node type"},
		{"dangling input", strings.Replace(doc, "inputs: [cam, ladder]", "inputs: [cam, ladder, mic]", 1), 400, CodeValidation, "hls", "/spec/nodes/2/inputs/2", `no node "mic"`},
		{"duplicate id", strings.Replace(doc, "{id: hls", "{id: cam", 1), 400, CodeValidation, "cam", "/spec/nodes/2/id", "duplicate id"},
		{"5 MB", doc + "#" + strings.Repeat("x", 5<<20), 413, CodeBodyTooLarge, "", "", ""},
		{"10,000 nodes", many.String(), 400, CodeValidation, "", "/spec/nodes", "more than the limit"},
		{"billion laughs", bomb, 400, CodeValidation, "", "/metadata/labels", "anchors and aliases"},
		{"when does not compile", strings.Replace(doc, "source.video.height >= 720", "source.video.height >=", 1), 400, CodeValidation, "ladder", "/spec/nodes/1/when", "column"},
		{"when costs too much", strings.Replace(doc, "when: source.video.height >= 720", "when: '"+costly+"'", 1), 400, CodeValidation, "ladder", "/spec/nodes/1/when", "may cost up to"},
		{"when names a missing field", strings.Replace(doc, "source.video.height >= 720", "source.video.bitrate >= 720", 1), 400, CodeValidation, "ladder", "/spec/nodes/1/when", `unknown field "source.video.bitrate"`},
		{"when is not a condition", strings.Replace(doc, "source.video.height >= 720", "source.video.height", 1), 400, CodeValidation, "ladder", "/spec/nodes/1/when", "not a bool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/pipelines/sunday", "/v1/pipelines/sunday/plan"} {
				method := "PUT"
				if strings.HasSuffix(path, "/plan") {
					method = "POST"
				}
				r := e.do(method, path, e.admin, tc.body, "Content-Type", yamlCT).want(t, tc.status, tc.code)
				if tc.path == "" {
					continue
				}
				er := r.JSON["error"].(map[string]any)
				first := er["details"].(map[string]any)["errors"].([]any)[0].(map[string]any)
				if first["path"] != tc.path || fmt.Sprint(first["node"]) != fmt.Sprint(map[bool]any{true: nil, false: tc.node}[tc.node == ""]) ||
					!strings.Contains(first["message"].(string), tc.msg) {
					t.Fatalf("%s %s: first error %v, want node %q path %s message ~%q", method, path, first, tc.node, tc.path, tc.msg)
				}
				if tc.node != "" && !strings.Contains(er["message"].(string), fmt.Sprintf("node %q", tc.node)) {
					t.Fatalf("message does not name the node: %s", er["message"])
				}
			}
		})
	}
	// Nothing was applied, and the server answers.
	r := e.do("GET", "/v1/pipelines/sunday/revisions", e.admin, nil).want(t, 200, "")
	if l := r.list(); len(l) != 1 {
		t.Fatalf("revisions after bad input: %s", r.Body)
	}
	e.do("POST", "/v1/pipelines/sunday/plan", e.admin, doc, "Content-Type", yamlCT).want(t, 200, "")
}
