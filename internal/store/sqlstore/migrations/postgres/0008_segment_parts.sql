-- 0007: the part layout of recorded segments (issue 8: clips cut at part
-- boundaries). parts is text holding [[offset, size, duration_us,
-- independent], ...] ('' = not known: segments recorded before). A clip's
-- segment cut inside its source's blob is the byte range of range_offset
-- and size_bytes (NULL = the whole blob).

ALTER TABLE video_segments ADD COLUMN parts text NOT NULL DEFAULT '';
ALTER TABLE video_segments ADD COLUMN range_offset bigint;
