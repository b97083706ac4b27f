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
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// topLevelField is a field name the ORDER BY below may name inside a JSON path unquoted.
var topLevelField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// orderRanks are the sjson types SQLite orders as MongoDB does, ranked in MongoDB's order
// of types (null, numbers, strings, ObjectIDs, booleans, dates): within a rank, the value
// `->>` extracts compares alike in both (32- and 64-bit integers and dates as SQL
// integers, strings and ObjectIDs' hex as text in byte order, booleans as 0 and 1). Every
// other type is flagged: such rows come first, and the handler sorts in Go when it meets
// one. Doubles are among them: SQLite's JSON parser does not always read a double's
// decimal text as the very float64 Go wrote (1.152921504606847e+18 is 2^60 in Go, less in
// SQLite), so a double and an integer could swap. So are arrays (MongoDB orders them by
// their least or greatest element), documents, binary data, timestamps and regular
// expressions.
var orderRanks = []struct {
	typ  string
	rank int
}{
	{"null", 1}, {"int", 2}, {"long", 2}, {"string", 3},
	{"objectId", 7}, {"bool", 8}, {"date", 9},
}

// prepareSortClause returns an ORDER BY for the find's sort (backends.QueryParams.OrderBy),
// or "" when it cannot order by it: a key that is not a top-level field, or a direction
// that is not 1 or -1.
func prepareSortClause(sort *types.Document) string {
	if sort.Len() == 0 {
		return ""
	}

	var flags, keys []string

	for _, k := range sort.Keys() {
		if !topLevelField.MatchString(k) {
			return ""
		}

		dir := ""

		switch v := must.NotFail(sort.Get(k)).(type) {
		case int32:
			if v == -1 {
				dir = " DESC"
			} else if v != 1 {
				return ""
			}
		case int64:
			if v == -1 {
				dir = " DESC"
			} else if v != 1 {
				return ""
			}
		case float64:
			if v == -1 {
				dir = " DESC"
			} else if v != 1 {
				return ""
			}
		default:
			return ""
		}

		typ := fmt.Sprintf(`%s->>'$."$s".p.%s.t'`, metadata.DefaultColumn, k)
		known := make([]string, len(orderRanks))
		rank := "CASE " + typ

		for i, r := range orderRanks {
			known[i] = "'" + r.typ + "'"
			rank += fmt.Sprintf(" WHEN '%s' THEN %d", r.typ, r.rank)
		}

		rank += " ELSE 1 END" // a missing field sorts as null

		flags = append(flags, fmt.Sprintf("COALESCE(%s NOT IN (%s), 0)", typ, strings.Join(known, ", ")))
		keys = append(keys, rank+dir, fmt.Sprintf("%s->>'$.%s'%s", metadata.DefaultColumn, k, dir))
	}

	flag := flags[0]
	if len(flags) > 1 {
		flag = "max(" + strings.Join(flags, ", ") + ")"
	}

	return " ORDER BY " + flag + " DESC, " + strings.Join(keys, ", ")
}
