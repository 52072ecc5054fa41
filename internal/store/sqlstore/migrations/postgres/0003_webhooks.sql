-- 0003: webhooks (issue 7): endpoints, the event outbox and deliveries.
-- Secrets are stored in plain text (they sign every delivery; see
-- store.WebhookEndpoint).

CREATE TABLE webhook_endpoints (
	id                         text COLLATE "C" NOT NULL PRIMARY KEY,
	url                        text        NOT NULL,
	description                text        NOT NULL,
	enabled                    boolean     NOT NULL,
	event_types                jsonb       NOT NULL DEFAULT '[]',
	live_input_ids             jsonb       NOT NULL DEFAULT '[]',
	secret                     text        NOT NULL,
	previous_secret            text        NOT NULL DEFAULT '',
	previous_secret_expires_at timestamptz,
	failing_since              timestamptz,
	disabled_reason            text        NOT NULL DEFAULT '',
	created_at                 timestamptz NOT NULL,
	updated_at                 timestamptz NOT NULL
);

CREATE TABLE webhook_events (
	id            text COLLATE "C" NOT NULL PRIMARY KEY,
	type          text        NOT NULL,
	live_input_id text COLLATE "C" NOT NULL,
	created_at    timestamptz NOT NULL,
	payload       bytea       NOT NULL
);

CREATE TABLE webhook_deliveries (
	seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              text COLLATE "C" NOT NULL UNIQUE,
	endpoint_id     text COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_id        text COLLATE "C" NOT NULL REFERENCES webhook_events (id),
	event_type      text        NOT NULL,
	live_input_id   text COLLATE "C" NOT NULL,
	state           text        NOT NULL,
	attempts        integer     NOT NULL,
	last_status     integer     NOT NULL,
	last_latency_us bigint      NOT NULL,
	last_error      text        NOT NULL,
	response_prefix text        NOT NULL,
	next_attempt_at timestamptz,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (state, endpoint_id, live_input_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, seq);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (state, updated_at);
