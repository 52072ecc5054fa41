package api

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pinned client generator and its runtime library.
const (
	oapiCodegen        = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	oapiCodegenVersion = "v2.8.2"
	oapiRuntime        = "github.com/oapi-codegen/runtime@v1.9.1"
)

// findOAPICodegen returns the oapi-codegen binary of the pinned version:
// on PATH, in GOBIN/GOPATH/bin, or installed there now with go install
// (from the Go module proxy). "" when none can be had.
func findOAPICodegen(t *testing.T, ctx context.Context) string {
	t.Helper()
	candidates := []string{}
	if p, err := exec.LookPath("oapi-codegen"); err == nil {
		candidates = append(candidates, p)
	}
	gobin, _ := exec.CommandContext(ctx, "go", "env", "GOBIN").Output()
	gopath, _ := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	bin := strings.TrimSpace(string(gobin))
	if bin == "" {
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin")
	}
	candidates = append(candidates, filepath.Join(bin, "oapi-codegen"))
	pinned := func(p string) bool {
		out, err := exec.CommandContext(ctx, p, "-version").Output()
		return err == nil && strings.Contains(string(out), oapiCodegenVersion)
	}
	for _, p := range candidates {
		if pinned(p) {
			return p
		}
	}
	if out, err := exec.CommandContext(ctx, "go", "install", oapiCodegen+"@"+oapiCodegenVersion).CombinedOutput(); err != nil {
		t.Logf("go install %s@%s: %v\n%s", oapiCodegen, oapiCodegenVersion, err, out)
		return ""
	}
	if p := filepath.Join(bin, "oapi-codegen"); pinned(p) {
		return p
	}
	return ""
}

// TestGeneratedGoClient generates the Go client of /v1/openapi.json with
// oapi-codegen and drives create, a paged list and two errors through it
// against the real API: the document must describe the API well enough for
// a generated client to compile and work.
func TestGeneratedGoClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a generated client")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	gen := findOAPICodegen(t, ctx)
	if gen == "" {
		t.Skip("oapi-codegen " + oapiCodegenVersion + " is not installed and cannot be: go install " + oapiCodegen + "@" + oapiCodegenVersion)
	}
	dir := t.TempDir()
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "openapi.json")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(spec, doc, 0o600))
	must(os.MkdirAll(filepath.Join(dir, "client"), 0o750))
	out, err := exec.CommandContext(ctx, gen, "-generate", "types,client", "-package", "client", "-o", filepath.Join(dir, "client", "client.go"), spec).CombinedOutput()
	if err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	drv, err := os.ReadFile(filepath.Join("testdata", "goclient", "main.go.txt"))
	must(err)
	must(os.WriteFile(filepath.Join(dir, "main.go"), drv, 0o600))
	must(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/goclient\n\ngo 1.24\n"), 0o600))
	gocmd := func(args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, "go", args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		return c
	}
	if out, err := gocmd("get", oapiRuntime).CombinedOutput(); err != nil {
		t.Skipf("the client's runtime library cannot be fetched here (%v): %s", err, out)
	}
	bin := filepath.Join(dir, "goclient")
	if out, err := gocmd("build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("the generated Go client does not compile: %v\n%s", err, out)
	}
	e := newEnv(t, openSQLite(t))
	c := exec.CommandContext(ctx, bin, e.hs.URL, e.admin)
	out, err = c.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the generated client against the API: %v\n%s", err, out)
	}
}
