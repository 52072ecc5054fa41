// Package amf0 encodes and decodes AMF0 (Action Message Format 0, the
// AMF0 specification of Adobe): the values of RTMP command messages (RTMP
// spec §7.1.1) and of FLV script data (FLV spec §E.4.4.1). Decoding is
// bounded in depth and item counts: its input comes from peers and files
// that are not trusted, and FuzzDecode covers it. The RTMP ingest reads
// onMetaData with it; the restream client writes commands and reads its
// targets' answers.
package amf0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrDecode means AMF0 data could not be decoded.
var ErrDecode = errors.New("bad AMF0 data")

// Type markers (AMF0 spec §2.1).
const (
	Number      = 0x00
	Boolean     = 0x01
	String      = 0x02
	Object      = 0x03
	Null        = 0x05
	Undefined   = 0x06
	Reference   = 0x07
	ECMAArray   = 0x08
	ObjectEnd   = 0x09
	StrictArray = 0x0a
	Date        = 0x0b
	LongString  = 0x0c
)

// Bounds of Decode.
const (
	MaxDepth = 8    // nesting of objects and arrays
	MaxItems = 4096 // values, properties of one object, items of one array
)

// Pair is one property of an object written in order.
type Pair struct {
	Key   string
	Value any
}

// Obj is an AMF0 object (§2.5) whose properties keep their order on the
// wire (some servers read connect's app before tcUrl).
type Obj []Pair

// ECMA is an AMF0 ECMA array (§2.10), as onMetaData is sent.
type ECMA []Pair

// Append appends the AMF0 encoding of v: float64 or int (Number), bool,
// string (String, or LongString past 65535 bytes), nil (Null), Obj, ECMA.
// Another type is a programming error and panics.
func Append(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, Null)
	case float64:
		b = append(b, Number)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case int:
		return Append(b, float64(x))
	case bool:
		if x {
			return append(b, Boolean, 1)
		}
		return append(b, Boolean, 0)
	case string:
		if len(x) > 0xFFFF {
			b = append(b, LongString)
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...)
		}
		b = append(b, String)
		return appendKey(b, x)
	case Obj:
		b = append(b, Object)
		return appendPairs(b, x)
	case ECMA:
		b = append(b, ECMAArray)
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		return appendPairs(b, x)
	}
	panic(fmt.Sprintf("amf0: cannot encode %T", v))
}

func appendKey(b []byte, k string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...)
}

func appendPairs(b []byte, ps []Pair) []byte {
	for _, p := range ps {
		b = appendKey(b, p.Key)
		b = Append(b, p.Value)
	}
	return append(b, 0, 0, ObjectEnd)
}

// Decode decodes the AMF0 values of b, at most n of them when n > 0 (the
// rest of b is then not read): numbers as float64, booleans, strings,
// objects and ECMA arrays as map[string]any, strict arrays as []any, null,
// undefined and references as nil, dates as float64 milliseconds. Errors
// wrap ErrDecode.
func Decode(b []byte, n int) ([]any, error) {
	r := reader{b: b}
	var out []any
	for r.pos < len(r.b) && (n <= 0 || len(out) < n) {
		if len(out) >= MaxItems {
			return nil, fmt.Errorf("%w: too many values", ErrDecode)
		}
		v, err := r.value(0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

type reader struct {
	b   []byte
	pos int
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, fmt.Errorf("%w: truncated", ErrDecode)
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p, nil
}

func (r *reader) u16() (int, error) {
	p, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(p)), nil
}

func (r *reader) u32() (int, error) {
	p, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint32(p)), nil
}

func (r *reader) str(n int) (string, error) {
	p, err := r.take(n)
	return string(p), err
}

func (r *reader) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: nested too deep", ErrDecode)
	}
	m, err := r.take(1)
	if err != nil {
		return nil, err
	}
	switch m[0] {
	case Number:
		p, err := r.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case Boolean:
		p, err := r.take(1)
		if err != nil {
			return nil, err
		}
		return p[0] != 0, nil
	case String:
		n, err := r.u16()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case LongString:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case Null, Undefined:
		return nil, nil
	case Object:
		return r.properties(depth)
	case ECMAArray:
		if _, err := r.u32(); err != nil { // the count is advisory (AMF0 §2.10)
			return nil, err
		}
		return r.properties(depth)
	case StrictArray:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if n > MaxItems || n > len(r.b)-r.pos {
			return nil, fmt.Errorf("%w: strict array of %d items", ErrDecode, n)
		}
		out := make([]any, 0, n)
		for range n {
			v, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case Reference:
		_, err := r.u16()
		return nil, err
	case Date:
		p, err := r.take(10)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	}
	return nil, fmt.Errorf("%w: unsupported type marker 0x%02x", ErrDecode, m[0])
}

func (r *reader) properties(depth int) (map[string]any, error) {
	out := map[string]any{}
	for range MaxItems {
		n, err := r.u16()
		if err != nil {
			return nil, err
		}
		k, err := r.str(n)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			m, err := r.take(1)
			if err != nil {
				return nil, err
			}
			if m[0] == ObjectEnd {
				return out, nil
			}
			r.pos-- // an empty key with a value
		}
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return nil, fmt.Errorf("%w: object with too many properties", ErrDecode)
}
