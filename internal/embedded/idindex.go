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

// legacyIDIndexSuffix names the indexes earlier versions of the service added on
// `_ferretdb_sjson->'$._id'`, the expression FerretDB filters by `_id` on, because
// upstream FerretDB v1.24 built its own `_id` index on another expression, which made every
// lookup by `_id` a full table scan. The patched FerretDB this service embeds
// (third_party/ferretdb/PATCHES.md) builds (and, for old data directories, rebuilds) its
// `_id` index on that expression, so the extra index only costs every write.
const legacyIDIndexSuffix = "_psapi_id"

// DropLegacyIDIndexes drops, in the database's file, the `_id` indexes earlier versions
// added. FerretDB does not know them (its index list is in its own metadata table); a
// database without them is left as it is, so calling it again is cheap.
func (s *Store) DropLegacyIDIndexes(ctx context.Context, database string) error {
	f := filepath.Join(s.dir, database+".sqlite")
	if _, err := os.Stat(f); err != nil {
		return fmt.Errorf("embedded store: drop legacy _id indexes: database %q: %w", database, err)
	}
	return dropLegacyIDIndexes(ctx, f)
}

func dropLegacyIDIndexes(ctx context.Context, file string) (err error) {
	// The same pragmas FerretDB opens its files with; busy_timeout waits out its writers.
	u := "file:" + filepath.ToSlash(file) + "?" + url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(wal)"}}.Encode()
	db, err := sql.Open("sqlite", u)
	if err != nil {
		return fmt.Errorf("embedded store: drop legacy _id indexes: %s: %w", file, err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	names, err := legacyIDIndexes(ctx, db)
	if err != nil {
		return fmt.Errorf("embedded store: drop legacy _id indexes: %s: %w", file, err)
	}
	for _, n := range names {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP INDEX IF EXISTS %q`, n)); err != nil {
			return fmt.Errorf("embedded store: drop legacy _id index %s in %s: %w", n, filepath.Base(file), err)
		}
	}
	return nil
}

// legacyIDIndexes lists the legacy indexes of the file.
func legacyIDIndexes(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE ?`, "%"+legacyIDIndexSuffix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if strings.HasSuffix(n, legacyIDIndexSuffix) {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}
