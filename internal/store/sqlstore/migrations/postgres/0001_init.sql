-- 0001: live inputs, API tokens, idempotency records.
-- Ids use the "C" collation so that ORDER BY id and id > $after compare
-- bytes, as SQLite does, whatever the database's locale.

CREATE TABLE live_inputs (
	id                          text COLLATE "C" NOT NULL PRIMARY KEY,
	name                        text        NOT NULL,
	-- name_fold is strings.ToLower(name), written by the store: the
	-- case-insensitive name filter matches on it, identically on both stores.
	name_fold                   text        NOT NULL,
	meta                        jsonb       NOT NULL DEFAULT '{}',
	enabled                     boolean     NOT NULL,
	stream_key                  text        NOT NULL,
	stream_key_hash             bytea,
	srt_passphrase              text        NOT NULL,
	reconnect_window_seconds    integer     NOT NULL,
	recording_mode              text        NOT NULL,
	recording_delete_after_days integer     NOT NULL,
	require_signed_urls         boolean     NOT NULL,
	allowed_origins             jsonb       NOT NULL DEFAULT '[]',
	static                      boolean     NOT NULL,
	version                     bigint      NOT NULL,
	created_at                  timestamptz NOT NULL,
	updated_at                  timestamptz NOT NULL,
	keys_rotated_at             timestamptz,
	last_connected_at           timestamptz
);

CREATE UNIQUE INDEX live_inputs_stream_key_hash ON live_inputs (stream_key_hash);

CREATE TABLE api_tokens (
	id           text COLLATE "C" NOT NULL PRIMARY KEY,
	name         text        NOT NULL,
	prefix       text        NOT NULL,
	hash         bytea       NOT NULL,
	scopes       jsonb       NOT NULL DEFAULT '[]',
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz,
	revoked_at   timestamptz
);

CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);

CREATE TABLE idempotency (
	scope      text        NOT NULL,
	key        text        NOT NULL,
	body_hash  bytea       NOT NULL,
	status     integer     NOT NULL,
	body       bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_created_at ON idempotency (created_at);
