package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIPipelines applies the ladder example through apply, diff and
// the pipelines commands against the real API.
func TestCLIPipelines(t *testing.T) {
	f, _, _ := fullAPI(t)
	with := func(a ...string) []string { return append(a, f...) }
	li := cliJSON(t, with("li", "create", "--name", "cam")...)["id"].(string)
	ex, err := os.ReadFile("../../examples/pipelines/ladder.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(doc, "li_example", li)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("ladder.yaml", string(ex))

	out := cliOK(t, with("diff", "-f", file)...)
	if !strings.Contains(out, "+ cam (source.live) will be created (hot)") || !strings.Contains(out, "Plan: 4 to create") {
		t.Fatalf("diff: %s", out)
	}
	if r := cli(with("pipelines", "get", "ladder")...); r.code != 1 {
		t.Fatalf("diff stored: %+v", r)
	}
	out = cliOK(t, with("apply", "-f", file)...)
	if !strings.Contains(out, "Plan: 4 to create") || !strings.Contains(out, "pipeline ladder applied: generation 1") {
		t.Fatalf("apply: %s", out)
	}
	if out = cliOK(t, with("apply", "-f", file)...); !strings.Contains(out, "pipeline ladder unchanged: generation 1") {
		t.Fatalf("apply again: %s", out)
	}

	// A ladder change and a thumbnail: a dry run shows the restart and
	// stores nothing.
	changed := strings.Replace(string(ex), "video_bitrate: 700k", "video_bitrate: 800k", 1) +
		"  - {id: thumbs, type: thumbnail, inputs: [cam], config: {every: 10s}}\n"
	cfile := write("changed.yaml", changed)
	out = cliOK(t, with("apply", "-f", cfile, "--dry-run")...)
	if !strings.Contains(out, "~ ladder (transcode.abr) will be restarted: config.renditions; restarts ladder.360p, ladder.240p") ||
		!strings.Contains(out, "+ thumbs (thumbnail) will be created (hot)") || strings.Contains(out, "applied") {
		t.Fatalf("dry run: %s", out)
	}
	plan := cliJSON(t, with("diff", "-f", cfile)...)
	if plan["dry_run"] != true || len(plan["plan"].(map[string]any)["changes"].([]any)) != 5 {
		t.Fatalf("diff -o json: %v", plan)
	}
	cliOK(t, with("apply", "-f", cfile)...)

	// Without --prune, stored nodes the file does not name are kept.
	r := cli(with("apply", "-f", file)...)
	if r.code != 0 || !strings.Contains(r.stderr, "keeping 1 stored node(s) not in") || !strings.Contains(r.stderr, "thumbs") ||
		!strings.Contains(r.stdout, "thumbs (thumbnail) unchanged") {
		t.Fatalf("apply without prune: %+v", r)
	}
	out = cliOK(t, with("apply", "-f", file, "--prune")...)
	if !strings.Contains(out, "- thumbs (thumbnail) will be deleted (hot)") || !strings.Contains(out, "generation 4") {
		t.Fatalf("apply --prune: %s", out)
	}

	// list, get, status, revisions, rollback.
	if out = cliOK(t, with("pipelines", "list")...); !strings.Contains(out, "ladder") || !strings.HasPrefix(out, "NAME") {
		t.Fatalf("list: %s", out)
	}
	if out = cliOK(t, with("pipelines", "get", "ladder")...); !strings.HasPrefix(out, "# pipeline ladder, generation 4") || !strings.Contains(out, "type: transcode.abr") {
		t.Fatalf("get: %s", out)
	}
	if out = cliOK(t, with("pipelines", "status", "ladder")...); !strings.Contains(out, "NODE") || !strings.Contains(out, "ladder  transcode.abr") {
		t.Fatalf("status: %s", out)
	}
	if out = cliOK(t, with("pipelines", "revisions", "ladder")...); strings.Count(out, "\n") != 5 {
		t.Fatalf("revisions: %s", out)
	}
	if r := cli(with("pipelines", "rollback", "ladder")...); r.code != 2 {
		t.Fatalf("rollback without generation: %+v", r)
	}
	out = cliOK(t, with("pipelines", "rollback", "ladder", "--generation", "2")...)
	if !strings.Contains(out, "+ thumbs (thumbnail) will be created") || !strings.Contains(out, "generation 5") {
		t.Fatalf("rollback: %s", out)
	}

	// A bad manifest: exit 1 naming node and field, nothing applied.
	bad := write("bad.yaml", strings.Replace(string(ex), "inputs: [cam, ladder]", "inputs: [cam, ladder, mic]", 1))
	r = cli(with("apply", "-f", bad, "--prune")...)
	if r.code != 1 || !strings.Contains(r.stderr, `node "hls"`) || !strings.Contains(r.stderr, "/spec/nodes/2/inputs/2") {
		t.Fatalf("bad manifest: %+v", r)
	}
	if r := cli(with("apply")...); r.code != 2 {
		t.Fatalf("apply without -f: %+v", r)
	}
	if got := cliJSON(t, with("pipelines", "get", "ladder")...); got["generation"] != float64(5) {
		t.Fatalf("after a bad apply: %v", got)
	}

	// The schema, offline.
	var schema map[string]any
	if err := json.Unmarshal([]byte(cliOK(t, "pipelines", "schema")), &schema); err != nil || schema["$schema"] == nil {
		t.Fatalf("schema: %v", err)
	}
}

// TestStatusRows reads per-node states in the shapes a status may take,
// and pipeline events by name.
func TestStatusRows(t *testing.T) {
	raw := json.RawMessage(`{"name":"p","generation":3,"observed_generation":2,
		"manifest":{"spec":{"nodes":[{"id":"cam","type":"source.live"},{"id":"hls","type":"package.llhls"}]}},
		"status":{"nodes":[{"id":"cam","state":"running","restarts":0},{"id":"hls","state":"errored","restarts":2,"last_error":"boom"}]}}`)
	gen, obs, rows, err := statusRows(raw)
	if err != nil || gen != "3" || obs != "2" || len(rows) != 2 || rows[1].state != "errored" || rows[1].restarts != "2" || rows[1].lastError != "boom" {
		t.Fatalf("%s %s %+v %v", gen, obs, rows, err)
	}
	_, _, rows, _ = statusRows(json.RawMessage(`{"generation":1,"manifest":{"spec":{"nodes":[{"id":"cam","type":"source.live"}]}},"nodes":{"cam":{"state":"waiting_for_input"}}}`))
	if len(rows) != 1 || rows[0].state != "waiting_for_input" {
		t.Fatalf("map form: %+v", rows)
	}
	for ev, want := range map[string]bool{
		`{"type":"pipeline.applied","data":{"pipeline":"p"}}`:            true,
		`{"type":"pipeline.node.state_changed","data":{"pipeline":"q"}}`: false,
		`{"type":"pipeline.applied","data":{}}`:                          true,
		`{"type":"live_input.connected","data":{"pipeline":"p"}}`:        false,
	} {
		if got := pipelineEventOf([]byte(ev), "p"); got != want {
			t.Errorf("%s: %v", ev, got)
		}
	}
}
