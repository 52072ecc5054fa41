package restream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// errAMF means an AMF0 value from a target could not be decoded.
var errAMF = errors.New("bad AMF0 data")

// AMF0 type markers (AMF0 spec §2.1).
const (
	amf0Number      = 0x00
	amf0Boolean     = 0x01
	amf0String      = 0x02
	amf0Object      = 0x03
	amf0Null        = 0x05
	amf0Undefined   = 0x06
	amf0ECMAArray   = 0x08
	amf0ObjectEnd   = 0x09
	amf0StrictArray = 0x0a
	amf0Date        = 0x0b
	amf0LongString  = 0x0c

	amf0MaxDepth = 8
	amf0MaxItems = 1024
)

// amfPair is one property of an AMF0 object written in order.
type amfPair struct {
	k string
	v any
}

// amfObject is an AMF0 object whose properties keep their order on the
// wire (some servers read connect's app before tcUrl).
type amfObject []amfPair

// amfECMA is an AMF0 ECMA array (AMF0 spec §2.10), as onMetaData is sent.
type amfECMA []amfPair

// amfAppend appends the AMF0 encoding of v: float64/int (Number), bool,
// string, nil (Null), amfObject, amfECMA.
func amfAppend(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, amf0Null)
	case float64:
		b = append(b, amf0Number)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	case int:
		return amfAppend(b, float64(x))
	case bool:
		if x {
			return append(b, amf0Boolean, 1)
		}
		return append(b, amf0Boolean, 0)
	case string:
		if len(x) > 0xFFFF {
			b = append(b, amf0LongString)
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
			return append(b, x...)
		}
		b = append(b, amf0String)
		return amfAppendKey(b, x)
	case amfObject:
		b = append(b, amf0Object)
		return amfAppendPairs(b, x)
	case amfECMA:
		b = append(b, amf0ECMAArray)
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		return amfAppendPairs(b, x)
	}
	panic(fmt.Sprintf("amf0: cannot encode %T", v))
}

func amfAppendKey(b []byte, k string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...)
}

func amfAppendPairs(b []byte, ps []amfPair) []byte {
	for _, p := range ps {
		b = amfAppendKey(b, p.k)
		b = amfAppend(b, p.v)
	}
	return append(b, 0, 0, amf0ObjectEnd)
}

// amfDecodeAll decodes the AMF0 values of a command message body (RTMP
// spec §7.1.1): numbers as float64, booleans, strings, objects and ECMA
// arrays as map[string]any, strict arrays as []any, null and undefined as
// nil, dates as float64 milliseconds. Nesting and counts are bounded; a
// target's answer is untrusted.
func amfDecodeAll(b []byte) ([]any, error) {
	r := amfReader{b: b}
	var out []any
	for r.pos < len(r.b) {
		if len(out) >= amf0MaxItems {
			return nil, fmt.Errorf("%w: too many values", errAMF)
		}
		v, err := r.value(0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

type amfReader struct {
	b   []byte
	pos int
}

func (r *amfReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, fmt.Errorf("%w: truncated", errAMF)
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p, nil
}

func (r *amfReader) u16() (int, error) {
	p, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(p)), nil
}

func (r *amfReader) u32() (int, error) {
	p, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint32(p)), nil
}

func (r *amfReader) str(n int) (string, error) {
	p, err := r.take(n)
	return string(p), err
}

func (r *amfReader) value(depth int) (any, error) {
	if depth > amf0MaxDepth {
		return nil, fmt.Errorf("%w: nested too deep", errAMF)
	}
	m, err := r.take(1)
	if err != nil {
		return nil, err
	}
	switch m[0] {
	case amf0Number:
		p, err := r.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case amf0Boolean:
		p, err := r.take(1)
		if err != nil {
			return nil, err
		}
		return p[0] != 0, nil
	case amf0String:
		n, err := r.u16()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case amf0LongString:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case amf0Null, amf0Undefined:
		return nil, nil
	case amf0Object:
		return r.properties(depth)
	case amf0ECMAArray:
		if _, err := r.u32(); err != nil { // the count is advisory (AMF0 §2.10)
			return nil, err
		}
		return r.properties(depth)
	case amf0StrictArray:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if n > amf0MaxItems || n > len(r.b)-r.pos {
			return nil, fmt.Errorf("%w: strict array of %d items", errAMF, n)
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
	case amf0Date:
		p, err := r.take(10)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	}
	return nil, fmt.Errorf("%w: unsupported type marker 0x%02x", errAMF, m[0])
}

func (r *amfReader) properties(depth int) (map[string]any, error) {
	out := map[string]any{}
	for range amf0MaxItems {
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
			if m[0] == amf0ObjectEnd {
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
	return nil, fmt.Errorf("%w: object with too many properties", errAMF)
}
