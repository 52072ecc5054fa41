package api

import (
	"strings"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

// FuzzDecode feeds request bodies to the strict decoder of POST bodies and
// to the merge patch of PATCH: never a panic, and an accepted body yields a
// live input that passes or fails validation with an API error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","meta":{"x":[1,{"y":null}]}}`, `{"recording":{"mode":"automatic","delete_after_days":3}}`,
		`{"allowed_origins":["https://a.example"]}`, `{"enabled":false}`, `{"name":null}`, `[`, `{"a":` + strings.Repeat("[", 40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c liveInputCreate
		if err := decodeJSON(b, &c); err == nil {
			li := &store.LiveInput{Meta: map[string]any{}, Recording: store.Recording{Mode: "off"}}
			c.apply(li)
			if err := validateLiveInput(li); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("validation error %T", err)
				}
			}
		} else if _, ok := err.(*Error); !ok {
			t.Fatalf("decode error %T: %v", err, err)
		}
		li := &store.LiveInput{Meta: map[string]any{"k": "v"}, Recording: store.Recording{Mode: "off"}}
		if err := applyMergePatch(li, b); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("patch error %T: %v", err, err)
			}
		}
		var tc tokenCreate
		_ = decodeJSON(b, &tc)
	})
}

// FuzzCursor: decoding never panics; only cursors this codec issued for
// the same scope decode, to the id they were issued for.
func FuzzCursor(f *testing.F) {
	c := cursorCodec{key: []byte("fuzz-key")}
	f.Add(c.encode("live_inputs\x00\x00", "li_06h1tyc6mn15nzmt0wdankqs60"), "li_06h1tyc6mn15nzmt0wdankqs60")
	f.Add("AAAA", "x")
	f.Add("", "main")
	f.Add("%%%", "a.b-c_d")
	f.Fuzz(func(t *testing.T, s, id string) {
		const scope = "live_inputs\x00\x00"
		if got, err := c.decode(scope, s); err == nil && got != "" && !validID(got) {
			t.Fatalf("decoded an invalid id %q", got)
		}
		if !validID(id) {
			return
		}
		enc := c.encode(scope, id)
		got, err := c.decode(scope, enc)
		if err != nil || got != id {
			t.Fatalf("round trip %q: %q %v", id, got, err)
		}
		if _, err := c.decode("tokens", enc); err == nil {
			t.Fatal("cursor accepted for another scope")
		}
	})
}
