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

package sqlite

// This file is not part of upstream FerretDB v1.24.2; see PATCHES.md at the module's root.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// topLevelField is a field name the ORDER BY below may name inside a JSON path unquoted.
var topLevelField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// sortKeyColumn names the sort key in the ordered arms of prepareOrderedQuery.
const sortKeyColumn = "_ferretdb_sort_key"

// prepareOrderedQuery returns a query of the rows arms select (all rows for no arm), in the
// order of the find's sort (backends.QueryParams.OrderBy) on its first key, and its
// arguments; or false when it cannot order by it: a first key that is not a top-level
// field, or a direction that is not 1 or -1.
//
// It orders by metadata.SortExpr of the first key, which orders nulls, missing fields,
// integers, strings, ObjectIDs, booleans and dates as MongoDB does, and is NULL for every
// other type. The rows whose key is NULL come first, in no order; then the others, in
// order. The handler (common.PresortedIterator) sorts everything in Go when the first row
// is of the former, sorts the rows of equal first keys by the other keys, and reads no
// more than it returns. The query is
//
//	SELECT cols FROM t WHERE arm_1 AND key IS NULL UNION ALL ... UNION ALL
//	SELECT cols FROM (SELECT cols, key FROM t WHERE arm_1 AND key IS NOT NULL UNION ALL ...
//	                  ORDER BY key)
//
// SQLite runs a UNION ALL without ORDER BY arm after arm, and one with ORDER BY as a merge
// of its arms, each read in order from an index whose column after the arm's equalities
// is the key (metadata.SortExpr is what indexes are built on): so rows come as they are
// found, without a sort, and the arms, being disjoint (disjunction), never give a row twice.
func prepareOrderedQuery(table, comment string, capped, onlyRecordIDs bool, arms []arm, sort *types.Document) (string, []any, bool) {
	if sort.Len() == 0 {
		return "", nil, false
	}

	var dir string

	for i, k := range sort.Keys() {
		if !topLevelField.MatchString(k) && i == 0 {
			return "", nil, false
		}

		var d int64

		switch v := must.NotFail(sort.Get(k)).(type) {
		case int32:
			d = int64(v)
		case int64:
			d = v
		case float64:
			d = int64(v)
			if float64(d) != v {
				return "", nil, false
			}
		default:
			return "", nil, false
		}

		switch {
		case d != 1 && d != -1:
			return "", nil, false
		case i == 0 && d == -1:
			dir = " DESC"
		}
	}

	if len(arms) == 0 {
		arms = []arm{{}}
	}

	key := metadata.SortExpr(sort.Keys()[0])
	cols := prepareSelectColumns(capped, onlyRecordIDs)

	var parts, ordered []string
	var args, orderedArgs []any

	for _, a := range arms {
		sel := fmt.Sprintf(`SELECT %s FROM %q`, cols, table)
		if len(parts) == 0 && comment != "" {
			sel = prepareSelectClause(table, comment, capped, onlyRecordIDs)
		}

		parts = append(parts, sel+" WHERE "+strings.Join(append(slices.Clone(a.terms), key+" IS NULL"), " AND "))
		args = append(args, a.args...)

		if slices.Contains(a.terms, arrayTerm(key)) {
			continue // no row of this arm has an orderable key
		}

		ordered = append(ordered, fmt.Sprintf(`SELECT %s, %s AS %s FROM %q WHERE %s`, cols, key, sortKeyColumn, table,
			strings.Join(append(slices.Clone(a.terms), key+" IS NOT NULL"), " AND ")))
		orderedArgs = append(orderedArgs, a.args...)
	}

	if len(ordered) > 0 {
		parts = append(parts, fmt.Sprintf(`SELECT %s FROM (%s ORDER BY %s%s)`, cols, strings.Join(ordered, " UNION ALL "), sortKeyColumn, dir))
		args = append(args, orderedArgs...)
	}

	return strings.Join(parts, " UNION ALL "), args, true
}
