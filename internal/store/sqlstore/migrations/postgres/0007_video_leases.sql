-- 0006: node leases of recordings (issue 8, several nodes on one database).
-- A video being recorded names the node recording it and how long that
-- node's lease runs; the node renews it while it records. Crash recovery
-- takes only recordings whose lease ran out. target_duration_us is the
-- EXT-X-TARGETDURATION of the recording's playlists, fixed when it starts
-- (0 = unknown: older rows).

ALTER TABLE videos ADD COLUMN node_id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE videos ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE videos ADD COLUMN target_duration_us bigint NOT NULL DEFAULT 0;
