package api

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIRules walks the OpenAPI document and checks the rules of
// docs/api.md, so that a new resource cannot drift from them: snake_case
// names, pagination on every list, the error envelope on every error
// response, the status code rules, ETag/If-Match on every mutable resource,
// and 405 documented.
func TestOpenAPIRules(t *testing.T) {
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	comps := doc["components"].(map[string]any)
	schemas := comps["schemas"].(map[string]any)

	// Names: every property of every schema, at any depth.
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for name, sub := range props {
					if !snake.MatchString(name) {
						t.Errorf("%s: property %q is not snake_case", where, name)
					}
					walk(where+"."+name, sub)
				}
			}
			for k, sub := range x {
				if k != "properties" {
					walk(where, sub)
				}
			}
		case []any:
			for _, sub := range x {
				walk(where, sub)
			}
		}
	}
	walk("components", comps)
	walk("paths", doc["paths"])

	// 405 and the error envelope.
	if _, ok := comps["responses"].(map[string]any)["MethodNotAllowed"]; !ok {
		t.Error("405 is not documented (components.responses.MethodNotAllowed)")
	}
	errSchema := schemas["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)
	codes := errSchema["properties"].(map[string]any)["code"].(map[string]any)
	for _, c := range errorCodes() {
		if !slices.Contains(toStrings(codes["enum"]), c.code) || !strings.Contains(codes["description"].(string), "`"+c.code+"`") {
			t.Errorf("error code %s is not listed with its meaning", c.code)
		}
		if c.code == CodeValidation && c.status != 400 {
			t.Errorf("validation_failed is %d; the rule is 400", c.status)
		}
		if c.status == 422 && c.code != CodeIdempotencyMismatch {
			t.Errorf("%s is 422; only idempotency_key_reused is", c.code)
		}
	}
	refusal := schemas["PlaybackRefusal"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)
	for _, want := range []string{"token_required", "token_malformed", "token_wrong_subject", "token_expired"} {
		if !slices.Contains(toStrings(refusal["enum"]), want) {
			t.Errorf("playback refusal %s is not documented", want)
		}
	}

	// Every operation.
	mutable := map[string]bool{} // paths with PATCH: editable resources
	for path, item := range doc["paths"].(map[string]any) {
		for method, v := range item.(map[string]any) {
			op := v.(map[string]any)
			name := strings.ToUpper(method) + " " + path
			params := map[string]map[string]any{}
			for _, p := range asSlice(op["parameters"]) {
				pm := p.(map[string]any)
				params[pm["name"].(string)] = pm
				if pm["in"] != "header" && !snake.MatchString(pm["name"].(string)) {
					t.Errorf("%s: parameter %q is not snake_case", name, pm["name"])
				}
			}
			resps := op["responses"].(map[string]any)
			var ok []string
			for status, rv := range resps {
				r := rv.(map[string]any)
				if status[0] == '4' || status[0] == '5' {
					ref := fmt.Sprint(r["content"].(map[string]any)["application/json"].(map[string]any)["schema"])
					if !strings.Contains(ref, "#/components/schemas/Error") {
						t.Errorf("%s: error response %s without the Error schema", name, status)
					}
					if !strings.Contains(r["description"].(string), "`") {
						t.Errorf("%s: error response %s lists no error code", name, status)
					}
				} else {
					ok = append(ok, status)
				}
			}
			if len(ok) != 1 {
				t.Errorf("%s: success statuses %v, want one", name, ok)
				continue
			}
			if _, ok := resps["500"]; !ok {
				t.Errorf("%s: 500 not documented", name)
			}
			okr := resps[ok[0]].(map[string]any)
			// Lists: limit, cursor, next_cursor, 400.
			if isList(okr) {
				if params["limit"] == nil || params["cursor"] == nil || resps["400"] == nil {
					t.Errorf("%s: a list without limit, cursor or 400", name)
				}
			}
			// Bodies: 400, 413, 415.
			if op["requestBody"] != nil {
				for _, s := range []string{"400", "413", "415"} {
					if resps[s] == nil {
						t.Errorf("%s: takes a body but does not document %s", name, s)
					}
				}
			}
			// Status codes: 201 (+ Location) creates; 200/202 actions; 204 deletions.
			switch strings.ToUpper(method) {
			case "POST":
				if params["Idempotency-Key"] == nil {
					t.Errorf("%s: POST without Idempotency-Key", name)
				}
				last := path[strings.LastIndexByte(path, '/')+1:]
				collection := !strings.HasPrefix(last, "{") && strings.HasSuffix(last, "s")
				switch ok[0] {
				case "201":
					if !collection {
						t.Errorf("%s: 201 on an action; 201 is for POST to a collection", name)
					}
					if h, _ := okr["headers"].(map[string]any); h["Location"] == nil {
						t.Errorf("%s: 201 without Location", name)
					}
				case "200", "202":
					if collection && ok[0] == "200" {
						t.Errorf("%s: POST to a collection answers 200; a creation is 201", name)
					}
				default:
					t.Errorf("%s: POST answers %s", name, ok[0])
				}
			case "DELETE":
				if ok[0] != "204" {
					t.Errorf("%s: DELETE answers %s, want 204", name, ok[0])
				}
			case "PATCH":
				mutable[path] = true
			}
		}
	}
	// PATCH and DELETE of an editable resource honour If-Match.
	for path := range mutable {
		for _, m := range []string{"patch", "delete"} {
			op, _ := doc["paths"].(map[string]any)[path].(map[string]any)[m].(map[string]any)
			if op == nil {
				continue
			}
			has := false
			for _, p := range asSlice(op["parameters"]) {
				has = has || p.(map[string]any)["name"] == "If-Match"
			}
			if !has || op["responses"].(map[string]any)["412"] == nil {
				t.Errorf("%s %s: no If-Match or 412", strings.ToUpper(m), path)
			}
		}
	}
	// ETag on the GET of every mutable resource.
	for path := range mutable {
		get, _ := doc["paths"].(map[string]any)[path].(map[string]any)["get"].(map[string]any)
		if get == nil {
			t.Errorf("%s: mutable but no GET", path)
			continue
		}
		if h, _ := get["responses"].(map[string]any)["200"].(map[string]any)["headers"].(map[string]any); h["ETag"] == nil {
			t.Errorf("GET %s: no ETag", path)
		}
	}
}

func isList(r map[string]any) bool {
	c, _ := r["content"].(map[string]any)
	j, _ := c["application/json"].(map[string]any)
	s, _ := j["schema"].(map[string]any)
	p, _ := s["properties"].(map[string]any)
	_, ok := p["next_cursor"]
	return ok
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func toStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
