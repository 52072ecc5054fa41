package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// WebhookService is what the webhooks API needs of the delivery service
// (internal/webhook.Service satisfies it).
type WebhookService interface {
	// CheckURL validates a webhook URL: http(s), and (unless private
	// targets are allowed) not resolving to a loopback, private,
	// link-local or multicast address. Any error is the client's.
	CheckURL(ctx context.Context, raw string) error
	// Test sends a webhook.test event to e now; err says why no response
	// came.
	Test(ctx context.Context, e *store.WebhookEndpoint) (status int, latency time.Duration, err error)
	// Retry makes a delivery due now.
	Retry(ctx context.Context, endpointID, deliveryID string) (*store.WebhookDelivery, error)
	// Changed wakes delivery after an endpoint changed.
	Changed()
}

// WebhooksDeps is what the webhooks API needs beyond the store.
// With a nil Service the webhook routes answer 501.
type WebhooksDeps struct {
	Service WebhookService
}

// Limits of webhook endpoints.
const (
	maxWebhookDescription = 1024
	maxWebhookEventTypes  = 64
	maxWebhookLiveInputs  = 1000
	// SecretOverlap is how long the previous secret still signs after
	// rotate_secret.
	SecretOverlap = 24 * time.Hour
)

// NewWebhookSecret returns a Standard Webhooks secret: "whsec_" + the
// base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// webhookJSON is a webhook endpoint as the API returns it: what
// webhook.disabled carries, plus the secret in the responses to creation and
// rotation.
type webhookJSON struct {
	webhook.EndpointData
	Secret string `json:"secret,omitempty"`
}

func webhookToJSON(e *store.WebhookEndpoint, withSecret bool) webhookJSON {
	j := webhookJSON{EndpointData: webhook.Endpoint(e)}
	if withSecret {
		j.Secret = e.Secret
	}
	return j
}

// deliveryJSON is one entry of the delivery log. Its names follow the
// rest of the API: status (not state) and type (the event's, as in the
// event envelope).
type deliveryJSON struct {
	ID                 string         `json:"id"`
	EventID            string         `json:"event_id"`
	Type               string         `json:"type"`
	LiveInputID        string         `json:"live_input_id,omitempty"`
	Status             string         `json:"status"`
	Attempts           int            `json:"attempts"`
	LastStatusCode     int            `json:"last_status_code"`
	LastLatencyMS      float64        `json:"last_latency_ms"`
	LastError          string         `json:"last_error,omitempty"`
	ResponseBodyPrefix string         `json:"response_body_prefix"`
	NextAttemptAt      *jsontime.Time `json:"next_attempt_at"`
	CreatedAt          jsontime.Time  `json:"created_at"`
	UpdatedAt          jsontime.Time  `json:"updated_at"`
}

func deliveryToJSON(d *store.WebhookDelivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.EventType, LiveInputID: d.LiveInputID, Status: d.State,
		Attempts: d.Attempts, LastStatusCode: d.LastStatus, LastLatencyMS: float64(d.LastLatency.Microseconds()) / 1000,
		LastError: d.LastError, ResponseBodyPrefix: d.ResponsePrefix, NextAttemptAt: jsontime.Ptr(d.NextAttemptAt),
		CreatedAt: jsontime.Of(d.CreatedAt), UpdatedAt: jsontime.Of(d.UpdatedAt)}
}

// webhookETag is the ETag of an endpoint: a digest of what GET shows of it
// (updated_at included, so a secret rotation changes it too).
func webhookETag(e *store.WebhookEndpoint) string { return digestETag(webhook.Endpoint(e)) }

// webhookWrite is the body of POST and PATCH (JSON merge patch: absent
// fields are kept; [] clears a filter).
type webhookWrite struct {
	URL          *string   `json:"url"`
	Description  *string   `json:"description"`
	Enabled      *bool     `json:"enabled"`
	EventTypes   *[]string `json:"event_types"`
	LiveInputIDs *[]string `json:"live_input_ids"`
}

// apply validates w and applies it to e.
func (s *Server) applyWebhook(ctx context.Context, w *webhookWrite, e *store.WebhookEndpoint) error {
	if w.URL != nil {
		if err := s.webhooks.Service.CheckURL(ctx, *w.URL); err != nil {
			return fieldErr(CodeValidation, "url", "url: "+err.Error())
		}
		e.URL = *w.URL
	}
	if w.Description != nil {
		if len(*w.Description) > maxWebhookDescription {
			return fieldErr(CodeValidation, "description", "description is longer than 1024 bytes")
		}
		e.Description = *w.Description
	}
	if w.Enabled != nil {
		if *w.Enabled && !e.Enabled {
			e.FailingSince, e.DisabledReason = nil, ""
		}
		e.Enabled = *w.Enabled
	}
	if w.EventTypes != nil {
		if err := validEventTypes(*w.EventTypes); err != nil {
			return err
		}
		e.EventTypes = slices.Clone(*w.EventTypes)
	}
	if w.LiveInputIDs != nil {
		ids := *w.LiveInputIDs
		if len(ids) > maxWebhookLiveInputs {
			return fieldErr(CodeValidation, "live_input_ids", "at most 1000 live input ids")
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !validID(id) || seen[id] {
				return fieldErr(CodeValidation, "live_input_ids", "invalid or duplicate live input id "+quote(id))
			}
			seen[id] = true
		}
		e.LiveInputIDs = slices.Clone(ids)
	}
	return nil
}

// knownEventTypes lists every event type the daemon sends: the events
// package's and webhook.test and webhook.disabled.
func knownEventTypes() []string {
	ts := make([]string, 0, 16)
	for _, t := range events.Types() {
		ts = append(ts, string(t))
	}
	return append(ts, string(webhook.TypeTest), string(webhook.TypeDisabled))
}

// validEventTypes checks an event type filter: distinct known types.
func validEventTypes(ts []string) error {
	if len(ts) > maxWebhookEventTypes {
		return fieldErr(CodeValidation, "event_types", "at most 64 event types")
	}
	known := knownEventTypes()
	seen := map[string]bool{}
	for i, t := range ts {
		field := "event_types[" + strconv.Itoa(i) + "]"
		if seen[t] {
			return fieldErr(CodeValidation, field, "duplicate event type "+quote(t))
		}
		if !slices.Contains(known, t) {
			return fieldErr(CodeValidation, field, "unknown event type "+quote(t)+"; known: "+strings.Join(known, ", "))
		}
		seen[t] = true
	}
	return nil
}

// webhooksRoutes registers the webhooks routes.
func (s *Server) webhooksRoutes(handle routeFunc) {
	const rd, wr = ScopeWebhooksRead, ScopeWebhooksWrite
	handle("GET", "/v1/webhooks", rd, s.listWebhooks)
	handle("POST", "/v1/webhooks", wr, s.withWebhooks(s.createWebhook))
	handle("GET", "/v1/webhooks/{id}", rd, s.getWebhook)
	handle("PATCH", "/v1/webhooks/{id}", wr, s.withWebhooks(s.patchWebhook))
	handle("DELETE", "/v1/webhooks/{id}", wr, s.deleteWebhook)
	handle("POST", "/v1/webhooks/{id}/rotate_secret", wr, s.rotateWebhookSecret)
	handle("POST", "/v1/webhooks/{id}/test", wr, s.withWebhooks(s.testWebhook))
	handle("GET", "/v1/webhooks/{id}/deliveries", rd, s.listDeliveries)
	handle("GET", "/v1/webhooks/{id}/deliveries/{delivery_id}", rd, s.getDelivery)
	handle("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", wr, s.withWebhooks(s.retryDelivery))
}

// withWebhooks answers 501 when the daemon runs no webhook service.
func (s *Server) withWebhooks(h op) op {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if s.webhooks.Service == nil {
			return apiErr(http.StatusNotImplemented, CodeNotSupported, "webhook delivery is not running in this daemon")
		}
		return h(w, r, p)
	}
}

func (s *Server) getWebhookEndpoint(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
	if !validID(id) {
		return nil, notFound("webhook")
	}
	e, err := s.st.Webhooks().GetEndpoint(ctx, id)
	if err != nil {
		return nil, storeErr(err, "webhook")
	}
	return e, nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req webhookWrite
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.URL == nil {
		return fieldErr(CodeValidation, "url", "url is required")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e := &store.WebhookEndpoint{ID: ids.New("whk", now), Enabled: true, Secret: NewWebhookSecret(),
		EventTypes: []string{}, LiveInputIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := s.applyWebhook(r.Context(), &req, e); err != nil {
		return err
	}
	if err := s.st.Webhooks().CreateEndpoint(r.Context(), e); err != nil {
		return storeErr(err, "webhook")
	}
	s.log.Info("webhook created", "webhook", e.ID, "token", p.tok.ID)
	w.Header().Set("Location", "/v1/webhooks/"+e.ID)
	w.Header().Set("ETag", webhookETag(e))
	writeJSON(w, http.StatusCreated, dataResponse{Data: webhookToJSON(e, true)})
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, _ *principal) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	const scope = "webhooks"
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, more, err := s.st.Webhooks().ListEndpoints(r.Context(), store.ListOptions{Limit: limit, After: after})
	if err != nil {
		return storeErr(err, "webhooks")
	}
	out := make([]webhookJSON, 0, len(rows))
	for _, e := range rows {
		out = append(out, webhookToJSON(e, false))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, _ *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", webhookETag(e))
	writeJSON(w, http.StatusOK, dataResponse{Data: webhookToJSON(e, false)})
	return nil
}

func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := checkETag(r, webhookETag(e), "webhook"); err != nil {
		return err
	}
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var req webhookWrite
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if err := s.applyWebhook(r.Context(), &req, e); err != nil {
		return err
	}
	e.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err := s.st.Webhooks().UpdateEndpoint(r.Context(), e); err != nil {
		return storeErr(err, "webhook")
	}
	s.webhooks.Service.Changed()
	s.log.Info("webhook changed", "webhook", e.ID, "token", p.tok.ID)
	w.Header().Set("ETag", webhookETag(e))
	writeJSON(w, http.StatusOK, dataResponse{Data: webhookToJSON(e, false)})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := checkETag(r, webhookETag(e), "webhook"); err != nil {
		return err
	}
	id := e.ID
	if err := s.st.Webhooks().DeleteEndpoint(r.Context(), id); err != nil {
		return storeErr(err, "webhook")
	}
	s.log.Info("webhook deleted", "webhook", id, "token", p.tok.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	exp := now.Add(SecretOverlap)
	e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &exp
	e.Secret, e.UpdatedAt = NewWebhookSecret(), now
	if err := s.st.Webhooks().UpdateEndpoint(r.Context(), e); err != nil {
		return storeErr(err, "webhook")
	}
	s.log.Info("webhook secret rotated", "webhook", e.ID, "token", p.tok.ID)
	w.Header().Set("ETag", webhookETag(e))
	writeJSON(w, http.StatusOK, dataResponse{Data: webhookToJSON(e, true)})
	return nil
}

// webhookTestJSON is the response of POST /v1/webhooks/ID/test.
type webhookTestJSON struct {
	Success    bool       `json:"success"`     // a 2xx came back
	StatusCode int        `json:"status_code"` // 0 = no response
	LatencyMS  float64    `json:"latency_ms"`
	Error      *errorBody `json:"error"` // why no response came; null when one came
}

// Codes of WebhookTest.error.
const (
	testErrTimeout    = "timeout"     // no response within webhooks.timeout
	testErrNoResponse = "no_response" // refused, unreachable, TLS or forbidden target
)

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, _ *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	status, latency, err := s.webhooks.Service.Test(r.Context(), e)
	out := webhookTestJSON{Success: err == nil && status >= 200 && status < 300, StatusCode: status,
		LatencyMS: float64(latency.Microseconds()) / 1000}
	if err != nil {
		code := testErrNoResponse
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			code = testErrTimeout
		}
		out.Error = &errorBody{Code: code, Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, _ *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	scope := "webhook_deliveries\x00" + e.ID
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, more, err := s.st.Webhooks().ListDeliveries(r.Context(), e.ID, store.ListOptions{Limit: limit, After: after})
	if err != nil {
		return storeErr(err, "deliveries")
	}
	out := make([]deliveryJSON, 0, len(rows))
	for _, d := range rows {
		out = append(out, deliveryToJSON(d))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, _ *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	did := r.PathValue("delivery_id")
	if !validID(did) {
		return notFound("delivery")
	}
	d, err := s.st.Webhooks().GetDelivery(r.Context(), e.ID, did)
	if err != nil {
		return storeErr(err, "delivery")
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: deliveryToJSON(d)})
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.getWebhookEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	did := r.PathValue("delivery_id")
	if !validID(did) {
		return notFound("delivery")
	}
	d, err := s.webhooks.Service.Retry(r.Context(), e.ID, did)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("delivery")
	}
	if err != nil {
		return storeErr(err, "delivery")
	}
	s.log.Info("webhook delivery retried", "webhook", e.ID, "delivery", did, "token", p.tok.ID)
	writeJSON(w, http.StatusAccepted, dataResponse{Data: deliveryToJSON(d)})
	return nil
}

// webhooksOperations documents the webhooks routes in the OpenAPI document.
func webhooksOperations() map[string]operation {
	idP := param("id", "path", "The webhook id.", obj{"type": "string"}, true)
	didP := param("delivery_id", "path", "The delivery id.", obj{"type": "string"}, true)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page.", obj{"type": "string"}, false)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h).", obj{"type": "string", "maxLength": 255}, false)
	wh := ref("Webhook")
	const rd, wr = ScopeWebhooksRead, ScopeWebhooksWrite
	return map[string]operation{
		"GET /v1/webhooks": {id: "listWebhooks", summary: "List webhook endpoints by id.", scope: rd,
			params: []obj{limit, cursor}, ok: 200, okSchema: listOf(wh), errs: []int{400}},
		"POST /v1/webhooks": {id: "createWebhook", summary: "Create a webhook endpoint; its signing secret (whsec_...) is in this response only. URLs resolving to private, loopback, link-local or multicast addresses are refused.", scope: wr,
			params: []obj{idem}, body: ref("WebhookWrite"), ok: 201, okSchema: dataOf(wh), errs: []int{400, 413, 415, 422, 501}},
		"GET /v1/webhooks/{id}": {id: "getWebhook", summary: "Get a webhook endpoint (without its secret).", scope: rd,
			params: []obj{idP}, ok: 200, okSchema: dataOf(wh), extraHeaders: etagHeader(), errs: []int{404}},
		"PATCH /v1/webhooks/{id}": {id: "updateWebhook", summary: "Change a webhook endpoint (JSON merge patch; [] clears a filter). enabled=true re-enables an endpoint the daemon disabled.", scope: wr,
			params: []obj{idP, ifMatchParam()}, body: ref("WebhookWrite"), ok: 200, okSchema: dataOf(wh), extraHeaders: etagHeader(), errs: []int{400, 404, 412, 413, 415, 501}},
		"DELETE /v1/webhooks/{id}": {id: "deleteWebhook", summary: "Delete a webhook endpoint and its delivery log.", scope: wr,
			params: []obj{idP, ifMatchParam()}, ok: 204, errs: []int{404, 412}},
		"POST /v1/webhooks/{id}/rotate_secret": {id: "rotateWebhookSecret", summary: "New signing secret (in this response only); the previous one keeps signing alongside it for 24 h (two signatures in webhook-signature).", scope: wr,
			params: []obj{idP, idem}, ok: 200, okSchema: dataOf(wh), errs: []int{404, 422}},
		"POST /v1/webhooks/{id}/test": {id: "testWebhook", summary: "Send a webhook.test event now; returns the receiver's status code and latency.", scope: wr,
			params: []obj{idP, idem}, ok: 200, okSchema: dataOf(ref("WebhookTest")), errs: []int{404, 422, 501}},
		"GET /v1/webhooks/{id}/deliveries": {id: "listWebhookDeliveries", summary: "The delivery log of an endpoint, newest first (kept webhooks.log_retention after the last attempt).", scope: rd,
			params: []obj{idP, limit, cursor}, ok: 200, okSchema: listOf(ref("WebhookDelivery")), errs: []int{400, 404}},
		"GET /v1/webhooks/{id}/deliveries/{delivery_id}": {id: "getWebhookDelivery", summary: "One delivery of the log.", scope: rd,
			params: []obj{idP, didP}, ok: 200, okSchema: dataOf(ref("WebhookDelivery")), errs: []int{404}},
		"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry": {id: "retryWebhookDelivery", summary: "Send a delivery again now (after the earlier pending deliveries of its live input).", scope: wr,
			params: []obj{idP, didP, idem}, ok: 202, okSchema: dataOf(ref("WebhookDelivery")), errs: []int{404, 422, 501}},
	}
}

// webhooksSchemas are the webhooks OpenAPI component schemas.
func webhooksSchemas() obj {
	strs := func(d string) obj { return obj{"type": "array", "items": obj{"type": "string"}, "description": d} }
	return obj{
		"Webhook": object(obj{
			"id": idStr("whk"), "url": str("http or https."), "description": str(""),
			"enabled":                    boolean("false: nothing is sent; deliveries wait."),
			"event_types":                obj{"type": "array", "items": obj{"type": "string", "enum": knownEventTypes()}, "description": "Filter; empty = every type."},
			"live_input_ids":             strs("Filter; empty = every live input."),
			"created_at":                 dateTime(""),
			"updated_at":                 dateTime(""),
			"failing_since":              nullDateTime("First failure of the current run of failed attempts; after 3 days the endpoint is disabled and webhook.disabled is sent to the others."),
			"disabled_reason":            str("Why the daemon disabled the endpoint."),
			"previous_secret_expires_at": dateTime("Until then the previous secret signs too."),
			"secret":                     str("whsec_...: in the creation and rotation responses only."),
		}, "id", "url", "description", "enabled", "event_types", "live_input_ids", "created_at", "updated_at"),
		"WebhookWrite": object(obj{
			"url":            str("Required at creation; http or https."),
			"description":    obj{"type": "string", "maxLength": maxWebhookDescription},
			"enabled":        obj{"type": "boolean", "default": true},
			"event_types":    obj{"type": "array", "items": obj{"type": "string", "enum": knownEventTypes()}, "maxItems": maxWebhookEventTypes},
			"live_input_ids": obj{"type": "array", "items": obj{"type": "string"}, "maxItems": maxWebhookLiveInputs},
		}),
		"WebhookTest": object(obj{
			"success": boolean("A 2xx came back."), "status_code": integer("0 = no response."),
			"latency_ms": obj{"type": "number"},
			"error": obj{"type": []string{"object", "null"}, "description": "Why no response came (code timeout or no_response); null when one came.",
				"properties": obj{"code": obj{"type": "string", "enum": []string{testErrTimeout, testErrNoResponse}}, "message": str("For people.")},
				"required":   []string{"code", "message"}, "additionalProperties": false},
		}, "success", "status_code", "latency_ms", "error"),
		"WebhookDelivery": object(obj{
			"id": idStr("whd"), "event_id": str("The webhook-id header; de-duplicate on it."), "type": obj{"type": "string", "enum": knownEventTypes(), "description": "The event's type."},
			"live_input_id": str(""),
			"status":        obj{"type": "string", "enum": []string{store.DeliveryPending, store.DeliverySucceeded, store.DeliveryFailed}},
			"attempts":      integer(""), "last_status_code": integer("0 = no response."),
			"last_latency_ms": obj{"type": "number"}, "last_error": str(""),
			"response_body_prefix": str("The first 256 bytes of the last response."),
			"next_attempt_at":      nullDateTime("Set while pending."),
			"created_at":           dateTime("The event's time."), "updated_at": dateTime(""),
		}, "id", "event_id", "type", "status", "attempts", "created_at"),
	}
}
