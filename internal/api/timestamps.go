package api

import (
	"encoding/json"

	"github.com/mpegflow/mpegflow/internal/jsontime"
)

// Every timestamp the API renders is a jsontime.Time: RFC 3339, UTC,
// millisecond precision. Renderers declare their time fields as
// jsontime.Time; the types below, whose time.Time fields other code fills,
// render through the same format here.

// MarshalJSON renders a session with its timestamps in the API's one
// format (jsontime).
func (ss Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return json.Marshal(struct {
		plain
		StartedAt jsontime.Time `json:"started_at"`
	}{plain(ss), jsontime.Of(ss.StartedAt)})
}

// MarshalJSON renders a token's metadata with its timestamps in the API's
// one format (jsontime).
func (t tokenJSON) MarshalJSON() ([]byte, error) {
	type plain tokenJSON
	return json.Marshal(struct {
		plain
		CreatedAt  jsontime.Time  `json:"created_at"`
		LastUsedAt *jsontime.Time `json:"last_used_at"`
		RevokedAt  *jsontime.Time `json:"revoked_at"`
	}{plain(t), jsontime.Of(t.CreatedAt), jsontime.Ptr(t.LastUsedAt), jsontime.Ptr(t.RevokedAt)})
}
