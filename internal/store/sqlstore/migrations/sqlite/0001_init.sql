-- 0001: live inputs, API tokens, idempotency records.
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC.
-- JSON values (meta, allowed_origins, scopes) are TEXT holding JSON.

CREATE TABLE live_inputs (
	id                          TEXT    NOT NULL PRIMARY KEY,
	name                        TEXT    NOT NULL,
	-- name_fold is strings.ToLower(name), written by the store: the
	-- case-insensitive name filter matches on it (SQLite's LIKE folds
	-- ASCII only).
	name_fold                   TEXT    NOT NULL,
	meta                        TEXT    NOT NULL DEFAULT '{}',
	enabled                     INTEGER NOT NULL,
	stream_key                  TEXT    NOT NULL,
	stream_key_hash             BLOB,
	srt_passphrase              TEXT    NOT NULL,
	reconnect_window_seconds    INTEGER NOT NULL,
	recording_mode              TEXT    NOT NULL,
	recording_delete_after_days INTEGER NOT NULL,
	require_signed_urls         INTEGER NOT NULL,
	allowed_origins             TEXT    NOT NULL DEFAULT '[]',
	static                      INTEGER NOT NULL,
	version                     INTEGER NOT NULL,
	created_at                  INTEGER NOT NULL,
	updated_at                  INTEGER NOT NULL,
	keys_rotated_at             INTEGER,
	last_connected_at           INTEGER
) STRICT;

CREATE UNIQUE INDEX live_inputs_stream_key_hash ON live_inputs (stream_key_hash);

CREATE TABLE api_tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	name         TEXT    NOT NULL,
	prefix       TEXT    NOT NULL,
	hash         BLOB    NOT NULL,
	scopes       TEXT    NOT NULL DEFAULT '[]',
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
) STRICT;

CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);

CREATE TABLE idempotency (
	scope      TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	body_hash  BLOB    NOT NULL,
	status     INTEGER NOT NULL,
	body       BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_created_at ON idempotency (created_at);
