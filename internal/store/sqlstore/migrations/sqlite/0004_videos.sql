-- 0004: recordings (issue 8): videos and their segment index.
-- Durations are INTEGER microseconds; timestamps INTEGER microseconds since
-- the Unix epoch, UTC; JSON values are TEXT holding JSON. A video outlives
-- its live input (no foreign key to live_inputs).

CREATE TABLE videos (
	id                  TEXT    NOT NULL PRIMARY KEY,
	live_input_id       TEXT    NOT NULL,
	status              TEXT    NOT NULL,
	error_code          TEXT    NOT NULL DEFAULT '',
	error_message       TEXT    NOT NULL DEFAULT '',
	recovered           INTEGER NOT NULL DEFAULT 0,
	created_at          INTEGER NOT NULL,
	started_at          INTEGER NOT NULL,
	ended_at            INTEGER,
	duration_us         INTEGER NOT NULL DEFAULT 0,
	size_bytes          INTEGER NOT NULL DEFAULT 0,
	segments            INTEGER NOT NULL DEFAULT 0,
	tracks              TEXT    NOT NULL DEFAULT '[]',
	meta                TEXT    NOT NULL DEFAULT '{}',
	scheduled_deletion  INTEGER,
	require_signed_urls INTEGER NOT NULL DEFAULT 0,
	allowed_origins     TEXT    NOT NULL DEFAULT '[]',
	thumbnail_key       TEXT    NOT NULL DEFAULT '',
	download_status     TEXT    NOT NULL DEFAULT 'none',
	download_key        TEXT    NOT NULL DEFAULT '',
	updated_at          INTEGER NOT NULL
) STRICT;

CREATE INDEX videos_live_input ON videos (live_input_id, id);
CREATE INDEX videos_status ON videos (status, id);
CREATE INDEX videos_scheduled_deletion ON videos (scheduled_deletion) WHERE scheduled_deletion IS NOT NULL;

CREATE TABLE video_segments (
	video_id          TEXT    NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
	seq               INTEGER NOT NULL,
	-- owner_id is the video under whose prefix the blobs are: the video
	-- itself, or the source of a clip (clips share their source's files).
	owner_id          TEXT    NOT NULL,
	duration_us       INTEGER NOT NULL,
	program_date_time INTEGER,
	discontinuity     INTEGER NOT NULL,
	init_key          TEXT    NOT NULL,
	key               TEXT    NOT NULL,
	size_bytes        INTEGER NOT NULL,
	PRIMARY KEY (video_id, seq)
) STRICT;

CREATE INDEX video_segments_owner ON video_segments (owner_id);
