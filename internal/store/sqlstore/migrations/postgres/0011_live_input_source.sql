-- 0010: a live input's pull source: an RTSP URL (credentials included,
-- a secret) the daemon pulls while the input is enabled; '' = none.
-- source_transport is auto | tcp | udp.

ALTER TABLE live_inputs ADD COLUMN source_url text NOT NULL DEFAULT '';
ALTER TABLE live_inputs ADD COLUMN source_transport text NOT NULL DEFAULT '';
ALTER TABLE live_inputs ADD COLUMN source_on_demand boolean NOT NULL DEFAULT false;
