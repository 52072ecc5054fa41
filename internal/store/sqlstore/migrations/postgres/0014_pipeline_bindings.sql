-- 0014: which pipeline binds each live input. The primary key makes "a
-- live input is bound by at most one pipeline" a constraint, so that two
-- concurrent applies cannot both bind it. Existing pipelines' source.live
-- nodes are bound here (the API refused duplicates when they were stored).

CREATE TABLE pipeline_bindings (
	live_input_id text COLLATE "C" NOT NULL PRIMARY KEY,
	pipeline      text COLLATE "C" NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE
);

CREATE INDEX pipeline_bindings_pipeline ON pipeline_bindings (pipeline);

INSERT INTO pipeline_bindings (live_input_id, pipeline)
SELECT n -> 'config' ->> 'live_input', p.name
FROM pipelines p, jsonb_array_elements(CASE WHEN jsonb_typeof(p.manifest::jsonb -> 'spec' -> 'nodes') = 'array'
	THEN p.manifest::jsonb -> 'spec' -> 'nodes' ELSE '[]'::jsonb END) n
WHERE n ->> 'type' = 'source.live' AND n -> 'config' ->> 'live_input' IS NOT NULL
ON CONFLICT DO NOTHING;
