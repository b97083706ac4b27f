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
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// prepareGroupCountQuery returns the query of a Query with GroupCount (patched,
// PATCHES.md), when filter is one SQLite can apply exactly: equalities of top-level
// fields (plain identifiers, not `_id`) with strings. One statement, so one snapshot:
//
//	SELECT 1, NULL, NULL, doc FROM t WHERE <filter's arms> AND NOT <exact>
//	UNION ALL
//	SELECT 2, SortExpr(group), COUNT(*), NULL FROM t WHERE <exact> GROUP BY 2
//
// where exact is SortExpr(f) = v for each field of filter, and typeof(SortExpr(group)) =
// 'text'. SortExpr(f) = v holds exactly when f is the string v (SortExpr is text for
// strings only, and NULL for arrays, which MongoDB also matches by an element), and the
// group's SortExpr is text exactly when its value is a string, the text itself. So the
// second part counts, without decoding one document, exactly the documents that match and
// whose group value is a string; the first returns every other document the filter may
// match, for the handler to filter and group as before. The arms are the filter's index
// searches (filterArms), so both parts read one tenant's index range, not the table.
func prepareGroupCountQuery(meta *metadata.Collection, filter *types.Document, group, comment string) (string, []any, bool) {
	if meta.Capped() || filter.Len() == 0 || group == "_id" || strings.Contains(group, ".") {
		return "", nil, false
	}

	if _, ok := metadata.FieldExpr(group); !ok {
		return "", nil, false
	}

	seen := make(map[string]bool, filter.Len())
	exact := make([]string, 0, filter.Len()+1)
	var exactArgs []any

	for _, k := range filter.Keys() {
		v, _ := filter.Get(k)

		s, ok := v.(string)
		if !ok || !plainString(s) || seen[k] || k == "_id" || strings.HasPrefix(k, "$") || strings.Contains(k, ".") {
			return "", nil, false
		}

		if _, ok = metadata.FieldExpr(k); !ok {
			return "", nil, false
		}

		seen[k] = true
		exact = append(exact, metadata.SortExpr(k)+" = ?")
		exactArgs = append(exactArgs, s)
	}

	g := metadata.SortExpr(group)
	exact = append(exact, "typeof("+g+") = 'text'")
	exactTerm := "(" + strings.Join(exact, " AND ") + ")"

	arms := filterArms(filter, meta.Settings.Indexes)
	if len(arms) == 0 {
		return "", nil, false
	}

	for i := range arms {
		arms[i].terms = append(arms[i].terms, "NOT coalesce("+exactTerm+", 0)")
		arms[i].args = append(arms[i].args, exactArgs...)
	}

	where, args := whereClause(arms)

	if comment != "" {
		comment = strings.ReplaceAll(comment, "/*", "/ *")
		comment = strings.ReplaceAll(comment, "*/", "* /")
		comment = `/* ` + comment + ` */`
	}

	q := fmt.Sprintf(`SELECT %[1]s 1, NULL, NULL, %[2]s FROM %[3]q%[4]s`+
		` UNION ALL SELECT 2, %[5]s, COUNT(*), NULL FROM %[3]q WHERE %[6]s GROUP BY 2`,
		comment, metadata.DefaultColumn, meta.TableName, where, g, exactTerm)

	return q, append(args, exactArgs...), true
}

// groupCountIterator returns the documents of a group-count query's first part and adds
// its second part's rows to counts.
type groupCountIterator struct {
	ctx    context.Context
	m      sync.Mutex
	rows   *fsql.Rows
	counts map[string]int64
}

// Next implements iterator.Interface.
func (iter *groupCountIterator) Next() (struct{}, *types.Document, error) {
	iter.m.Lock()
	defer iter.m.Unlock()

	var unused struct{}

	for {
		if iter.rows == nil {
			return unused, nil, iterator.ErrIteratorDone
		}

		if err := context.Cause(iter.ctx); err != nil {
			iter.close()
			return unused, nil, lazyerrors.Error(err)
		}

		if !iter.rows.Next() {
			err := iter.rows.Err()

			iter.close()

			if err == nil {
				err = iterator.ErrIteratorDone
			}

			return unused, nil, lazyerrors.Error(err)
		}

		var part int
		var key sql.NullString
		var n sql.NullInt64
		var b []byte

		if err := iter.rows.Scan(&part, &key, &n, &b); err != nil {
			iter.close()
			return unused, nil, lazyerrors.Error(err)
		}

		if part == 2 {
			iter.counts[key.String] += n.Int64
			continue
		}

		doc, err := sjson.Unmarshal(b)
		if err != nil {
			iter.close()
			return unused, nil, lazyerrors.Error(err)
		}

		return unused, doc, nil
	}
}

// Close implements iterator.Interface.
func (iter *groupCountIterator) Close() {
	iter.m.Lock()
	defer iter.m.Unlock()

	iter.close()
}

func (iter *groupCountIterator) close() {
	if iter.rows != nil {
		iter.rows.Close()
		iter.rows = nil
	}
}

// check interfaces
var (
	_ types.DocumentsIterator = (*groupCountIterator)(nil)
)
