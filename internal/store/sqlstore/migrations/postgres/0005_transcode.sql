-- 0005: transcoding (issue 9): a live input's transcode setting.
-- transcode_mode is off | on; transcode_ladder a JSON array of profile
-- names (transcode.profiles).

ALTER TABLE live_inputs ADD COLUMN transcode_mode text NOT NULL DEFAULT 'off';
ALTER TABLE live_inputs ADD COLUMN transcode_ladder jsonb NOT NULL DEFAULT '[]';
