-- 0010: restream outputs of live inputs. stream_key is secret (write-only
-- over the API); url may hold an SRT passphrase.

CREATE TABLE live_input_outputs (
	id              text COLLATE "C" NOT NULL PRIMARY KEY,
	live_input_id   text COLLATE "C" NOT NULL REFERENCES live_inputs (id) ON DELETE CASCADE,
	name            text        NOT NULL,
	url             text        NOT NULL,
	stream_key      text        NOT NULL,
	rendition       text        NOT NULL,
	enabled         boolean     NOT NULL,
	tls_skip_verify boolean     NOT NULL,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);

CREATE INDEX live_input_outputs_live_input ON live_input_outputs (live_input_id, id);
