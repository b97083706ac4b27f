// Copyright 2021 FerretDB Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package metadata

// This file is not part of upstream FerretDB v1.24.2; see PATCHES.md at the module's root.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// simplePath matches a dotted path whose every part is a plain identifier, which can be
// written inside a JSON path literal without quoting.
var simplePath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// FieldExpr returns the SQL expression that an index on field is built on, and that a
// pushed-down filter on field must use for SQLite to serve it from that index (SQLite uses
// an expression index only for the very same expression).
//
// `_id` is IDColumn (its JSON text, the expression upstream filters, updates and deletes
// by `_id` on). Any other field whose path parts are plain identifiers is its SQL value,
// `->>`: strings as text, numbers (and dates, stored as milliseconds) as numbers, so that
// ranges compare numerically, booleans as 1 and 0, null as NULL, arrays and documents as
// their JSON text. Other paths keep upstream's expression; nothing is pushed down on them.
//
// The boolean result reports whether field has a pushdown expression.
func FieldExpr(field string) (string, bool) {
	if field == "_id" {
		return IDColumn, true
	}

	if simplePath.MatchString(field) {
		return fmt.Sprintf("%s->>'$.%s'", DefaultColumn, field), true
	}

	parts := strings.Split(field, ".")
	for i, f := range parts {
		parts[i] = fmt.Sprintf("%q", f)
	}

	return fmt.Sprintf("%s->%s", DefaultColumn, strings.Join(parts, "->")), false
}

// createIndexQuery returns the statement that creates index on table.
func createIndexQuery(table string, index IndexInfo) string {
	q := "CREATE "

	if index.Unique {
		q += "UNIQUE "
	}

	columns := make([]string, len(index.Key))
	for i, key := range index.Key {
		columns[i], _ = FieldExpr(key.Field)
		if key.Descending {
			columns[i] += " DESC"
		}
	}

	return q + fmt.Sprintf("INDEX %q ON %q (%s)", table+"_"+index.Name, table, strings.Join(columns, ", "))
}

// upgradeIndexes rebuilds every index of colls whose SQL differs from what
// createIndexQuery makes now: an index created by upstream FerretDB (on expressions no
// filter uses) becomes one that serves reads. Each rebuild drops and creates in one
// transaction, so a failure leaves the old index in place.
func upgradeIndexes(ctx context.Context, db *fsql.DB, colls map[string]*Collection) error {
	for _, c := range colls {
		for _, index := range c.Settings.Indexes {
			name := c.TableName + "_" + index.Name
			want := createIndexQuery(c.TableName, index)

			var have string
			err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&have)

			switch {
			case errors.Is(err, sql.ErrNoRows):
				// the metadata names an index SQLite does not have: create it
			case err != nil:
				return lazyerrors.Error(err)
			case have == want:
				continue
			}

			err = db.InTransaction(ctx, func(tx *fsql.Tx) error {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf("DROP INDEX IF EXISTS %q", name)); err != nil {
					return err
				}

				_, err := tx.ExecContext(ctx, want)

				return err
			})
			if err != nil {
				return lazyerrors.Errorf("rebuilding index %s: %w", name, err)
			}
		}
	}

	return nil
}
