-- 0002: signed playback (issue 6): signing keys (public halves only) and
-- named secrets (the server's minting key, the admission hook secret).

CREATE TABLE signing_keys (
	id         TEXT    NOT NULL PRIMARY KEY,
	algorithm  TEXT    NOT NULL,
	public_key BLOB    NOT NULL,
	generated  INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;

CREATE TABLE playback_secrets (
	name       TEXT    NOT NULL PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
