-- signed playback (issue 6): placeholder, the feature replaces it.
SELECT 1;
