package verify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks reference libraries.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = "1614265330"
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func specNow() time.Time { return time.Unix(1614265330, 0) }

func TestSignMatchesSpec(t *testing.T) {
	got, err := Sign(specSecret, specID, specNow(), []byte(specBody))
	if err != nil || got != specSig {
		t.Fatalf("Sign = %q, %v; want %q", got, err, specSig)
	}
}

func TestVerify(t *testing.T) {
	other := "whsec_" + "c2Vjb25kIHNlY3JldCBvZiB0aGUgdGVzdA=="
	otherSig, _ := Sign(other, specID, specNow(), []byte(specBody))
	tests := []struct {
		name    string
		secrets []string
		id, ts  string
		sig     string
		body    string
		now     time.Time
		want    error
	}{
		{"valid", []string{specSecret}, specID, specTS, specSig, specBody, specNow(), nil},
		{"valid among several", []string{specSecret}, specID, specTS, otherSig + " " + specSig, specBody, specNow(), nil},
		{"second secret", []string{other, specSecret}, specID, specTS, specSig, specBody, specNow(), nil},
		{"unknown version skipped", []string{specSecret}, specID, specTS, "v1a,abc " + specSig, specBody, specNow(), nil},
		{"within tolerance", []string{specSecret}, specID, specTS, specSig, specBody, specNow().Add(4 * time.Minute), nil},
		{"too old", []string{specSecret}, specID, specTS, specSig, specBody, specNow().Add(6 * time.Minute), ErrTimestamp},
		{"too new", []string{specSecret}, specID, specTS, specSig, specBody, specNow().Add(-6 * time.Minute), ErrTimestamp},
		{"body changed", []string{specSecret}, specID, specTS, specSig, specBody + " ", specNow(), ErrNoMatch},
		{"id changed", []string{specSecret}, "msg_other", specTS, specSig, specBody, specNow(), ErrNoMatch},
		{"wrong secret", []string{other}, specID, specTS, specSig, specBody, specNow(), ErrNoMatch},
		{"missing id", []string{specSecret}, "", specTS, specSig, specBody, specNow(), ErrMissingHeader},
		{"missing signature", []string{specSecret}, specID, specTS, "", specBody, specNow(), ErrMissingHeader},
		{"bad timestamp", []string{specSecret}, specID, "16142653x0", specSig, specBody, specNow(), ErrInvalidHeader},
		{"negative timestamp", []string{specSecret}, specID, "-1", specSig, specBody, specNow(), ErrInvalidHeader},
		{"no v1", []string{specSecret}, specID, specTS, "v2,abc", specBody, specNow(), ErrInvalidHeader},
		{"not base64", []string{specSecret}, specID, specTS, "v1,!!!", specBody, specNow(), ErrInvalidHeader},
		{"short mac", []string{specSecret}, specID, specTS, "v1,AAAA", specBody, specNow(), ErrInvalidHeader},
		{"no comma", []string{specSecret}, specID, specTS, "v1", specBody, specNow(), ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			v.Now = func() time.Time { return tt.now }
			h := http.Header{}
			for k, val := range map[string]string{HeaderID: tt.id, HeaderTimestamp: tt.ts, HeaderSignature: tt.sig} {
				if val != "" {
					h.Set(k, val)
				}
			}
			if err := v.Verify(h, []byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewRejectsBadSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_!!", "not base64 at all"} {
		if _, err := New(s); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("New(%q) = %v", s, err)
		}
	}
	if _, err := New(); err == nil {
		t.Error("New() without secrets succeeded")
	}
}

func TestParseSignatureHeaderLimit(t *testing.T) {
	if _, err := ParseSignatureHeader(strings.Repeat(specSig+" ", 400)); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("oversized header: %v", err)
	}
}
