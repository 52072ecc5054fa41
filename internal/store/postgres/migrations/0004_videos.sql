-- recording and videos (issue 8): placeholder, the feature replaces it.
SELECT 1;
