package rpc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

// restOnly are the REST routes without a gRPC method, and why.
var restOnly = map[string]string{
	"GET /v1/openapi.json":            "the REST document",
	"GET /v1/events":                  "the WebSocket; gRPC has EventService.WatchEvents",
	"POST /v1/videos/upload":          "a media body, not a message",
	"GET /v1/live_inputs/{id}/videos": "VideoService.ListVideos with live_input_id",
	"GET /v1/admission_secret":        "operator setting",
	"GET /v1/system":                  "operator status",
	"GET /v1/whoami":                  "REST only for now",
	// the live input CRUD runs through the service layer (liveinputs.go)
	"GET /v1/live_inputs":         "LiveInputService.ListLiveInputs",
	"POST /v1/live_inputs":        "LiveInputService.CreateLiveInput",
	"GET /v1/live_inputs/{id}":    "LiveInputService.GetLiveInput",
	"PATCH /v1/live_inputs/{id}":  "LiveInputService.UpdateLiveInput",
	"DELETE /v1/live_inputs/{id}": "LiveInputService.DeleteLiveInput",

	"GET /v1/live_inputs/{id}/thumbnail.jpg": "a JPEG, not a message",
}

// TestEveryRouteHasAMethod fails when a REST route has no gRPC method (a
// call{route: ...} in this package) and is not listed in restOnly, so a
// new resource cannot be REST-only by accident. Pipelines (/v1/pipelines,
// a live input's pipeline) are REST-only until their service is written.
func TestEveryRouteHasAMethod(t *testing.T) {
	used := map[string]bool{}
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "route" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					used[s] = true
				}
			}
			return true
		})
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bus := events.NewBus()
	defer bus.Close()
	a, err := api.New(api.Config{Store: db, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	patterns := a.Patterns()
	for _, p := range patterns {
		if used[p] || restOnly[p] != "" || strings.Contains(p, "pipeline") {
			continue
		}
		t.Errorf("REST route %q has no gRPC method: add one (call{route: %q}) or list it in restOnly", p, p)
	}
	for r := range used {
		if !slices.Contains(patterns, r) {
			t.Errorf("a gRPC method runs %q, which is no REST route", r)
		}
	}
}
