package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Decode reads one manifest from YAML or JSON (JSON is read as the YAML
// subset it is, so both get line and column in errors). It is strict: an
// unknown field, a value of the wrong type, a duplicate key, a second
// document, an anchor or alias (no billion laughs), more than MaxBytes or
// MaxYAMLNodes are refused. Decode checks the shape only; Schema.Validate
// checks the meaning.
func Decode(data []byte) (m *Manifest, err error) {
	if len(data) > MaxBytes {
		return nil, Errors{{Message: fmt.Sprintf("the manifest is %d bytes, more than the limit of %d", len(data), MaxBytes)}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{Message: "the manifest is empty"}}
	}
	var root yaml.Node
	if err := parseYAML(data, &root); err != nil {
		return nil, Errors{{Message: err.Error()}}
	}
	d := &decoder{pos: map[string]Pos{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if !d.plain(doc, "", new(int)) {
		return nil, d.errs
	}
	m = &Manifest{}
	d.object(doc, "", map[string]func(*yaml.Node, string){
		"api_version": func(n *yaml.Node, p string) { m.APIVersion = d.str(n, p) },
		"kind":        func(n *yaml.Node, p string) { m.Kind = d.str(n, p) },
		"metadata": func(n *yaml.Node, p string) {
			d.object(n, p, map[string]func(*yaml.Node, string){
				"name":   func(n *yaml.Node, p string) { m.Metadata.Name = d.str(n, p) },
				"labels": func(n *yaml.Node, p string) { m.Metadata.Labels = d.labels(n, p) },
			})
		},
		"spec": func(n *yaml.Node, p string) {
			d.object(n, p, map[string]func(*yaml.Node, string){
				"nodes": func(n *yaml.Node, p string) { m.Spec.Nodes = d.nodes(n, p) },
			})
		},
	})
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	m.pos = d.pos
	return m, nil
}

// parseYAML parses exactly one document; the YAML library's panics on
// hostile input are turned into errors.
func parseYAML(data []byte, root *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(root); err != nil {
		return fmt.Errorf("unreadable YAML or JSON: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("the manifest holds more than one document")
	}
	return nil
}

type decoder struct {
	errs Errors
	pos  map[string]Pos
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	e := Error{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) mark(n *yaml.Node, path string) { d.pos[path] = Pos{n.Line, n.Column} }

// plain refuses anchors, aliases, tags other than the core ones and
// documents past MaxYAMLNodes, before anything is decoded.
func (d *decoder) plain(n *yaml.Node, path string, count *int) bool {
	*count++
	if *count > MaxYAMLNodes {
		d.fail(n, "", "the manifest has more than %d values", MaxYAMLNodes)
		return false
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, path, "YAML anchors and aliases are not allowed")
		return false
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && seen[k.Value] {
				d.fail(k, path, "key %q already defined", k.Value)
				return false
			}
			seen[k.Value] = true
		}
	}
	for i, c := range n.Content {
		p := path
		switch n.Kind {
		case yaml.MappingNode:
			if i%2 == 1 {
				p = pointer(path, n.Content[i-1].Value)
			}
		case yaml.SequenceNode:
			p = pointer(path, i)
		}
		if !d.plain(c, p, count) {
			return false
		}
	}
	return true
}

// object decodes a mapping whose keys are all known.
func (d *decoder) object(n *yaml.Node, path string, known map[string]func(*yaml.Node, string)) {
	d.mark(n, path)
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be an object")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a string")
			continue
		}
		p := pointer(path, k.Value)
		f, ok := known[k.Value]
		if !ok {
			d.fail(k, p, "unknown field %q", k.Value)
			continue
		}
		d.mark(v, p)
		f(v, p)
	}
}

func (d *decoder) str(n *yaml.Node, path string) string {
	// A date written bare is still a string here (YAML 1.1 timestamps).
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		d.fail(n, path, "must be a string")
		return ""
	}
	return n.Value
}

func (d *decoder) strs(n *yaml.Node, path string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		p := pointer(path, i)
		d.mark(c, p)
		out = append(out, d.str(c, p))
	}
	return out
}

func (d *decoder) labels(n *yaml.Node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be an object of strings")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := pointer(path, k.Value)
		d.mark(v, p)
		out[k.Value] = d.str(v, p)
	}
	return out
}

func (d *decoder) nodes(n *yaml.Node, path string) []Node {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list of nodes")
		return nil
	}
	if len(n.Content) > MaxNodes {
		d.fail(n, path, "%d nodes, more than the limit of %d", len(n.Content), MaxNodes)
		return nil
	}
	out := make([]Node, len(n.Content))
	for i, c := range n.Content {
		x := &out[i]
		d.object(c, pointer(path, i), map[string]func(*yaml.Node, string){
			"id":     func(n *yaml.Node, p string) { x.ID = d.str(n, p) },
			"type":   func(n *yaml.Node, p string) { x.Type = d.str(n, p) },
			"inputs": func(n *yaml.Node, p string) { x.Inputs = d.strs(n, p) },
			"when":   func(n *yaml.Node, p string) { x.When = d.str(n, p) },
			"on":     func(n *yaml.Node, p string) { x.On = d.strs(n, p) },
			"config": func(n *yaml.Node, p string) {
				if isNull(n) {
					return
				}
				if n.Kind != yaml.MappingNode {
					d.fail(n, p, "must be an object")
					return
				}
				x.Config, _ = d.value(n, p).(map[string]any)
			},
		})
	}
	return out
}

// value turns a YAML value into plain Go values (map[string]any, []any,
// string, int64, float64, bool, nil), the form configs are kept and
// stored in.
func (d *decoder) value(n *yaml.Node, path string) any {
	d.mark(n, path)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.fail(k, path, "a key must be a string")
				continue
			}
			m[k.Value] = d.value(v, pointer(path, k.Value))
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = d.value(c, pointer(path, i))
		}
		return l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				return n.Value == "yes" || n.Value == "on" || n.Value == "Yes" || n.Value == "On"
			}
			return b
		case "!!int":
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return v
			}
			d.fail(n, path, "integer out of range")
			return nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.fail(n, path, "must be a finite number")
				return nil
			}
			return f
		case "!!str", "!!timestamp":
			return n.Value
		}
		d.fail(n, path, "unsupported value of tag %s", n.Tag)
		return nil
	}
	d.fail(n, path, "unsupported value")
	return nil
}

// isNull: an explicit null is the same as an absent field.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }
