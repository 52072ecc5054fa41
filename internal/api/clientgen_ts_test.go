package api

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeModules returns the node_modules directory holding the client
// generator and the TypeScript compiler (devDependencies of package.json,
// installed by npm ci): the repository's, or MPEGFLOWTEST_NODE_MODULES.
func nodeModules(t *testing.T) string {
	t.Helper()
	dirs := []string{filepath.Join("..", "..", "node_modules")}
	if d := os.Getenv("MPEGFLOWTEST_NODE_MODULES"); d != "" {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		ok := true
		for _, tool := range []string{"openapi-ts", "tsc", "esbuild"} {
			if _, err := os.Stat(filepath.Join(d, ".bin", tool)); err != nil {
				ok = false
			}
		}
		if ok {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	return ""
}

// TestGeneratedTSClient generates the TypeScript client of /v1/openapi.json
// with @hey-api/openapi-ts (fetch client), type-checks it with a driver
// under tsc --strict, and runs the driver against the real API (create, a
// paged list, a playback token, two typed errors).
func TestGeneratedTSClient(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and compiles a client")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (apt-get install nodejs)")
	}
	nm := nodeModules(t)
	if nm == "" {
		t.Skip("@hey-api/openapi-ts, typescript or esbuild is missing from node_modules: run npm ci")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(dir, "openapi.json")
	must(os.WriteFile(spec, doc, 0o600))
	run := func(what string, name string, args ...string) string {
		t.Helper()
		c := exec.CommandContext(ctx, name, args...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		return string(out)
	}
	bin := func(tool string) string { return filepath.Join(nm, ".bin", tool) }
	run("openapi-ts", bin("openapi-ts"), "-i", spec, "-o", filepath.Join(dir, "mpegflow"), "-c", "@hey-api/client-fetch", "--no-log-file", "-s")
	drv, err := os.ReadFile(filepath.Join("testdata", "tsclient", "main.ts.txt"))
	must(err)
	must(os.WriteFile(filepath.Join(dir, "main.ts"), drv, 0o600))
	must(os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte(`{"compilerOptions": {"strict": true, "noEmit": true,
  "target": "es2022", "module": "esnext", "moduleResolution": "bundler", "lib": ["es2022", "dom"], "types": []},
  "files": ["main.ts"]}`), 0o600))
	run("the generated TypeScript client does not type-check (tsc --strict)", bin("tsc"), "-p", "tsconfig.json")
	run("esbuild", bin("esbuild"), "main.ts", "--bundle", "--platform=node", "--format=esm", "--log-level=warning", "--outfile=main.mjs")

	e := newEnv(t, openSQLite(t))
	c := exec.CommandContext(ctx, node, filepath.Join(dir, "main.mjs"), e.hs.URL, e.admin)
	out, err := c.CombinedOutput()
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the generated TypeScript client against the API: %v\n%s", err, out)
	}
}
