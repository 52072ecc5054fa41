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
//
// Impact is what the change does to the running graph: an update whose
// fields are all among its type's Hot fields is made in place (ImpactHot);
// any other update and a replace restart the node (ImpactRestart), and
// with it what reads its media: Restarts lists the ports and nodes
// restarted with it (a ladder's rungs `ladder.720p`, a thumbnail reading
// a rung), and each of those nodes' Change names the cause in
// RestartedBy. A node reading a whole ladder (`inputs: [ladder]`) is not
// restarted: only the variants of the ladder's rungs are. Creating and
// deleting nodes is hot for the other nodes.
type Change struct {
	Node        string   `json:"node"`
	Type        string   `json:"type"`
	Action      Action   `json:"action"`
	Fields      []string `json:"fields,omitempty"`
	Impact      Impact   `json:"impact"`
	Restarts    []string `json:"restarts,omitempty"`
	RestartedBy []string `json:"restarted_by,omitempty"`
}

// Impact is what a Change does to the running node.
type Impact string

// Impacts of a Change.
const (
	// ImpactNone: the node runs on untouched.
	ImpactNone Impact = "none"
	// ImpactHot: viewers and the other nodes are untouched (a node is
	// added or removed, or changed in place).
	ImpactHot Impact = "hot"
	// ImpactRestart: the node restarts, and with it what reads its media.
	ImpactRestart Impact = "restart"
)

// Plan is the difference between two manifests, node by node: the nodes
// of the new manifest in its order, then the deleted ones in the old
// manifest's order.
type Plan struct {
	Changes []Change `json:"changes"`
	// Metadata is true when the labels differ.
	Metadata bool `json:"metadata_changed,omitempty"`
}

// Diff plans going from old (nil: nothing yet) to new with the node
// types of Default.
func Diff(old, new *Manifest) Plan { return Default().Diff(old, new) }

// Diff plans going from old (nil: nothing yet) to new, with the impact of
// each change from the node types of s. It is pure: the manifests are
// only read.
func (s *Schema) Diff(old, new *Manifest) Plan {
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
			c.Action, c.Impact = Create, ImpactHot
		case o.Type != n.Type:
			c.Action, c.Impact = Replace, ImpactRestart
		default:
			c.Fields = nodeDiff(o, &n)
			c.Action, c.Impact = Unchanged, ImpactNone
			if len(c.Fields) > 0 {
				c.Action, c.Impact = Update, s.updateImpact(n.Type, c.Fields)
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if old != nil {
		for _, n := range old.Spec.Nodes {
			if !kept[n.ID] {
				p.Changes = append(p.Changes, Change{Node: n.ID, Type: n.Type, Action: Delete, Impact: ImpactHot})
			}
		}
	}
	s.propagate(&p, new)
	return p
}

// updateImpact is hot when every changed field is one of the type's Hot
// fields.
func (s *Schema) updateImpact(typ string, fields []string) Impact {
	t, ok := s.Type(typ)
	if !ok {
		return ImpactRestart
	}
	for _, f := range fields {
		if !contains(t.Hot, f) {
			return ImpactRestart
		}
	}
	return ImpactHot
}

// propagate restarts, with each restarted node of new, the nodes that read
// its media (transitively), and lists them in the cause's Restarts.
func (s *Schema) propagate(p *Plan, new *Manifest) {
	// readers[port] are the nodes reading port (`node` or `node.rung`).
	readers := map[string][]string{}
	nodes := map[string]*Node{}
	for i := range new.Spec.Nodes {
		n := &new.Spec.Nodes[i]
		nodes[n.ID] = n
		for _, in := range n.Inputs {
			readers[in] = append(readers[in], n.ID)
		}
	}
	idx := map[string]int{}
	for i, c := range p.Changes {
		idx[c.Node] = i
	}
	// The causes are the nodes restarted by their own change, not those
	// restarted with another.
	var causes []int
	for i, c := range p.Changes {
		if c.Impact == ImpactRestart && (c.Action == Update || c.Action == Replace) {
			causes = append(causes, i)
		}
	}
	for _, i := range causes {
		c := &p.Changes[i]
		seen := map[string]bool{c.Node: true}
		var walk func(id string)
		walk = func(id string) {
			n := nodes[id]
			if n == nil {
				return
			}
			var ports []string
			t, _ := s.Type(n.Type)
			if t.Renditions {
				for _, r := range renditionNames(n.Config) {
					ports = append(ports, id+"."+r)
				}
			} else {
				ports = append(ports, id)
			}
			for _, port := range ports {
				if port != id && !seen[port] {
					seen[port] = true
					c.Restarts = append(c.Restarts, port)
				}
				for _, r := range readers[port] {
					if seen[r] {
						continue
					}
					seen[r] = true
					c.Restarts = append(c.Restarts, r)
					if j, ok := idx[r]; ok && j != i {
						d := &p.Changes[j]
						d.RestartedBy = append(d.RestartedBy, c.Node)
						if d.Impact != ImpactRestart {
							d.Impact = ImpactRestart
						}
					}
					walk(r)
				}
			}
		}
		walk(c.Node)
	}
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
//   - rec (record.vod) will be created (hot)
//     ~ ladder (transcode.abr) will be restarted: config.renditions; restarts ladder.720p, thumbs
//     ~ rec (record.vod) will be updated in place: config.delete_after_days
//
//   - thumbs (thumbnail) will be deleted (hot)
//     hls (package.llhls) unchanged
//     thumbs (thumbnail) restarts with ladder
//
//     Plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 1 unchanged; 2 restart.
func (p Plan) String() string {
	var b strings.Builder
	restarts := ""
	for _, c := range p.Changes {
		if len(c.Restarts) > 0 {
			restarts = "; restarts " + strings.Join(c.Restarts, ", ")
		} else {
			restarts = ""
		}
		switch c.Action {
		case Create:
			fmt.Fprintf(&b, "+ %s (%s) will be created (hot)\n", c.Node, c.Type)
		case Update:
			verb := "updated in place"
			if c.Impact == ImpactRestart {
				verb = "restarted"
			}
			fmt.Fprintf(&b, "~ %s (%s) will be %s: %s%s\n", c.Node, c.Type, verb, strings.Join(c.Fields, ", "), restarts)
		case Replace:
			fmt.Fprintf(&b, "-/+ %s (now %s) will be replaced%s\n", c.Node, c.Type, restarts)
		case Delete:
			fmt.Fprintf(&b, "- %s (%s) will be deleted (hot)\n", c.Node, c.Type)
		default:
			if len(c.RestartedBy) > 0 {
				fmt.Fprintf(&b, "  %s (%s) restarts with %s\n", c.Node, c.Type, strings.Join(c.RestartedBy, ", "))
			} else {
				fmt.Fprintf(&b, "  %s (%s) unchanged\n", c.Node, c.Type)
			}
		}
	}
	if p.Metadata {
		b.WriteString("~ metadata.labels will be updated (hot)\n")
	}
	fmt.Fprintf(&b, "\nPlan: %d to create, %d to update, %d to replace, %d to delete, %d unchanged; %d restart.\n",
		p.Count(Create), p.Count(Update), p.Count(Replace), p.Count(Delete), p.Count(Unchanged), p.Restarting())
	return b.String()
}

// Restarting counts the nodes that restart (changed or restarted with
// another).
func (p Plan) Restarting() int {
	n := 0
	for _, c := range p.Changes {
		if c.Impact == ImpactRestart {
			n++
		}
	}
	return n
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
