package rpc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeCurrent runs buf generate (with the local plugins of
// proto/buf.gen.yaml) into a temporary directory and fails when the
// committed code of proto/ differs: change a .proto, run
// `cd proto && buf generate`, commit both. The .proto files must also pass
// buf lint.
func TestGeneratedCodeCurrent(t *testing.T) {
	// the tools: on PATH, or where go install puts them
	path := os.Getenv("PATH")
	if gp, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(gp)), "\n")
		if len(lines) == 2 && lines[0] == "" {
			lines[0] = filepath.Join(lines[1], "bin")
		}
		path = lines[0] + string(os.PathListSeparator) + path
	}
	bins := map[string]string{}
	for _, tool := range []string{"buf", "protoc-gen-go", "protoc-gen-connect-go"} {
		for _, dir := range filepath.SplitList(path) {
			if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
				bins[tool] = filepath.Join(dir, tool)
				break
			}
		}
		if bins[tool] == "" {
			t.Skipf("%s is not installed: go install github.com/bufbuild/buf/cmd/buf@v1.75.0 google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11 connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1", tool)
		}
	}
	src := filepath.Join("..", "..", "proto")
	out := t.TempDir()
	cmd := exec.Command(bins["buf"], "generate", "-o", out)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "PATH="+path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	// the naming rules of the services (buf's STANDARD lint, proto/buf.yaml)
	lint := exec.Command(bins["buf"], "lint")
	lint.Dir = src
	if b, err := lint.CombinedOutput(); err != nil {
		t.Errorf("buf lint: %v\n%s", err, b)
	}
	n := 0
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Errorf("%s is generated but not committed", rel)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("proto/%s is stale: run `cd proto && buf generate` and commit it", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("buf generate produced no Go code")
	}
}
