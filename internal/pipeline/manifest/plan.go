package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Action is what applying a manifest does to one node.
type Action string

// Actions of a Plan.
const (
	Create    Action = "create"
	Update    Action = "update"  // the same type, other inputs, when, on or config
	Replace   Action = "replace" // another type under the same id: deleted, then created
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
)

// Change is the Action on one node; Fields names what differs for an
// update ("inputs", "when", "on", "config.renditions"). Values are never
// shown: a config may reference secrets.
type Change struct {
	Node   string   `json:"node"`
	Type   string   `json:"type"`
	Action Action   `json:"action"`
	Fields []string `json:"fields,omitempty"`
}

// Plan is the difference between two manifests, node by node: the nodes
// of the new manifest in its order, then the deleted ones in the old
// manifest's order.
type Plan struct {
	Changes []Change `json:"changes"`
	// Metadata is true when the labels differ.
	Metadata bool `json:"metadata_changed,omitempty"`
}

// Diff plans going from old (nil: nothing yet) to new. It is pure: the
// manifests are only read.
func Diff(old, new *Manifest) Plan {
	var p Plan
	before := map[string]*Node{}
	if old != nil {
		for i := range old.Spec.Nodes {
			before[old.Spec.Nodes[i].ID] = &old.Spec.Nodes[i]
		}
		p.Metadata = !reflect.DeepEqual(nonNil(old.Metadata.Labels), nonNil(new.Metadata.Labels))
	}
	kept := map[string]bool{}
	for _, n := range new.Spec.Nodes {
		c := Change{Node: n.ID, Type: n.Type}
		o, ok := before[n.ID]
		kept[n.ID] = true
		switch {
		case !ok:
			c.Action = Create
		case o.Type != n.Type:
			c.Action = Replace
		default:
			c.Fields = nodeDiff(o, &n)
			c.Action = Unchanged
			if len(c.Fields) > 0 {
				c.Action = Update
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if old != nil {
		for _, n := range old.Spec.Nodes {
			if !kept[n.ID] {
				p.Changes = append(p.Changes, Change{Node: n.ID, Type: n.Type, Action: Delete})
			}
		}
	}
	return p
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nodeDiff(a, b *Node) []string {
	var f []string
	if !equalJSON(a.Inputs, b.Inputs) {
		f = append(f, "inputs")
	}
	if a.When != b.When {
		f = append(f, "when")
	}
	if !equalJSON(a.On, b.On) {
		f = append(f, "on")
	}
	keys := map[string]bool{}
	for k := range a.Config {
		keys[k] = true
	}
	for k := range b.Config {
		keys[k] = true
	}
	var cf []string
	for k := range keys {
		if !equalJSON(a.Config[k], b.Config[k]) {
			cf = append(cf, "config."+k)
		}
	}
	sort.Strings(cf)
	return append(f, cf...)
}

// equalJSON compares values by their JSON form, so that an empty list
// equals a missing one and int64(1) from YAML equals 1 from the store.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	norm := func(j []byte) string {
		s := string(j)
		if s == "[]" || s == "{}" {
			return "null"
		}
		return s
	}
	return norm(ja) == norm(jb)
}

// Empty reports whether applying changes nothing in the graph.
func (p Plan) Empty() bool {
	for _, c := range p.Changes {
		if c.Action != Unchanged {
			return false
		}
	}
	return true
}

// Count returns how many changes have action a.
func (p Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// String renders the plan for people, one line per node, like
// `terraform plan`:
//
//   - rec (record.vod) will be created
//     ~ ladder (transcode.abr) will be updated: config.renditions
//
//   - thumbs (thumbnail) will be deleted
//     hls (package.llhls) unchanged
//
//     Plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 1 unchanged.
func (p Plan) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			fmt.Fprintf(&b, "+ %s (%s) will be created\n", c.Node, c.Type)
		case Update:
			fmt.Fprintf(&b, "~ %s (%s) will be updated: %s\n", c.Node, c.Type, strings.Join(c.Fields, ", "))
		case Replace:
			fmt.Fprintf(&b, "-/+ %s (now %s) will be replaced\n", c.Node, c.Type)
		case Delete:
			fmt.Fprintf(&b, "- %s (%s) will be deleted\n", c.Node, c.Type)
		default:
			fmt.Fprintf(&b, "  %s (%s) unchanged\n", c.Node, c.Type)
		}
	}
	if p.Metadata {
		b.WriteString("~ metadata.labels will be updated\n")
	}
	fmt.Fprintf(&b, "\nPlan: %d to create, %d to update, %d to replace, %d to delete, %d unchanged.\n",
		p.Count(Create), p.Count(Update), p.Count(Replace), p.Count(Delete), p.Count(Unchanged))
	return b.String()
}

// SpecEqual reports whether two manifests describe the same graph (the
// same nodes with the same fields, in any order). A pipeline's generation
// increases only when the spec changes.
func SpecEqual(a, b *Manifest) bool {
	if len(a.Spec.Nodes) != len(b.Spec.Nodes) {
		return false
	}
	p := Diff(a, b)
	return p.Empty()
}
