-- 0004: recordings (issue 8): videos and their segment index.
-- Durations are bigint microseconds. A video outlives its live input (no
-- foreign key to live_inputs).

CREATE TABLE videos (
	id                  text COLLATE "C" NOT NULL PRIMARY KEY,
	live_input_id       text COLLATE "C" NOT NULL,
	status              text        NOT NULL,
	error_code          text        NOT NULL DEFAULT '',
	error_message       text        NOT NULL DEFAULT '',
	recovered           boolean     NOT NULL DEFAULT false,
	created_at          timestamptz NOT NULL,
	started_at          timestamptz NOT NULL,
	ended_at            timestamptz,
	duration_us         bigint      NOT NULL DEFAULT 0,
	size_bytes          bigint      NOT NULL DEFAULT 0,
	segments            bigint      NOT NULL DEFAULT 0,
	tracks              jsonb       NOT NULL DEFAULT '[]',
	meta                jsonb       NOT NULL DEFAULT '{}',
	scheduled_deletion  timestamptz,
	require_signed_urls boolean     NOT NULL DEFAULT false,
	allowed_origins     jsonb       NOT NULL DEFAULT '[]',
	thumbnail_key       text        NOT NULL DEFAULT '',
	download_status     text        NOT NULL DEFAULT 'none',
	download_key        text        NOT NULL DEFAULT '',
	updated_at          timestamptz NOT NULL
);

CREATE INDEX videos_live_input ON videos (live_input_id, id);
CREATE INDEX videos_status ON videos (status, id);
CREATE INDEX videos_scheduled_deletion ON videos (scheduled_deletion) WHERE scheduled_deletion IS NOT NULL;

CREATE TABLE video_segments (
	video_id          text COLLATE "C" NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
	seq               bigint      NOT NULL,
	-- owner_id is the video under whose prefix the blobs are: the video
	-- itself, or the source of a clip (clips share their source's files).
	owner_id          text COLLATE "C" NOT NULL,
	duration_us       bigint      NOT NULL,
	program_date_time timestamptz,
	discontinuity     boolean     NOT NULL,
	init_key          text        NOT NULL,
	key               text        NOT NULL,
	size_bytes        bigint      NOT NULL,
	PRIMARY KEY (video_id, seq)
);

CREATE INDEX video_segments_owner ON video_segments (owner_id);
