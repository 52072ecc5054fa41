package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// TestPipelinesCLIExamples applies every example manifest of
// examples/pipelines through the CLI against a real daemon, each bound to
// a live input of its own, and validates each against the JSON Schema the
// daemon publishes (fetched without a token). Then: a second apply is a
// no-op, diff prints an unchanged plan, status lists every node, status
// --watch prints the table and stops cleanly on SIGINT, and a broken
// manifest is refused naming node and field with nothing applied.
func TestPipelinesCLIExamples(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDaemon(t, daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n"})
	bin := buildBinary(t)
	admin := adminTokenRe.FindString(d.Output())
	if admin == "" {
		t.Fatalf("no admin token:\n%s", d.Output())
	}
	mf := func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--url", "http://"+d.HTTP, "--token", admin)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	// The published schema, compiled by a draft 2020-12 validator.
	res, err := http.Get(d.URL("/v1/pipelines/schema.json"))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET schema.json: %v %v", res, err)
	}
	doc, err := jsonschema.UnmarshalJSON(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("compile the published schema: %v", err)
	}

	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer recv.Close()
	_, wh := apiCall(t, d, admin, "POST", "/v1/webhooks", map[string]any{"url": recv.URL})
	whk, _ := data(wh)["id"].(string)
	if whk == "" {
		t.Fatalf("create webhook: %v", wh)
	}
	files, _ := filepath.Glob("../examples/pipelines/*")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	dir := t.TempDir()
	names := map[string]string{} // pipeline name -> applied file
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "pipeline " + filepath.Base(f)})
		if st != http.StatusCreated {
			t.Fatalf("create live input: %d %v", st, r)
		}
		body := strings.NewReplacer("li_example", data(r)["id"].(string), "whk_example", whk).Replace(string(raw))
		var inst any
		if err := yaml.Unmarshal([]byte(body), &inst); err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(inst)
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err := schema.Validate(v); err != nil {
			t.Errorf("%s against the published schema: %v", f, err)
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := mf("apply", "-f", p)
		if err != nil || !strings.Contains(out, "applied: generation 1") {
			t.Fatalf("apply %s: %v\n%s%s", f, err, out, errOut)
		}
		var m struct {
			Metadata struct{ Name string } `yaml:"metadata"`
		}
		_ = yaml.Unmarshal([]byte(body), &m)
		names[m.Metadata.Name] = p
	}
	for name, p := range names {
		if out, _, err := mf("apply", "-f", p); err != nil || !strings.Contains(out, "unchanged: generation 1") {
			t.Errorf("second apply of %s: %v %s", name, err, out)
		}
		if out, _, err := mf("diff", "-f", p); err != nil || !strings.Contains(out, " 0 to create, 0 to update, 0 to replace, 0 to delete") {
			t.Errorf("diff of %s: %v %s", name, err, out)
		}
		out, _, err := mf("pipelines", "status", name)
		if err != nil || !strings.Contains(out, "NODE") || !strings.Contains(out, "source.live") {
			t.Errorf("status of %s: %v %s", name, err, out)
		}
	}
	if out, _, err := mf("pipelines", "list"); err != nil || strings.Count(out, "\n") != len(names)+1 {
		t.Errorf("list: %v\n%s", err, out)
	}

	// status --watch: the table, then a clean stop on SIGINT.
	watch := exec.CommandContext(ctx, bin, "pipelines", "status", "ladder", "--watch", "--url", "http://"+d.HTTP, "--token", admin)
	var wout syncBuffer
	watch.Stdout, watch.Stderr = &wout, &wout
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, 10*time.Second, "the watch's first table", func() bool { return strings.Contains(wout.String(), "NODE") })
	_ = watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Errorf("status --watch after SIGINT: %v\n%s", err, wout.String())
	}

	// A broken manifest: exit 1 naming node and field; nothing applied.
	bad := filepath.Join(dir, "bad.yaml")
	raw, _ := os.ReadFile(names["ladder"])
	_ = os.WriteFile(bad, bytes.Replace(raw, []byte("inputs: [cam, ladder]"), []byte("inputs: [cam, ladder, mic]"), 1), 0o600)
	_, errOut, err := mf("apply", "-f", bad)
	if err == nil || !strings.Contains(errOut, `node "hls"`) || !strings.Contains(errOut, "/spec/nodes/2/inputs/2") {
		t.Fatalf("bad manifest: %v %s", err, errOut)
	}
	if out, _, _ := mf("pipelines", "revisions", "ladder"); strings.Count(out, "\n") != 2 {
		t.Fatalf("revisions after a refused apply:\n%s", out)
	}
	if !d.Alive() {
		t.Fatal("the daemon died")
	}
}
