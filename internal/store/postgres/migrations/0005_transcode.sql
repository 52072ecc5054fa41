-- transcoding (issue 9): placeholder, the feature replaces it.
SELECT 1;
