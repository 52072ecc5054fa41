-- webhooks (issue 7): placeholder, the feature replaces it.
SELECT 1;
