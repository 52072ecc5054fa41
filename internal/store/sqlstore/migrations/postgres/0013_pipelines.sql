-- 0013: pipeline manifests and every generation of each (revisions).

CREATE TABLE pipelines (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	generation bigint      NOT NULL,
	manifest   text        NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE pipeline_revisions (
	name       text COLLATE "C" NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
	generation bigint      NOT NULL,
	manifest   text        NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (name, generation)
);
