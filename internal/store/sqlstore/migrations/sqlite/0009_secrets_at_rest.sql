-- 0009: secrets at rest. Token lists show at most four characters of a
-- token: prefixes stored longer by earlier versions are cut to four. The
-- idempotency records of earlier versions may hold the secrets their
-- responses showed once (new ones never do): they are dropped.
UPDATE api_tokens SET prefix = substr(prefix, 1, 4) || '…' WHERE prefix NOT LIKE '…%';
DELETE FROM idempotency;
