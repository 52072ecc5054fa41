-- 0014: which pipeline binds each live input. The primary key makes "a
-- live input is bound by at most one pipeline" a constraint, so that two
-- concurrent applies cannot both bind it. Existing pipelines' source.live
-- nodes are bound here (the API refused duplicates when they were stored).

CREATE TABLE pipeline_bindings (
	live_input_id TEXT NOT NULL PRIMARY KEY,
	pipeline      TEXT NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE
) STRICT;

CREATE INDEX pipeline_bindings_pipeline ON pipeline_bindings (pipeline);

INSERT OR IGNORE INTO pipeline_bindings (live_input_id, pipeline)
SELECT json_extract(n.value, '$.config.live_input'), p.name
FROM pipelines p, json_each(p.manifest, '$.spec.nodes') n
WHERE json_valid(p.manifest) AND json_extract(n.value, '$.type') = 'source.live'
	AND json_extract(n.value, '$.config.live_input') IS NOT NULL;
