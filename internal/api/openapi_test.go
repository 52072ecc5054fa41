package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes: every registered route is documented and every
// documented operation is registered, so the document cannot drift.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	r := e.do("GET", "/v1/openapi.json", "", nil).want(t, 200, "")
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if _, ok := op["responses"].(map[string]any); !ok {
				t.Errorf("%s %s: no responses", method, path)
			}
			// Path parameters are declared.
			for _, seg := range strings.Split(path, "/") {
				if strings.HasPrefix(seg, "{") {
					name := strings.Trim(seg, "{}")
					found := false
					params, _ := op["parameters"].([]any)
					for _, p := range params {
						if pm := p.(map[string]any); pm["name"] == name && pm["in"] == "path" {
							found = true
						}
					}
					if !found {
						t.Errorf("%s %s: path parameter %s undeclared", method, path, name)
					}
				}
			}
		}
	}
	sort.Strings(documented)
	registered := e.srv.Patterns()
	if strings.Join(documented, "\n") != strings.Join(registered, "\n") {
		t.Fatalf("documented:\n%s\n\nregistered:\n%s", strings.Join(documented, "\n"), strings.Join(registered, "\n"))
	}
	// Every $ref resolves.
	for _, m := range refRe(string(r.Body)) {
		name := strings.TrimPrefix(m, "#/components/schemas/")
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", m)
		}
	}
}

func refRe(s string) []string {
	var out []string
	for {
		i := strings.Index(s, `"$ref": "`)
		if i < 0 {
			return out
		}
		s = s[i+9:]
		j := strings.IndexByte(s, '"')
		out = append(out, s[:j])
		s = s[j:]
	}
}
