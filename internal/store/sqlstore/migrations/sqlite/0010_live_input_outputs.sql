-- 0010: restream outputs of live inputs. stream_key is secret (write-only
-- over the API); url may hold an SRT passphrase.

CREATE TABLE live_input_outputs (
	id              TEXT    NOT NULL PRIMARY KEY,
	live_input_id   TEXT    NOT NULL REFERENCES live_inputs (id) ON DELETE CASCADE,
	name            TEXT    NOT NULL,
	url             TEXT    NOT NULL,
	stream_key      TEXT    NOT NULL,
	rendition       TEXT    NOT NULL,
	enabled         INTEGER NOT NULL,
	tls_skip_verify INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX live_input_outputs_live_input ON live_input_outputs (live_input_id, id);
