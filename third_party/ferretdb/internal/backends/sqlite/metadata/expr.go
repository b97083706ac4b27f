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
	"math"
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
// by `_id` on, and its own index's). Any other field whose path parts are plain
// identifiers is its SortExpr. Other paths keep upstream's expression; nothing is pushed
// down on them.
//
// The boolean result reports whether field has a pushdown expression.
func FieldExpr(field string) (string, bool) {
	if field == "_id" {
		return IDColumn, true
	}

	if simplePath.MatchString(field) {
		return SortExpr(field), true
	}

	parts := strings.Split(field, ".")
	for i, f := range parts {
		parts[i] = fmt.Sprintf("%q", f)
	}

	return fmt.Sprintf("%s->%s", DefaultColumn, strings.Join(parts, "->")), false
}

// Sort values: the SQL value SortExpr gives each BSON type. SQLite orders NULL before
// numbers, numbers before text and text before blobs, and blobs byte by byte; MongoDB
// orders null (and missing fields) before numbers, strings, ObjectIDs, booleans and dates.
// So null is the smallest number (-Inf), integers are themselves, strings their text, and
// ObjectIDs, booleans and dates blobs that start with a letter in that order.
const (
	// SortNull is a null or missing field.
	SortNull = "-9e999"

	// SortObjectIDPrefix, then the ObjectID's 24 lowercase hex digits.
	SortObjectIDPrefix = "o"

	// SortBoolPrefix, then "0" or "1".
	SortBoolPrefix = "p"

	// SortDatePrefix, then "0" and 19 digits of the milliseconds plus MaxInt64 for a date
	// before 1970, "1" and 19 digits of the milliseconds from 1970 on.
	SortDatePrefix = "q"
)

// SortExpr returns a SQL expression of a top-level field (a plain identifier, simplePath
// without dots) whose value orders as MongoDB orders the field's values, and compares
// equal exactly when they do, for nulls, missing fields, 32- and 64-bit integers, strings,
// ObjectIDs, booleans and dates (see the Sort constants). It is NULL for every other type:
// doubles (SQLite's JSON parser does not always read a double's decimal text as the very
// float64 Go wrote), arrays (MongoDB compares their elements), documents, binary data,
// timestamps and regular expressions. Indexes on non-`_id` fields are built on it, so that
// one index serves equality, ranges and the order of a sort.
func SortExpr(field string) string {
	v := fmt.Sprintf("(%s->>'$.%s')", DefaultColumn, field)
	t := fmt.Sprintf(`%s->>'$."$s".p.%s.t'`, DefaultColumn, field)

	return fmt.Sprintf(`(CASE coalesce(%[2]s, 'null')`+
		` WHEN 'null' THEN %[3]s WHEN 'int' THEN %[1]s WHEN 'long' THEN %[1]s WHEN 'string' THEN %[1]s`+
		` WHEN 'objectId' THEN CAST('%[4]s' || %[1]s AS BLOB) WHEN 'bool' THEN CAST('%[5]s' || %[1]s AS BLOB)`+
		` WHEN 'date' THEN CAST(iif(%[1]s >= 0, '%[6]s1' || substr('000000000000000000' || %[1]s, -19),`+
		` '%[6]s0' || substr('000000000000000000' || (%[1]s + 9223372036854775807), -19)) AS BLOB) END)`,
		v, t, SortNull, SortObjectIDPrefix, SortBoolPrefix, SortDatePrefix)
}

// SortDate returns SortExpr's value of a date of ms milliseconds since the epoch, for
// every ms but math.MinInt64.
func SortDate(ms int64) ([]byte, bool) {
	switch {
	case ms >= 0:
		return []byte(fmt.Sprintf("%s1%019d", SortDatePrefix, ms)), true
	case ms > math.MinInt64:
		return []byte(fmt.Sprintf("%s0%019d", SortDatePrefix, ms+math.MaxInt64)), true
	default:
		return nil, false
	}
}

// createIndexQuery returns the statement that creates index on table: the `_id` index
// on IDColumn, every other on the SortExpr of its fields (`_id` included).
func createIndexQuery(table string, index IndexInfo) string {
	q := "CREATE "

	if index.Unique {
		q += "UNIQUE "
	}

	columns := make([]string, len(index.Key))
	for i, key := range index.Key {
		columns[i], _ = FieldExpr(key.Field)
		if key.Field == "_id" && len(index.Key) > 1 {
			columns[i] = SortExpr(key.Field)
		}

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
