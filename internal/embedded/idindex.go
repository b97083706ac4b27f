package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses ("sqlite")
)

// idExpr is the expression FerretDB v1.24's SQLite backend filters on when a find,
// update or delete names exactly one `_id` (backends/sqlite: metadata.IDColumn).
const idExpr = `_ferretdb_sjson->'$._id'`

// IndexIDs works around a FerretDB v1.24 defect that makes every lookup by `_id` a full
// table scan on SQLite. FerretDB filters on `_ferretdb_sjson->'$._id'` but creates its
// unique `_id` index on `_ferretdb_sjson->"_id"`; SQLite only uses an expression index
// for the same expression, so it never uses that one (measured: a find by `_id` took
// 0.25 ms at 10 documents and 26 ms at 10,000). For every collection of the database,
// IndexIDs adds an index on FerretDB's own filter expression, so
// that finds, updates and deletes by `_id` are index lookups.
//
// The index is plain SQLite, invisible to FerretDB (which keeps its index list in its
// own metadata table), dropped with its table, and created with IF NOT EXISTS, so
// calling IndexIDs again is cheap. Call it after the database's collections are
// created: it indexes the tables that exist when it runs.
func (s *Store) IndexIDs(ctx context.Context, database string) error {
	f := filepath.Join(s.dir, database+".sqlite")
	if _, err := os.Stat(f); err != nil {
		return fmt.Errorf("embedded store: index _id: database %q: %w", database, err)
	}
	return indexIDs(ctx, f)
}

func indexIDs(ctx context.Context, file string) (err error) {
	// The same pragmas FerretDB opens its files with; busy_timeout waits out its writers.
	u := "file:" + filepath.ToSlash(file) + "?" + url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(wal)"}}.Encode()
	db, err := sql.Open("sqlite", u)
	if err != nil {
		return fmt.Errorf("embedded store: index _id: %s: %w", file, err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	tables, err := collectionTables(ctx, db)
	if err != nil {
		return fmt.Errorf("embedded store: index _id: %s: %w", file, err)
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+"_psapi_id", t, idExpr)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("embedded store: index _id of %s in %s: %w", t, filepath.Base(file), err)
		}
	}
	return nil
}

// collectionTables lists the tables of FerretDB's collections from its metadata table.
func collectionTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil, nil // a database FerretDB has not finished creating
		}
		return nil, err
	}
	defer rows.Close()
	var ts []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}
