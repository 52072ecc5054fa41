-- 0012: uploads: videos that come from a file instead of a broadcast (a
-- tus direct upload, a plain upload or a copy from a URL), and the durable
-- queue of the jobs that process them. The video's status says where it
-- is (pendingupload, uploading, downloading, queued, inprogress, then
-- ready or errored); the row here holds the upload's limits, its
-- progress and the lease of the node processing it. Timestamps INTEGER
-- microseconds since the Unix epoch, UTC.

CREATE TABLE uploads (
	video_id             TEXT    NOT NULL PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
	kind                 TEXT    NOT NULL,
	-- SHA-256 of the secret part of a direct upload's URL (the capability)
	secret_hash          BLOB    NOT NULL DEFAULT X'',
	max_size_bytes       INTEGER NOT NULL DEFAULT 0,
	max_duration_seconds INTEGER NOT NULL DEFAULT 0,
	expires_at           INTEGER,
	-- the API token that created it (limits of unfinished uploads per token)
	token_id             TEXT    NOT NULL DEFAULT '',
	creator              TEXT    NOT NULL DEFAULT '',
	source_url           TEXT    NOT NULL DEFAULT '',
	name                 TEXT    NOT NULL DEFAULT '',
	file_key             TEXT    NOT NULL DEFAULT '',
	size_bytes           INTEGER NOT NULL DEFAULT 0,
	received_bytes       INTEGER NOT NULL DEFAULT 0,
	pct_complete         REAL    NOT NULL DEFAULT 0,
	node_id              TEXT    NOT NULL DEFAULT '',
	lease_expires_at     INTEGER,
	attempts             INTEGER NOT NULL DEFAULT 0,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
) STRICT;

CREATE INDEX uploads_token ON uploads (token_id) WHERE token_id <> '';
CREATE INDEX uploads_expires ON uploads (expires_at) WHERE expires_at IS NOT NULL;
