package verify

import (
	"strings"
	"testing"
)

// FuzzParseSignatureHeader: the parser of the untrusted webhook-signature
// header never panics, and whatever it accepts is 32-byte v1 MACs.
func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range []string{specSig, specSig + " v1a,xyz", "v1,", " ", "v1,,v1", "v2,abc v1,AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		sigs, err := ParseSignatureHeader(h)
		if err != nil {
			return
		}
		if len(sigs) == 0 {
			t.Fatal("accepted with no signature")
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes accepted", len(s))
			}
		}
	})
}

// FuzzVerify: arbitrary headers and bodies never verify unless signed.
func FuzzVerify(f *testing.F) {
	f.Add(specID, specTS, specSig, []byte(specBody))
	f.Add("", "", "", []byte(nil))
	f.Add(specID, "99999999999999999999", specSig, []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		v, _ := New(specSecret)
		v.Now = specNow
		if v.VerifyValues(id, ts, sig, body) != nil {
			return
		}
		want, _ := Sign(specSecret, id, specNow(), body)
		if ts != specTS || !strings.Contains(sig, want[3:]) {
			t.Fatalf("verified without a valid signature: id %q ts %q sig %q", id, ts, sig)
		}
	})
}
