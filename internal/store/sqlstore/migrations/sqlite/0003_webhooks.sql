-- 0003: webhooks (issue 7): endpoints, the event outbox and deliveries.
-- Secrets are stored in plain text (they sign every delivery; see
-- store.WebhookEndpoint). Timestamps are INTEGER microseconds, UTC.

CREATE TABLE webhook_endpoints (
	id                         TEXT    NOT NULL PRIMARY KEY,
	url                        TEXT    NOT NULL,
	description                TEXT    NOT NULL,
	enabled                    INTEGER NOT NULL,
	event_types                TEXT    NOT NULL DEFAULT '[]',
	live_input_ids             TEXT    NOT NULL DEFAULT '[]',
	secret                     TEXT    NOT NULL,
	previous_secret            TEXT    NOT NULL DEFAULT '',
	previous_secret_expires_at INTEGER,
	failing_since              INTEGER,
	disabled_reason            TEXT    NOT NULL DEFAULT '',
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_events (
	id            TEXT    NOT NULL PRIMARY KEY,
	type          TEXT    NOT NULL,
	live_input_id TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	payload       BLOB    NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT    NOT NULL UNIQUE,
	endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_id        TEXT    NOT NULL REFERENCES webhook_events (id),
	event_type      TEXT    NOT NULL,
	live_input_id   TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	last_status     INTEGER NOT NULL,
	last_latency_us INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	response_prefix TEXT    NOT NULL,
	next_attempt_at INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);

CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (state, endpoint_id, live_input_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, seq);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (state, updated_at);
