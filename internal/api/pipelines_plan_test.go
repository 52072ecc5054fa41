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
