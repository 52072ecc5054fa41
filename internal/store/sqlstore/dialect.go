package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// dialect is what differs between the databases; everything else is the
// same SQL (see the package documentation).
type dialect interface {
	// name is the backend's name, the prefix of its errors.
	name() string
	// rebind rewrites the ? placeholders of q for the driver.
	rebind(q string) string
	// encodeTime is the argument a time.Time is written as.
	encodeTime(t time.Time) any
	// isUniqueViolation reports whether err is a unique or primary key
	// violation.
	isUniqueViolation(err error) bool
	// skipLocked is the clause that ends a SELECT whose rows a transaction
	// is about to claim, locking the rows of table alias and skipping those
	// another transaction holds; "" where the transaction's own lock
	// already excludes other writers.
	skipLocked(alias string) string
	// schemaVersionDDL creates the schema_version table when absent.
	schemaVersionDDL() string
	// lockMigrations serialises the migration transaction tx against other
	// processes migrating the same database.
	lockMigrations(ctx context.Context, tx *sql.Tx) error
}

// mapErr turns driver errors into the store sentinels: a unique or primary
// key violation into store.ErrConflict, no rows into store.ErrNotFound. The
// driver error stays in the chain of a conflict.
func mapErr(d dialect, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case d.isUniqueViolation(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// numbered rewrites each ? of q outside quoted literals and identifiers
// into $1, $2, ... (PostgreSQL's placeholders).
func numbered(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sqlConn is what a runner runs statements on: *sql.DB or *sql.Tx.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runner runs statements written with ? placeholders and time.Time
// arguments on c, through the dialect d: it rewrites the placeholders,
// encodes the times, decodes times into *time.Time and **time.Time scan
// destinations and maps the errors (mapErr).
type runner struct {
	c sqlConn
	d dialect
}

// ExecContext runs a statement that returns no rows.
func (r runner) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := r.c.ExecContext(ctx, r.d.rebind(q), r.args(args)...)
	return res, mapErr(r.d, err)
}

// QueryContext runs a statement that returns rows.
func (r runner) QueryContext(ctx context.Context, q string, args ...any) (*rows, error) {
	rs, err := r.c.QueryContext(ctx, r.d.rebind(q), r.args(args)...)
	if err != nil {
		return nil, mapErr(r.d, err)
	}
	return &rows{Rows: rs, d: r.d}, nil
}

// QueryRowContext runs a statement that returns at most one row.
func (r runner) QueryRowContext(ctx context.Context, q string, args ...any) *row {
	return &row{r: r.c.QueryRowContext(ctx, r.d.rebind(q), r.args(args)...), d: r.d}
}

// args returns args with its time.Time and *time.Time values encoded (a
// copy when there are any: the caller's slice is left as it was).
func (r runner) args(args []any) []any {
	copied := false
	for i, a := range args {
		var enc any
		switch v := a.(type) {
		case time.Time:
			enc = r.d.encodeTime(v)
		case *time.Time:
			if v != nil {
				enc = r.d.encodeTime(*v)
			}
		default:
			continue
		}
		if !copied {
			args, copied = append([]any(nil), args...), true
		}
		args[i] = enc
	}
	return args
}

// rowScanner is what *row and *rows have in common.
type rowScanner interface{ Scan(dest ...any) error }

// row is a *sql.Row read through the dialect.
type row struct {
	r *sql.Row
	d dialect
}

// Scan copies the row's columns into dest; store.ErrNotFound when there is
// no row.
func (r *row) Scan(dest ...any) error { return mapErr(r.d, r.r.Scan(scanDests(dest)...)) }

// rows is a *sql.Rows read through the dialect.
type rows struct {
	*sql.Rows
	d dialect
}

// Scan copies the current row's columns into dest.
func (r *rows) Scan(dest ...any) error { return mapErr(r.d, r.Rows.Scan(scanDests(dest)...)) }

// scanDests replaces, in place, the *time.Time and **time.Time
// destinations of dest with scanners that decode either encoding.
func scanDests(dest []any) []any {
	for i, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			dest[i] = timeScanner{p: p}
		case **time.Time:
			dest[i] = nullTimeScanner{p: p}
		}
	}
	return dest
}

// timeScanner decodes a time column: INTEGER microseconds since the Unix
// epoch (SQLite) or a timestamp (PostgreSQL), into UTC.
type timeScanner struct{ p *time.Time }

// Scan implements sql.Scanner; NULL is an error.
func (s timeScanner) Scan(src any) error {
	t, ok, err := decodeTime(src)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("NULL in a time column that is not nullable")
	}
	*s.p = t
	return nil
}

// nullTimeScanner is timeScanner of a nullable column: NULL is nil.
type nullTimeScanner struct{ p **time.Time }

// Scan implements sql.Scanner.
func (s nullTimeScanner) Scan(src any) error {
	t, ok, err := decodeTime(src)
	if err != nil {
		return err
	}
	if !ok {
		*s.p = nil
		return nil
	}
	*s.p = &t
	return nil
}

// decodeTime decodes a time column's value; ok is false for NULL.
func decodeTime(src any) (t time.Time, ok bool, err error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case int64:
		return time.UnixMicro(v).UTC(), true, nil
	case time.Time:
		return v.UTC(), true, nil
	}
	return time.Time{}, false, fmt.Errorf("time column holds %T", src)
}
