package playback

import "net/http"

// refusal is one row of the table of refusals: its HTTP status and the
// short text sent with it (what went wrong, never a detail that helps forge
// a token).
type refusal struct {
	reason  Reason
	status  int
	message string
}

// refusals is the one table of playback refusals, in documentation order:
// the playback handlers answer with it, and the API's OpenAPI document and
// README list it.
func refusals() []refusal {
	return []refusal{
		{ReasonMissing, http.StatusUnauthorized, "a playback token is required"},
		{ReasonMalformed, http.StatusUnauthorized, "the playback token is malformed"},
		{ReasonBadSignature, http.StatusUnauthorized, "the playback token's signature does not verify"},
		{ReasonUnknownKey, http.StatusUnauthorized, "the playback token's key is unknown or revoked"},
		{ReasonExpired, http.StatusUnauthorized, "the playback token has expired"},
		{ReasonNotYetValid, http.StatusUnauthorized, "the playback token is not valid yet"},
		{ReasonWrongSubject, http.StatusForbidden, "the playback token is for another resource"},
		{ReasonRuleBlocked, http.StatusForbidden, "an access rule of the playback token refuses this client"},
		{ReasonOrigin, http.StatusForbidden, "this origin may not play this resource"},
		{ReasonAdmission, http.StatusForbidden, "refused by the admission hook"},
		{ReasonUnavailable, http.StatusServiceUnavailable, "playback authorization is unavailable, retry later"},
	}
}

// Reasons lists every refusal reason, in documentation order.
func Reasons() []Reason {
	rs := refusals()
	out := make([]Reason, len(rs))
	for i, r := range rs {
		out[i] = r.reason
	}
	return out
}

func (r Reason) row() refusal {
	for _, x := range refusals() {
		if x.reason == r {
			return x
		}
	}
	return refusal{r, http.StatusServiceUnavailable, "playback authorization is unavailable, retry later"}
}

// Status is the HTTP status a refusal is answered with: 401 for a missing
// or invalid token, 403 for a valid one that does not admit this client,
// 503 when the keys cannot be read.
func (r Reason) Status() int { return r.row().status }

// Message is the short text sent with a refusal.
func (r Reason) Message() string { return r.row().message }
