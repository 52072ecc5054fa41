package manifest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
)

// A node's `when` is a CEL expression (https://github.com/google/cel-spec,
// langdef.md) over the facts of its pipeline's source, known when the
// source goes live: `source.video.height >= 720`,
// `source.video.codec in ['h264', 'h265'] && source.has_audio`. It is
// compiled and type-checked at validation (an unknown field, a type error
// or a non-bool result is refused, naming the node and /when), its
// estimated worst-case cost is bounded by MaxWhenCost, and evaluation
// stops at the same cost at run time.
//
// The runtime evaluates it at go-live with (*Manifest).Condition or
// (*When).Match on the Facts of the source (Source.Facts builds them).

// MaxWhenCost bounds a `when` expression's cost, in CEL cost units (about
// one per operation and per character compared): its estimated worst case
// at validation, and what an evaluation may spend at run time. A
// comparison costs 1 to 3; a list comprehension costs per element.
const MaxWhenCost = 1000

// WhenVar is one fact a `when` expression may reference.
type WhenVar struct {
	Name string // e.g. source.video.height
	Type string // int, double, string or bool (CEL types)
	Doc  string
}

// WhenVars lists the facts, sorted by name. A missing fact has its type's
// zero value (0, 0.0, "", false): a source without video has height 0.
func WhenVars() []WhenVar {
	return []WhenVar{
		{"source.audio.channels", "int", "Audio channels (2 for stereo)."},
		{"source.audio.codec", "string", "Audio codec: aac, opus, mp3, ac3."},
		{"source.audio.sample_rate", "int", "Audio sample rate in Hz."},
		{"source.has_audio", "bool", "The source has an audio track."},
		{"source.has_video", "bool", "The source has a video track."},
		{"source.live_input", "string", "The id of the live input the source binds."},
		{"source.protocol", "string", "How the source arrives: rtmp, srt, whip, rtsp or upload."},
		{"source.video.codec", "string", "Video codec: h264, h265, av1, vp8, vp9."},
		{"source.video.fps", "double", "Video frame rate (frames per second)."},
		{"source.video.height", "int", "Video height in pixels."},
		{"source.video.width", "int", "Video width in pixels."},
	}
}

// Facts are the values a `when` is evaluated against, keyed by WhenVar
// names. Integers may be int or int64, fps float64 or an integer; a
// missing fact is its type's zero value.
type Facts map[string]any

// Source is what the runtime knows of a source at go-live; Facts turns
// it into the values of WhenVars.
type Source struct {
	LiveInput string
	Protocol  string
	Video     *VideoFacts // nil without video
	Audio     *AudioFacts // nil without audio
}

// VideoFacts describe a source's video track.
type VideoFacts struct {
	Codec         string
	Width, Height int
	FPS           float64
}

// AudioFacts describe a source's audio track.
type AudioFacts struct {
	Codec      string
	Channels   int
	SampleRate int
}

// Facts returns s as the values of WhenVars.
func (s Source) Facts() Facts {
	f := Facts{
		"source.live_input": s.LiveInput,
		"source.protocol":   s.Protocol,
		"source.has_video":  s.Video != nil,
		"source.has_audio":  s.Audio != nil,
	}
	if v := s.Video; v != nil {
		f["source.video.codec"], f["source.video.width"], f["source.video.height"], f["source.video.fps"] = v.Codec, v.Width, v.Height, v.FPS
	}
	if a := s.Audio; a != nil {
		f["source.audio.codec"], f["source.audio.channels"], f["source.audio.sample_rate"] = a.Codec, a.Channels, a.SampleRate
	}
	return f
}

// When is a compiled `when` expression; safe for concurrent use.
type When struct {
	src string
	prg cel.Program
}

// String returns the expression as written.
func (w *When) String() string { return w.src }

// ErrWhenCost is wrapped by an evaluation stopped at MaxWhenCost.
var ErrWhenCost = errors.New("the when expression exceeded its cost limit")

// Match evaluates the expression on f.
func (w *When) Match(f Facts) (bool, error) {
	out, _, err := w.prg.Eval(activation(f))
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return false, fmt.Errorf("%w (%d): %q", ErrWhenCost, MaxWhenCost, w.src)
		}
		return false, fmt.Errorf("evaluate when %q: %w", w.src, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("evaluate when %q: the result is %s, not a bool", w.src, out.Type().TypeName())
	}
	return b, nil
}

// Condition returns the condition of node id, to evaluate at go-live
// with the source's Facts: always true for a node without `when`. It
// fails for an unknown node or an expression that does not compile (a
// validated manifest has none); the expressions compiled by
// Schema.Validate are reused.
func (m *Manifest) Condition(id string) (func(Facts) (bool, error), error) {
	n := m.Node(id)
	if n == nil {
		return nil, fmt.Errorf("no node %q", id)
	}
	if n.When == "" {
		return func(Facts) (bool, error) { return true, nil }, nil
	}
	w := m.whens[id]
	if w == nil || w.src != n.When {
		var err error
		if w, err = ParseWhen(n.When); err != nil {
			return nil, fmt.Errorf("node %q: when: %w", id, err)
		}
	}
	return w.Match, nil
}

// activation gives every WhenVar a value of its declared type.
func activation(f Facts) map[string]any {
	a := make(map[string]any, len(whenEnvironment().vars))
	for _, v := range whenEnvironment().vars {
		x := f[v.Name]
		switch v.Type {
		case "int":
			a[v.Name] = toInt(x)
		case "double":
			switch n := x.(type) {
			case float64:
				a[v.Name] = n
			case float32:
				a[v.Name] = float64(n)
			default:
				a[v.Name] = float64(toInt(x))
			}
		case "bool":
			b, _ := x.(bool)
			a[v.Name] = b
		default:
			s, _ := x.(string)
			a[v.Name] = s
		}
	}
	return a
}

func toInt(x any) int64 {
	switch n := x.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case int32:
		return int64(n)
	case uint32:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

// whenEnv is the CEL environment of `when`: built once, immutable, and
// safe for concurrent use (cel.Env is).
type whenEnv struct {
	env   *cel.Env
	vars  []WhenVar
	known map[string]bool // the names, and their prefixes (source, source.video)
}

var whenEnvironment = sync.OnceValue(func() *whenEnv {
	vars := WhenVars()
	opts := []cel.EnvOption{
		cel.ParserExpressionSizeLimit(MaxWhenLen),
		cel.ParserRecursionLimit(32),
	}
	known := map[string]bool{}
	for _, v := range vars {
		t := map[string]*cel.Type{"int": cel.IntType, "double": cel.DoubleType, "bool": cel.BoolType, "string": cel.StringType}[v.Type]
		opts = append(opts, cel.Variable(v.Name, t))
		for p := v.Name; p != ""; {
			known[p] = true
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		// The declarations above are constant: a failure is a bug.
		panic(fmt.Sprintf("manifest: the CEL environment of when: %v", err))
	}
	return &whenEnv{env: env, vars: vars, known: known}
})

// ParseWhen compiles a `when` expression: it parses, checks that every
// field exists and the result is a bool, and refuses an expression whose
// estimated cost exceeds MaxWhenCost.
func ParseWhen(src string) (*When, error) {
	if len(src) > MaxWhenLen {
		return nil, fmt.Errorf("the expression is longer than %d characters", MaxWhenLen)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	we := whenEnvironment()
	parsed, iss := we.env.Parse(src)
	if iss.Err() != nil {
		return nil, celIssues(iss)
	}
	if name := we.unknownField(parsed); name != "" {
		return nil, fmt.Errorf("unknown field %q (known: %s)", name, strings.Join(we.names(), ", "))
	}
	checked, iss := we.env.Check(parsed)
	if iss.Err() != nil {
		return nil, celIssues(iss)
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("the expression is %s, not a bool (a condition such as source.video.height >= 720)", cel.FormatCELType(checked.OutputType()))
	}
	est, err := we.env.EstimateCost(checked, sizeEstimator{})
	if err != nil {
		return nil, fmt.Errorf("estimate the cost: %w", err)
	}
	if est.Max > MaxWhenCost {
		return nil, fmt.Errorf("the expression may cost up to %d, more than the limit of %d", est.Max, MaxWhenCost)
	}
	prg, err := we.env.Program(checked, cel.CostLimit(MaxWhenCost), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("plan the expression: %w", err)
	}
	return &When{src: src, prg: prg}, nil
}

func (we *whenEnv) names() []string {
	s := make([]string, len(we.vars))
	for i, v := range we.vars {
		s[i] = v.Name
	}
	return s
}

// unknownField returns the first dotted reference rooted at `source` that
// is neither a fact nor a prefix of one ("source.video.bitrate"), so the
// error names the whole field rather than CEL's "undeclared reference".
func (we *whenEnv) unknownField(a *cel.Ast) string {
	var bad []string
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if name, ok := dotted(e); ok && strings.HasPrefix(name, "source") {
			if !we.known[name] {
				bad = append(bad, name)
			}
			return
		}
		switch e.Kind() {
		case ast.SelectKind:
			walk(e.AsSelect().Operand())
		case ast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, x := range c.Args() {
				walk(x)
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				walk(x)
			}
		case ast.MapKind:
			for _, x := range e.AsMap().Entries() {
				walk(x.AsMapEntry().Key())
				walk(x.AsMapEntry().Value())
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange())
			walk(c.AccuInit())
			walk(c.LoopCondition())
			walk(c.LoopStep())
			walk(c.Result())
		}
	}
	walk(a.NativeRep().Expr())
	if len(bad) == 0 {
		return ""
	}
	sort.SliceStable(bad, func(i, j int) bool { return len(bad[i]) > len(bad[j]) })
	return bad[0]
}

// dotted reads a chain of field selections on an identifier as one name.
func dotted(e ast.Expr) (string, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), true
	case ast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return "", false
		}
		base, ok := dotted(s.Operand())
		return base + "." + s.FieldName(), ok
	}
	return "", false
}

// celIssues turns CEL's issues into one line per problem with its column.
func celIssues(iss *cel.Issues) error {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := e.Message
		if e.Location != nil && e.Location.Line() > 0 {
			msg = fmt.Sprintf("column %d: %s", e.Location.Column()+1, msg)
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return errors.New(iss.String())
	}
	return errors.New(strings.Join(msgs, "; "))
}

// sizeEstimator bounds the strings of the facts (codec names, protocols,
// ids) for the cost estimate: string functions cost per character.
type sizeEstimator struct{}

// maxFactLen bounds the length of a string fact.
const maxFactLen = 64

func (sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate {
	e := checker.SizeEstimate{Min: 0, Max: maxFactLen}
	return &e
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

var _ checker.CostEstimator = sizeEstimator{}
