-- 0002: signed playback (issue 6): signing keys (public halves only) and
-- named secrets (the server's minting key, the admission hook secret).

CREATE TABLE signing_keys (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	algorithm  text        NOT NULL,
	public_key bytea       NOT NULL,
	generated  boolean     NOT NULL,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);

CREATE TABLE playback_secrets (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	value      bytea       NOT NULL,
	created_at timestamptz NOT NULL
);
