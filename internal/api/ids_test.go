package api

import (
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
)

// notGeneratedIDs are the schemas whose "id" the server does not generate.
var notGeneratedIDs = map[string]string{
	"PipelineNodeStatus": "a node id chosen in the manifest",
}

// TestContractIDs holds every id to one rule (package ids, Ids in
// docs/api.md): the OpenAPI document states the prefix of every
// resource's id, and every generator makes ids of that prefix and shape.
func TestContractIDs(t *testing.T) {
	e, _ := newWebhookEnv(t, openSQLite(t))
	doc := e.do("GET", "/v1/openapi.json", "", nil).want(t, 200, "").JSON
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	prefixes := idPrefixes()
	for name, s := range schemas {
		props, _ := s.(map[string]any)["properties"].(map[string]any)
		idp, ok := props["id"].(map[string]any)
		if !ok || notGeneratedIDs[name] != "" {
			continue
		}
		p, ok := prefixes[name]
		if !ok {
			t.Errorf("schema %s has an id of no known prefix: add it to idPrefixes (ids.go) or notGeneratedIDs", name)
			continue
		}
		if d, _ := idp["description"].(string); !strings.Contains(d, "`"+p+"_` + 26 characters") {
			t.Errorf("%s.id is described as %q, not by the id rule of %s_", name, d, p)
		}
	}
	for name := range prefixes {
		if schemas[name] == nil {
			t.Errorf("idPrefixes names %s, which is no schema", name)
		}
	}

	now := time.Now()
	li := e.create(map[string]any{"name": "ids"})["id"].(string)
	got := map[string]string{
		"LiveInput":       li,
		"Token":           e.do("POST", "/v1/tokens", e.admin, map[string]any{"name": "ro", "scopes": []string{ScopeLiveInputsRead}}).want(t, 201, "").data()["id"].(string),
		"Webhook":         e.do("POST", "/v1/webhooks", e.admin, map[string]any{"url": "http://127.0.0.1:9/hook"}).want(t, 201, "").data()["id"].(string),
		"SigningKey":      e.do("POST", "/v1/signing_keys", e.admin, nil).want(t, 201, "").data()["id"].(string),
		"Output":          e.do("POST", "/v1/live_inputs/"+li+"/outputs", e.admin, map[string]any{"url": "rtmp://a.rtmp.youtube.com/live2", "stream_key": "k"}).want(t, 201, "").data()["id"].(string),
		"Session":         NewSessionID(now),
		"Video":           record.NewVideoID(now),
		"WebhookDelivery": store.NewDeliveryID(now),
		"Event":           events.New(events.LiveInputCreated, li, nil).ID,
	}
	for name, id := range got {
		if !ids.Valid(prefixes[name], id) {
			t.Errorf("%s id %q does not follow the rule (%s_ + 26 characters)", name, id, prefixes[name])
		}
	}
	// not resources, but the same shape
	if m := playback.NewMessageID(); !ids.Valid("msg", m) {
		t.Errorf("webhook-id %q", m)
	}
	// ids stored before the rule keep working: they are only compared
	e.do("GET", "/v1/live_inputs/li_01hv7c4k3p5q6r7s8t9v0w1x2y", e.admin, nil).want(t, 404, CodeNotFound)
}
