package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Every mutable resource has an ETag (RFC 9110 §8.8.3) on GET and on the
// responses of its changes, and PATCH and DELETE honour If-Match
// (RFC 9110 §13.1.1): a stale one is answered 412 precondition_failed with
// the current ETag in details.etag. Live inputs use their stored version;
// the other resources a digest of what GET shows of them.

// digestETag is a strong ETag over the JSON of v: the first 128 bits of
// its SHA-256, in hex.
func digestETag(v any) string {
	b, _ := json.Marshal(v)
	d := sha256.Sum256(b)
	return `"` + hex.EncodeToString(d[:16]) + `"`
}

// checkETag enforces If-Match against the resource's current ETag want;
// what names the resource in the message. No If-Match: no condition.
func checkETag(r *http.Request, want, what string) error {
	h := r.Header.Get("If-Match")
	if h == "" {
		return nil
	}
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || t == want {
			return nil
		}
	}
	return &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed,
		Message: "If-Match does not match the " + what + "'s ETag " + want + "; GET it again", Details: map[string]any{"etag": want}}
}

// ifMatchParam documents If-Match in the OpenAPI document.
func ifMatchParam() obj {
	return param("If-Match", "header", "The ETag of the version the change is based on; 412 when it changed.", obj{"type": "string"}, false)
}

// etagHeader documents the ETag response header.
func etagHeader() obj {
	return obj{"ETag": obj{"description": "The resource's version; send it as If-Match.", "schema": obj{"type": "string"}}}
}
