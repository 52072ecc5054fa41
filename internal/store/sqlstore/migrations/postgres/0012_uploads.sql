-- 0012: uploads: videos that come from a file instead of a broadcast (a
-- tus direct upload, a plain upload or a copy from a URL), and the durable
-- queue of the jobs that process them. The video's status says where it
-- is (pendingupload, uploading, downloading, queued, inprogress, then
-- ready or errored); the row here holds the upload's limits, its
-- progress and the lease of the node processing it.

CREATE TABLE uploads (
	video_id             text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
	kind                 text        NOT NULL,
	-- SHA-256 of the secret part of a direct upload's URL (the capability)
	secret_hash          bytea       NOT NULL DEFAULT '',
	max_size_bytes       bigint      NOT NULL DEFAULT 0,
	max_duration_seconds bigint      NOT NULL DEFAULT 0,
	expires_at           timestamptz,
	-- the API token that created it (limits of unfinished uploads per token)
	token_id             text COLLATE "C" NOT NULL DEFAULT '',
	creator              text        NOT NULL DEFAULT '',
	source_url           text        NOT NULL DEFAULT '',
	name                 text        NOT NULL DEFAULT '',
	file_key             text        NOT NULL DEFAULT '',
	size_bytes           bigint      NOT NULL DEFAULT 0,
	received_bytes       bigint      NOT NULL DEFAULT 0,
	pct_complete         double precision NOT NULL DEFAULT 0,
	node_id              text COLLATE "C" NOT NULL DEFAULT '',
	lease_expires_at     timestamptz,
	attempts             bigint      NOT NULL DEFAULT 0,
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL
);

CREATE INDEX uploads_token ON uploads (token_id) WHERE token_id <> '';
CREATE INDEX uploads_expires ON uploads (expires_at) WHERE expires_at IS NOT NULL;
