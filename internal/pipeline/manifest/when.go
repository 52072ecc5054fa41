package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// WhenFields are the facts of the source a `when` expression may test,
// with their types: integers compare with integers, strings with strings.
var whenFields = map[string]valKind{
	"source.video.height": valInt,
	"source.video.width":  valInt,
	"source.video.codec":  valString,
	"source.audio.codec":  valString,
}

type valKind int

const (
	valInt valKind = iota + 1
	valString
)

// When is a compiled `when` expression.
//
//	expr    = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | "(" expr ")" | operand op operand
//	op      = "==" | "!=" | "<" | "<=" | ">" | ">="
//	operand = field | integer | 'string' | "string"
//	field   = source.video.height | source.video.width | source.video.codec | source.audio.codec
//
// Ordering operators compare integers only.
type When struct{ root expr }

// Facts are the values When is evaluated against, keyed like the fields
// (ints for height and width, strings for codecs); a missing fact makes
// every comparison with it false.
type Facts map[string]any

// Eval reports whether the expression holds for f.
func (w *When) Eval(f Facts) bool { return w.root.eval(f) }

// ParseWhen compiles a `when` expression, checking that fields exist and
// that both sides of a comparison have the same type.
func ParseWhen(src string) (*When, error) {
	if len(src) > MaxWhenLen {
		return nil, fmt.Errorf("the expression is longer than %d characters", MaxWhenLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.toks[p.i].text, p.toks[p.i].off)
	}
	return &When{root: e}, nil
}

type tokKind int

const (
	tIdent tokKind = iota
	tInt
	tStr
	tOp
)

type token struct {
	kind tokKind
	text string
	off  int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tInt, s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			out = append(out, token{tStr, s[i+1 : i+1+j], i})
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '.') {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			out = append(out, token{tOp, op, i})
			i += len(op)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	return out, nil
}

// maxDepth bounds nesting so that a hostile expression cannot exhaust the
// stack.
const maxDepth = 32

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek(op string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == tOp && p.toks[p.i].text == op
}

func (p *parser) or(depth int) (expr, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek("||") {
		p.i++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = logic{or: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (expr, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek("&&") {
		p.i++
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = logic{l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (expr, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("the expression nests deeper than %d", maxDepth)
	}
	switch {
	case p.peek("!"):
		p.i++
		e, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return not{e}, nil
	case p.peek("("):
		p.i++
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return e, nil
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.toks) || p.toks[p.i].kind != tOp {
		return nil, fmt.Errorf("expected a comparison after %q", l.text)
	}
	op := p.toks[p.i].text
	switch op {
	case "==", "!=", "<", "<=", ">", ">=":
	default:
		return nil, fmt.Errorf("expected a comparison operator, got %q", op)
	}
	p.i++
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	if l.kind != r.kind {
		return nil, fmt.Errorf("cannot compare %s with %s", l.text, r.text)
	}
	if l.kind == valString && op != "==" && op != "!=" {
		return nil, fmt.Errorf("%s compares strings: only == and != apply", op)
	}
	if l.field == "" && r.field == "" {
		return nil, fmt.Errorf("%s %s %s compares two constants", l.text, op, r.text)
	}
	return cmp{op: op, l: l, r: r}, nil
}

func (p *parser) operand() (operand, error) {
	if p.i >= len(p.toks) {
		return operand{}, fmt.Errorf("unexpected end of expression")
	}
	t := p.toks[p.i]
	p.i++
	switch t.kind {
	case tIdent:
		k, ok := whenFields[t.text]
		if !ok {
			return operand{}, fmt.Errorf("unknown field %q (known: source.video.height, source.video.width, source.video.codec, source.audio.codec)", t.text)
		}
		return operand{kind: k, field: t.text, text: t.text}, nil
	case tInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return operand{}, fmt.Errorf("integer %s out of range", t.text)
		}
		return operand{kind: valInt, n: n, text: t.text}, nil
	case tStr:
		return operand{kind: valString, s: t.text, text: strconv.Quote(t.text)}, nil
	}
	return operand{}, fmt.Errorf("unexpected %q at offset %d", t.text, t.off)
}

type expr interface{ eval(Facts) bool }

type logic struct {
	or   bool
	l, r expr
}

func (e logic) eval(f Facts) bool {
	if e.or {
		return e.l.eval(f) || e.r.eval(f)
	}
	return e.l.eval(f) && e.r.eval(f)
}

type not struct{ e expr }

func (e not) eval(f Facts) bool { return !e.e.eval(f) }

type operand struct {
	kind  valKind
	field string
	n     int64
	s     string
	text  string
}

func (o operand) value(f Facts) (int64, string, bool) {
	if o.field == "" {
		return o.n, o.s, true
	}
	switch x := f[o.field].(type) {
	case int:
		return int64(x), "", o.kind == valInt
	case int64:
		return x, "", o.kind == valInt
	case string:
		return 0, x, o.kind == valString
	}
	return 0, "", false
}

type cmp struct {
	op   string
	l, r operand
}

func (c cmp) eval(f Facts) bool {
	ln, ls, ok1 := c.l.value(f)
	rn, rs, ok2 := c.r.value(f)
	if !ok1 || !ok2 {
		return false
	}
	switch c.op {
	case "==":
		return ln == rn && ls == rs
	case "!=":
		return ln != rn || ls != rs
	case "<":
		return ln < rn
	case "<=":
		return ln <= rn
	case ">":
		return ln > rn
	}
	return ln >= rn
}
