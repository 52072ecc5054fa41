package api

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// secretFields are the response fields that carry a secret shown once:
// API tokens and playback tokens ("token"), stream keys and the SRT stream
// id that embeds one, SRT passphrases, webhook signing secrets, and the
// private half of generated signing keys ("pem", "jwk").
var secretFields = map[string]bool{
	"token": true, "stream_key": true, "stream_id": true, "passphrase": true,
	"secret": true, "pem": true, "jwk": true, "private_key": true,
}

// SecretOmittedHeader marks a replayed response whose secrets were left
// out: the idempotency table never stores a secret, so a retry gets the
// resource it created without the secret the first response showed once.
// The body says the same in a top-level "secret_omitted": true.
const SecretOmittedHeader = "Secret-Omitted"

// redactSecrets returns body (a JSON response) without any non-empty
// string field named in secretFields, at any depth, nor any other string
// field that embeds one of their values (the SRT URL carries the stream key
// and passphrase), and whether it removed one; then the top-level object
// also gets "secret_omitted": true. A body that is not a JSON object is
// returned unchanged.
func redactSecrets(body []byte) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var top map[string]any
	if err := d.Decode(&top); err != nil || top == nil {
		return body, false
	}
	var secrets []string
	collectSecrets(top, &secrets)
	if len(secrets) == 0 {
		return body, false
	}
	redactValue(top, secrets)
	top["secret_omitted"] = true
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, true // never store what could not be redacted
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

func collectSecrets(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && secretFields[k] && s != "" {
				*out = append(*out, s, url.QueryEscape(s), url.PathEscape(s))
				continue
			}
			collectSecrets(val, out)
		}
	case []any:
		for _, e := range x {
			collectSecrets(e, out)
		}
	}
}

func redactValue(v any, secrets []string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && s != "" && (secretFields[k] || containsAny(s, secrets)) {
				delete(x, k)
				continue
			}
			redactValue(val, secrets)
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok && containsAny(s, secrets) {
				x[i] = ""
				continue
			}
			redactValue(e, secrets)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if len(sub) >= 8 && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
