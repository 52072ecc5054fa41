-- 0013: pipeline manifests and every generation of each (revisions).

CREATE TABLE pipelines (
	name       TEXT    NOT NULL PRIMARY KEY,
	generation INTEGER NOT NULL,
	manifest   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE pipeline_revisions (
	name       TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
	generation INTEGER NOT NULL,
	manifest   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (name, generation)
) STRICT;
