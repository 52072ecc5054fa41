package amf0

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	b := Append(nil, "connect")
	b = Append(b, 1)
	b = Append(b, Obj{{Key: "app", Value: "live"}, {Key: "ok", Value: true}, {Key: "n", Value: nil}})
	b = Append(b, ECMA{{Key: "videocodecid", Value: 7.0}})
	b = Append(b, strings.Repeat("x", 70000))
	vals, err := Decode(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"connect", 1.0, map[string]any{"app": "live", "ok": true, "n": nil}, map[string]any{"videocodecid": 7.0}, strings.Repeat("x", 70000)}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("got %v", vals)
	}
	if first, err := Decode(append(b[:10:10], 0xFF), 1); err != nil || first[0] != "connect" {
		t.Fatalf("Decode(n=1) read past its value: %v %v", first, err)
	}
}

func TestDecodeBounds(t *testing.T) {
	deep := []byte{}
	for range MaxDepth + 2 {
		deep = append(deep, Object, 0, 1, 'a')
	}
	for _, b := range [][]byte{deep, {StrictArray, 0xFF, 0xFF, 0xFF, 0xFF}, {String, 0, 9, 'a'}, {0x42}} {
		if _, err := Decode(b, 0); !errors.Is(err, ErrDecode) {
			t.Errorf("Decode(% x): %v, want ErrDecode", b, err)
		}
	}
}

// FuzzDecode covers the decoder of untrusted AMF0 (RTMP commands, FLV
// script data).
func FuzzDecode(f *testing.F) {
	f.Add(Append(Append(nil, "onMetaData"), ECMA{{Key: "videocodecid", Value: 7}, {Key: "audiocodecid", Value: 10}}))
	f.Add(Append(Append(Append(nil, "_result"), 1), Obj{{Key: "level", Value: "status"}}))
	f.Add([]byte{StrictArray, 0, 0, 0, 2, Null, Number})
	f.Add([]byte{Reference, 0, 1, Date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := Decode(b, 0)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error %v does not wrap ErrDecode", err)
			}
			return
		}
		if len(vals) > MaxItems {
			t.Fatalf("%d values", len(vals))
		}
	})
}
