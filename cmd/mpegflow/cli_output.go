package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// column is a column of a list table: its header and the dotted path of
// its value in the JSON object.
type column struct{ header, path string }

// tableFunc prints one object for -o table.
type tableFunc func(w io.Writer, raw json.RawMessage) error

// emit prints one object as JSON, YAML or a table (table, or "key: value"
// lines of its fields when nil).
func (f *clientFlags) emit(raw json.RawMessage, table tableFunc) error {
	switch f.output {
	case "json":
		return printJSON(f.stdout, raw)
	case "yaml":
		return printYAML(f.stdout, raw)
	}
	if table != nil {
		return table(f.stdout, raw)
	}
	return keyValues(f.stdout, raw)
}

// emitList prints a list as a JSON array, YAML sequence or a table.
func (f *clientFlags) emitList(items []json.RawMessage, cols []column) error {
	if items == nil {
		items = []json.RawMessage{}
	}
	switch f.output {
	case "json":
		return printJSON(f.stdout, items)
	case "yaml":
		b, _ := json.Marshal(items)
		return printYAML(f.stdout, b)
	}
	tw := tabwriter.NewWriter(f.stdout, 0, 4, 2, ' ', 0)
	hs := make([]string, len(cols))
	for i, c := range cols {
		hs[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(hs, "\t"))
	for _, raw := range items {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		vs := make([]string, len(cols))
		for i, c := range cols {
			vs[i] = cell(lookup(m, c.path))
		}
		fmt.Fprintln(tw, strings.Join(vs, "\t"))
	}
	return tw.Flush()
}

// emitDone prints the outcome of a call without a body (a deletion): the
// object {verb: id}, or "verb id".
func (f *clientFlags) emitDone(verb, id string) error {
	b, _ := json.Marshal(map[string]string{verb: id})
	if f.output == "table" {
		_, err := fmt.Fprintln(f.stdout, verb, id)
		return err
	}
	return f.emit(b, nil)
}

// keyValues prints the fields of an object, nested ones as a.b, sorted.
func keyValues(w io.Writer, raw json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	flat := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if o, ok := v.(map[string]any); ok && len(o) > 0 {
			for k, sub := range o {
				walk(prefix+k+".", sub)
			}
			return
		}
		flat[strings.TrimSuffix(prefix, ".")] = cell(v)
	}
	walk("", m)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s:\t%s\n", k, flat[k])
	}
	return tw.Flush()
}

func lookup(m map[string]any, path string) any {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = cell(e)
		}
		return strings.Join(s, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// apiCmd is a command that calls the API: run gets a client built from the
// shared flags (a bad flag or no token is a usage error). run returns API
// and network errors through fail (exit 1).
func (f *clientFlags) apiCmd(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, cl *apiClient, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			return run(cmd, cl, a)
		}}
}

// call sends one request and prints its object.
func (f *clientFlags) call(cmd *cobra.Command, cl *apiClient, method, path string, body any, table tableFunc) error {
	raw, _, err := cl.do(cmd.Context(), method, path, body, nil)
	if err != nil {
		return fail(err)
	}
	return fail(f.emit(raw, table))
}

// list prints every page of a list (at most limit items; 0 = all).
func (f *clientFlags) list(cmd *cobra.Command, cl *apiClient, path string, q url.Values, limit int, cols []column) error {
	items, err := cl.listAll(cmd.Context(), path, q, limit)
	if err != nil {
		return fail(err)
	}
	return fail(f.emitList(items, cols))
}

// remove sends a DELETE and prints {verb: id}.
func (f *clientFlags) remove(cmd *cobra.Command, cl *apiClient, path, verb, id string) error {
	if _, _, err := cl.do(cmd.Context(), http.MethodDelete, path, nil, nil); err != nil {
		return fail(err)
	}
	return fail(f.emitDone(verb, id))
}

// esc escapes a path element.
func esc(s string) string { return url.PathEscape(s) }

// jsonFlag parses a flag holding a JSON value (a usage error when it does
// not parse).
func jsonFlag(name, v string) (any, error) {
	var out any
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, usageError("--%s must be JSON: %v", name, err)
	}
	return out, nil
}
