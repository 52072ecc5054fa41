package manifest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	nameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	idRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

func validID(s string) bool { return idRe.MatchString(s) }

func quote(s string) string { return strconv.Quote(s) }

// Parse decodes and validates a manifest.
func (s *Schema) Parse(data []byte) (*Manifest, error) {
	m, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks a decoded manifest, in this order: api_version, kind and
// metadata; unique node ids and known types; each type's config; inputs
// that resolve to an output of a fitting kind; events that exist; `when`
// expressions; no cycle. It returns every problem as Errors (nil if none).
func (s *Schema) Validate(m *Manifest) error {
	v := &validator{s: s, m: m}
	v.run()
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	s    *Schema
	m    *Manifest
	errs Errors
}

func (v *validator) fail(node, path, format string, args ...any) {
	v.errs = append(v.errs, v.m.ErrorAt(path, node, fmt.Sprintf(format, args...)))
}

func nodePath(i int) string { return pointer("/spec/nodes", i) }

func (v *validator) run() {
	m := v.m
	if m.APIVersion != APIVersion {
		v.fail("", "/api_version", "must be %q", APIVersion)
	}
	if m.Kind != KindPipeline {
		v.fail("", "/kind", "must be %q", KindPipeline)
	}
	if !nameRe.MatchString(m.Metadata.Name) {
		v.fail("", "/metadata/name", "must be a DNS label: 1 to 63 of a-z, 0-9 and -, starting and ending with a letter or digit")
	}
	for k, val := range m.Metadata.Labels {
		if k == "" || len(k) > 63 || len(val) > 253 {
			v.fail("", pointer("/metadata/labels", k), "a label key is 1 to 63 characters and its value at most 253")
		}
	}
	if len(m.Spec.Nodes) == 0 {
		v.fail("", "/spec/nodes", "a pipeline has at least one node")
		return
	}
	if len(m.Spec.Nodes) > MaxNodes {
		v.fail("", "/spec/nodes", "%d nodes, more than the limit of %d", len(m.Spec.Nodes), MaxNodes)
		return
	}
	index := map[string]int{}
	types := make([]*Type, len(m.Spec.Nodes))
	for i, n := range m.Spec.Nodes {
		p := nodePath(i)
		switch {
		case !validID(n.ID):
			v.fail(n.ID, p+"/id", "an id is 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit")
		default:
			if j, dup := index[n.ID]; dup {
				v.fail(n.ID, p+"/id", "duplicate id, also at %s", nodePath(j))
			} else {
				index[n.ID] = i
			}
		}
		t, ok := v.s.Type(n.Type)
		if !ok {
			v.fail(n.ID, p+"/type", "unknown node type %q (known: %s)", n.Type, strings.Join(v.s.Names(), ", "))
			continue
		}
		types[i] = &t
		v.config(n, p+"/config", t)
	}
	v.sources(types)
	edges := v.edges(index, types)
	// Nodes often share a condition: each distinct one compiles once (a
	// compiled When is safe for concurrent use).
	whens := map[string]*When{}
	compiled := map[string]*When{}
	failed := map[string]error{}
	for i, n := range m.Spec.Nodes {
		if n.When == "" {
			continue
		}
		w, err := compiled[n.When], failed[n.When]
		if w == nil && err == nil {
			if w, err = ParseWhen(n.When); err != nil {
				failed[n.When] = err
			} else {
				compiled[n.When] = w
			}
		}
		if err != nil {
			v.fail(n.ID, nodePath(i)+"/when", "%v", err)
			continue
		}
		whens[n.ID] = w
	}
	m.whens = whens
	v.acyclic(edges)
}

// sources refuses a pipeline without a source and two sources of one
// live input.
func (v *validator) sources(types []*Type) {
	seen := map[string]string{}
	any := false
	for i, n := range v.m.Spec.Nodes {
		if types[i] == nil || types[i].Accepts != 0 || types[i].Triggered {
			continue
		}
		any = true
		li, _ := n.Config["live_input"].(string)
		if li == "" {
			continue
		}
		if other, dup := seen[li]; dup {
			v.fail(n.ID, nodePath(i)+"/config/live_input", "live input %q is already the source of node %q", li, other)
		}
		seen[li] = n.ID
	}
	if !any {
		v.fail("", "/spec/nodes", "a pipeline has at least one source node")
	}
}

// edges resolves inputs and events; it returns, for each node index, the
// indexes of the nodes it reads from.
func (v *validator) edges(index map[string]int, types []*Type) [][]int {
	nodes := v.m.Spec.Nodes
	edges := make([][]int, len(nodes))
	for i, n := range nodes {
		t := types[i]
		if t == nil {
			continue
		}
		p := nodePath(i)
		switch {
		case t.Triggered && len(n.Inputs) > 0:
			v.fail(n.ID, p+"/inputs", "a %s node takes no inputs; it runs on events (on)", t.Name)
		case t.Triggered && len(n.On) == 0:
			v.fail(n.ID, p+"/on", "a %s node needs at least one event in on", t.Name)
		case !t.Triggered && len(n.On) > 0:
			v.fail(n.ID, p+"/on", "a %s node is not triggered by events", t.Name)
		case t.Accepts == 0 && len(n.Inputs) > 0:
			v.fail(n.ID, p+"/inputs", "a %s node takes no inputs", t.Name)
		case t.Accepts != 0 && len(n.Inputs) < t.MinInputs:
			v.fail(n.ID, p+"/inputs", "a %s node needs at least %d input(s)", t.Name, t.MinInputs)
		case t.MaxInputs > 0 && len(n.Inputs) > t.MaxInputs:
			v.fail(n.ID, p+"/inputs", "a %s node takes at most %d input(s)", t.Name, t.MaxInputs)
		}
		seen := map[string]bool{}
		for k, in := range n.Inputs {
			ip := pointer(p+"/inputs", k)
			if seen[in] {
				v.fail(n.ID, ip, "input %q is listed twice", in)
				continue
			}
			seen[in] = true
			j, port, ok := v.port(n.ID, ip, in, index, types)
			if !ok {
				continue
			}
			if t.Accepts != 0 && t.Accepts&port == 0 {
				v.fail(n.ID, ip, "a %s node cannot read %q (%s): it reads %s", t.Name, in, portName(port), portName(t.Accepts))
				continue
			}
			edges[i] = append(edges[i], j)
		}
		for k, ev := range n.On {
			ep := pointer(p+"/on", k)
			src, name, found := strings.Cut(ev, ".")
			j, ok := index[src]
			if !found || !ok {
				v.fail(n.ID, ep, "event %q: no node %q (an event is node.event)", ev, src)
				continue
			}
			st := types[j]
			if st == nil {
				continue
			}
			if !contains(st.Events, name) {
				v.fail(n.ID, ep, "event %q: a %s node emits %s", ev, st.Name, strings.Join(st.Events, ", "))
				continue
			}
			edges[i] = append(edges[i], j)
		}
	}
	return edges
}

// port resolves `node` or `node.rendition` to a node index and what it
// carries.
func (v *validator) port(id, path, in string, index map[string]int, types []*Type) (int, Port, bool) {
	src, rend, isRend := strings.Cut(in, ".")
	j, ok := index[src]
	if !ok {
		v.fail(id, path, "input %q: no node %q", in, src)
		return 0, 0, false
	}
	st := types[j]
	if st == nil {
		return 0, 0, false
	}
	if !isRend {
		if st.Output == 0 {
			v.fail(id, path, "input %q: a %s node has no output", in, st.Name)
			return 0, 0, false
		}
		return j, st.Output, true
	}
	if !st.Renditions {
		v.fail(id, path, "input %q: a %s node has no renditions", in, st.Name)
		return 0, 0, false
	}
	names := renditionNames(v.m.Spec.Nodes[j].Config)
	if !contains(names, rend) {
		v.fail(id, path, "input %q: node %q has no rendition %q (it has %s)", in, src, rend, strings.Join(names, ", "))
		return 0, 0, false
	}
	return j, PortMedia, true
}

func renditionNames(cfg map[string]any) []string {
	l, _ := cfg["renditions"].([]any)
	var out []string
	for _, r := range l {
		o, _ := r.(map[string]any)
		if n, ok := o["name"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}

func portName(p Port) string {
	var s []string
	if p&PortMedia != 0 {
		s = append(s, "a stream")
	}
	if p&PortLadder != 0 {
		s = append(s, "a ladder")
	}
	return strings.Join(s, " or ")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// acyclic finds a cycle by depth-first search and names it
// ("a -> b -> a"): an edge goes from a node to the node it reads.
func (v *validator) acyclic(edges [][]int) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(edges))
	var stack []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range edges[i] {
			switch color[j] {
			case grey:
				k := len(stack) - 1
				for stack[k] != j {
					k--
				}
				var ids []string
				for _, x := range stack[k:] {
					ids = append(ids, v.m.Spec.Nodes[x].ID)
				}
				ids = append(ids, v.m.Spec.Nodes[j].ID)
				// Read order: each node reads the next one.
				v.fail(v.m.Spec.Nodes[j].ID, nodePath(j)+"/inputs", "cycle: %s", strings.Join(ids, " -> "))
				return true
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range edges {
		if color[i] == white && visit(i) {
			return
		}
	}
}

// config checks a node's config against its type's fields.
func (v *validator) config(n Node, path string, t Type) {
	v.object(n.ID, path, n.Config, t.Config)
	if t.Check != nil && len(n.Config) > 0 {
		for _, e := range t.Check(n.Config) {
			v.fail(n.ID, path+e.Path, "%s", e.Message)
		}
	}
}

func (v *validator) object(id, path string, obj map[string]any, fields map[string]Field) {
	for k := range obj {
		if _, ok := fields[k]; !ok {
			v.fail(id, pointer(path, k), "unknown field %q", k)
		}
	}
	for name, f := range fields {
		val, ok := obj[name]
		p := pointer(path, name)
		if !ok || val == nil {
			if f.Required {
				v.fail(id, p, "required")
			}
			continue
		}
		v.field(id, p, val, f)
	}
}

func (v *validator) field(id, p string, val any, f Field) {
	switch f.Kind {
	case KindString:
		s, ok := val.(string)
		if !ok {
			v.fail(id, p, "must be a string")
			return
		}
		if f.Required && s == "" {
			v.fail(id, p, "required")
		}
		if len(f.Enum) > 0 && !contains(f.Enum, s) {
			v.fail(id, p, "must be one of %s", strings.Join(f.Enum, ", "))
		}
	case KindBool:
		if _, ok := val.(bool); !ok {
			v.fail(id, p, "must be true or false")
		}
	case KindInt:
		n, ok := val.(int64)
		if !ok {
			v.fail(id, p, "must be an integer")
			return
		}
		v.bounds(id, p, n, f, strconv.FormatInt)
	case KindDuration:
		s, ok := val.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil {
			v.fail(id, p, "must be a duration such as \"200ms\" or \"10s\"")
			return
		}
		v.bounds(id, p, int64(d), f, func(n int64, _ int) string { return time.Duration(n).String() })
	case KindBitrate:
		n, err := ParseBitrate(val)
		if err != nil {
			v.fail(id, p, "%v", err)
			return
		}
		v.bounds(id, p, n, f, strconv.FormatInt)
	case KindObjects:
		l, ok := val.([]any)
		if !ok {
			v.fail(id, p, "must be a list of objects")
			return
		}
		if int64(len(l)) < f.Min {
			v.fail(id, p, "needs at least %d item(s)", f.Min)
		}
		for i, x := range l {
			o, ok := x.(map[string]any)
			if !ok {
				v.fail(id, pointer(p, i), "must be an object")
				continue
			}
			v.object(id, pointer(p, i), o, f.Fields)
		}
	}
}

func (v *validator) bounds(id, p string, n int64, f Field, format func(int64, int) string) {
	if f.Min == 0 && f.Max == 0 {
		return
	}
	if n < f.Min || n > f.Max {
		v.fail(id, p, "must be between %s and %s", format(f.Min, 10), format(f.Max, 10))
	}
}

// ParseBitrate reads bits per second: an integer, or a number with the
// suffix k (1000) or M (1,000,000): "3000k", "2.5M".
func ParseBitrate(val any) (int64, error) {
	switch x := val.(type) {
	case int64:
		return x, nil
	case string:
		mult := 1.0
		s := x
		switch {
		case strings.HasSuffix(s, "k"):
			mult, s = 1e3, strings.TrimSuffix(s, "k")
		case strings.HasSuffix(s, "M"):
			mult, s = 1e6, strings.TrimSuffix(s, "M")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 && f*mult < math.MaxInt64/2 {
			return int64(f * mult), nil
		}
	}
	return 0, fmt.Errorf("must be a bitrate such as \"3000k\", \"2.5M\" or 700000")
}
