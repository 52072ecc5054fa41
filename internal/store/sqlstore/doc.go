// Package sqlstore is the one SQL implementation of store.Store, over
// database/sql, for both databases MpegFlow runs on: SQLite (embedded, the
// default: OpenSQLite, through modernc.org/sqlite) and PostgreSQL (several
// nodes: OpenPostgres, through pgx's database/sql driver).
//
// Every query is written once, with ? placeholders and portable SQL
// (RETURNING, ON CONFLICT, TRUE/FALSE, IN lists). A small dialect carries
// what differs between the two:
//
//   - placeholders: ? stays on SQLite, becomes $1, $2, ... on PostgreSQL
//     (outside quoted literals; the rewrite is cached per query text);
//   - time encoding: a time.Time (or *time.Time, nil = NULL) argument is
//     written as INTEGER microseconds since the Unix epoch on SQLite and as
//     timestamptz truncated to the microsecond on PostgreSQL; scanning into a
//     *time.Time or **time.Time accepts either and returns UTC;
//   - error mapping: a unique or primary key violation (SQLite constraint
//     codes, PostgreSQL SQLSTATE 23505) becomes store.ErrConflict, no rows
//     store.ErrNotFound, with the driver error kept in the chain;
//   - row locking: SQLite writes go through one connection and begin
//     IMMEDIATE (the database's single write lock is held for the whole
//     transaction); PostgreSQL locks the rows a claim reads with FOR UPDATE
//     SKIP LOCKED, so that nodes sharing the database claim disjoint rows;
//   - migrations: each backend keeps its own files (migrations/sqlite,
//     migrations/postgres: column types differ), applied in one transaction
//     that SQLite's write lock or a PostgreSQL advisory lock serialises.
//
// # Adding a table
//
// Write one migration per backend with the next number,
// migrations/sqlite/NNNN_name.sql (STRICT table, INTEGER microseconds for
// times, INTEGER 0/1 for booleans, TEXT for JSON) and
// migrations/postgres/NNNN_name.sql (timestamptz, boolean, jsonb, ids
// COLLATE "C" so that they order as bytes as on SQLite). Then write one Go
// file of queries, name.go: a repository type holding the *DB, its scan
// function and its methods, running statements on db.w (writes), db.r
// (reads) or the runner of db.inTx (a write transaction), and wrapping
// errors with db.errorf. Pass times as time.Time and scan them into
// time.Time fields: the dialect converts both ways. Add the repository's
// accessor to store.Store and its cases to storetest, which runs against
// both backends.
package sqlstore
