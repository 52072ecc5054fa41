// Package manifest is the declarative form of a pipeline: a DAG of nodes
// in YAML or JSON, decoded strictly (an unknown field is refused with its
// path), validated against a Schema of node types (unique ids, known
// types, inputs that resolve, no cycle, edges whose media fit, each type's
// config) and diffed into a Plan.
//
//	api_version: mpegflow.io/v1
//	kind: Pipeline
//	metadata: {name: sunday-service, labels: {team: av}}
//	spec:
//	  nodes:
//	  - {id: cam, type: source.live, config: {live_input: li_123}}
//	  - {id: ladder, type: transcode.abr, inputs: [cam], when: 'source.video.height >= 720',
//	     config: {renditions: [{name: 720p, height: 720, video_bitrate: 3000k}]}}
//	  - {id: hls, type: package.llhls, inputs: [cam, ladder]}
//
// A port (an entry of inputs) is `node` or `node.rendition`.
//
// A node's `when` is a CEL expression over the source's facts (WhenVars),
// compiled and cost-bounded at validation; the runtime evaluates it at
// go-live with (*Manifest).Condition(id) on Source.Facts(). The JSON
// Schema of manifests (Schema.JSONSchema) is generated from the registered
// node types, and Schema.Diff gives each change its Impact (hot, or a
// restart of the node and what reads its media) from the types' Hot
// fields.
package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// APIVersion and KindPipeline are the only accepted values of api_version
// and kind.
const (
	APIVersion   = "mpegflow.io/v1"
	KindPipeline = "Pipeline"
)

// Limits on untrusted manifests: bytes of the document, nodes of the
// spec, YAML nodes of the whole document (scalars, keys, lists) and the
// length of a `when` expression.
const (
	MaxBytes     = 1 << 20
	MaxNodes     = 1000
	MaxYAMLNodes = 100_000
	MaxWhenLen   = 512
)

// Manifest is one pipeline as written by its author.
type Manifest struct {
	APIVersion string   `json:"api_version"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// pos maps a JSON pointer of the document to where it was written,
	// for errors; empty for manifests not decoded from text.
	pos map[string]Pos
	// whens are the `when` expressions compiled by Schema.Validate, by
	// node id.
	whens map[string]*When
}

// Metadata names a pipeline; Name is its key in the API (a DNS label).
type Metadata struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Spec is the graph.
type Spec struct {
	Nodes []Node `json:"nodes"`
}

// Node is one step of the graph. Inputs are ports (`node` or
// `node.rendition`) whose media the node reads; On are events
// (`node.event`) that trigger it; When is a condition on the source
// (a CEL expression, see ParseWhen and WhenVars) under which the node runs; Config is checked by the
// node's Type.
type Node struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Inputs []string       `json:"inputs,omitempty"`
	When   string         `json:"when,omitempty"`
	On     []string       `json:"on,omitempty"`
	Config map[string]any `json:"config,omitempty"`
}

// Node returns the node with id, or nil.
func (m *Manifest) Node(id string) *Node {
	for i := range m.Spec.Nodes {
		if m.Spec.Nodes[i].ID == id {
			return &m.Spec.Nodes[i]
		}
	}
	return nil
}

// Pos is a line and column (1-based) of the source text.
type Pos struct{ Line, Column int }

// ErrInvalid is matched (errors.Is) by every Errors.
var ErrInvalid = errors.New("invalid manifest")

// Error is one problem of a manifest: Path is a JSON pointer (RFC 6901)
// into the document, Node the id of the node it concerns, Line and Column
// where it was written (0 when unknown).
type Error struct {
	Path    string `json:"path"`
	Node    string `json:"node,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

func (e Error) Error() string {
	var b strings.Builder
	if e.Node != "" {
		fmt.Fprintf(&b, "node %q: ", e.Node)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, " (line %d, column %d)", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors lists every problem found, in document order.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return "invalid manifest: " + strings.Join(s, "; ")
}

// Is reports ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// pointer appends an escaped reference token to a JSON pointer.
func pointer(base string, tok any) string {
	s := fmt.Sprint(tok)
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	return base + "/" + s
}

// ErrorAt is an Error at path (a JSON pointer) about node, with the line
// and column of path (or of its nearest written parent) when m was
// decoded from text: for checks made outside this package, such as
// references to stored resources.
func (m *Manifest) ErrorAt(path, node, message string) Error {
	e := Error{Path: path, Node: node, Message: message}
	for p := path; p != ""; p = p[:strings.LastIndexByte(p, '/')] {
		if at, ok := m.pos[p]; ok {
			e.Line, e.Column = at.Line, at.Column
			break
		}
	}
	return e
}
