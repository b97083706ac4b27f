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
	"encoding/hex"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// maxExactInt is the largest magnitude below which every integer is exactly a float64, so
// SQLite and the handler's Go filter order numeric bounds the same way.
const maxExactInt = 1 << 53

// maxInValues bounds the values of an $in pushed down: SQLite refuses statements with more
// than 32,766 parameters, and the disjunction repeats a condition's values in every term
// after it. A longer $in is left to the handler.
const maxInValues = 1000

// condition is what can be pushed down for one top-level field of a filter: the
// conjunction of scalar comparisons on its expression, and whether documents in which
// the field is an array must be kept too (a MongoDB comparison also matches an array that
// holds a matching element; SQLite sees the array as JSON text).
type condition struct {
	field  string
	expr   string
	terms  []string // ANDed, each on expr
	args   []any    // one per placeholder of terms, in order
	arrays bool
}

// arrayTerm selects the rows whose expr is a JSON array: `->>` gives an array as its JSON
// text, which starts with '[' ('\' is the character after '['). Strings that start with
// '[' are selected too, which is harmless: the result only has to be a superset.
func arrayTerm(expr string) string {
	return "(" + expr + " >= '[' AND " + expr + " < '\\')"
}

// prepareWhereClause returns a WHERE clause (with its leading space) and its arguments
// that select a superset of the documents filter matches, or "" and nil when no part of
// filter can be pushed down. The handler re-applies the whole filter to every document
// returned, so leaving any condition to it is always correct; the clause must only never
// drop a matching document.
//
// Pushed down: top-level fields with a plain identifier name (metadata.FieldExpr), compared
// by equality (or $eq) with null, by equality (or $eq) or $in with strings, ObjectIDs,
// booleans, integers, integral doubles and dates, and by $gt, $gte, $lt and $lte with
// integers, integral doubles and dates; the conditions of several fields and operators are
// ANDed. Everything else ($or, $and, $ne, $exists, regular expressions, null in an $in,
// documents, arrays, string ranges, dotted paths) is
// left to the handler. `_id` keeps upstream's semantics (JSON text, strings and ObjectIDs).
//
// The clause is written so that SQLite can serve it from the collection's indexes, which
// are built on the same expressions: the fields are ordered as the columns of the index
// that covers the longest prefix of them, and the clause is a disjunction of index-shaped
// terms (see disjunction).
func prepareWhereClause(filter *types.Document, indexes []metadata.IndexInfo) (string, []any) {
	if filter.Len() == 0 {
		return "", nil
	}

	keys := filter.Keys()
	values := filter.Values()

	seen := make(map[string]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}

	conds := make(map[string]*condition, len(keys))

	for i, k := range keys {
		if seen[k] > 1 || strings.HasPrefix(k, "$") || strings.Contains(k, ".") {
			continue
		}

		expr, ok := metadata.FieldExpr(k)
		if !ok {
			continue
		}

		c := &condition{field: k, expr: expr, arrays: k != "_id"}
		c.add(values[i])

		if len(c.terms) > 0 {
			conds[k] = c
		}
	}

	if len(conds) == 0 {
		return "", nil
	}

	return disjunction(orderConditions(conds, keys, indexes))
}

// add adds the terms for the filter value v of c's field.
func (c *condition) add(v any) {
	ops, ok := v.(*types.Document)
	if !ok {
		c.addEq(v)
		return
	}

	// An operator document. The handler's Go filter (common.filterFieldExpr) applies its
	// operators in order and stops at the first that fails, but some operators end the
	// evaluation with a match ($ne and $eq with a document, $exists with a non-boolean, a
	// key without `$`, ...). So only the operators before the first one that is not
	// known to fall through are sure to hold, and only they are pushed down. An empty
	// document is an equality with a document, left to the handler.
	opKeys := ops.Keys()
	for i, ov := range ops.Values() {
		if _, isDoc := ov.(*types.Document); isDoc {
			return
		}

		switch opKeys[i] {
		case "$eq":
			c.addEq(ov)
		case "$in":
			c.addIn(ov)
		case "$gt", "$gte":
			c.addRange(">=", ov) // non-strict: a superset whatever the rounding
		case "$lt", "$lte":
			c.addRange("<=", ov)
		case "$ne", "$nin":
			// falls through unless it fails; not pushed down
		default:
			return
		}
	}
}

func (c *condition) addEq(v any) {
	if _, null := v.(types.NullType); null && c.field != "_id" {
		// {f: null} matches a null or a missing f; `->>` gives SQL NULL for both.
		c.terms = append(c.terms, c.expr+" IS NULL")
		return
	}

	if arg, ok := c.equalityArg(v); ok {
		c.terms = append(c.terms, c.expr+" = ?")
		c.args = append(c.args, arg)
	}
}

func (c *condition) addIn(v any) {
	arr, ok := v.(*types.Array)
	if !ok || arr.Len() == 0 || arr.Len() > maxInValues {
		return
	}

	args := make([]any, arr.Len())

	for i := range arr.Len() {
		if args[i], ok = c.equalityArg(must.NotFail(arr.Get(i))); !ok {
			return
		}
	}

	c.terms = append(c.terms, c.expr+" IN (?"+strings.Repeat(", ?", len(args)-1)+")")
	c.args = append(c.args, args...)
}

func (c *condition) addRange(op string, v any) {
	if arg, ok := numberArg(v); ok {
		c.terms = append(c.terms, c.expr+" "+op+" ?")
		c.args = append(c.args, arg)
	}
}

// equalityArg returns the SQL value that c's expression has for a stored v.
func (c *condition) equalityArg(v any) (any, bool) {
	if c.field == "_id" {
		// upstream's expression and values: JSON text
		switch v.(type) {
		case string, types.ObjectID:
			if s, ok := v.(string); ok && !plainString(s) {
				return nil, false
			}

			return string(must.NotFail(sjson.MarshalSingleValue(v))), true
		}

		return nil, false
	}

	switch v := v.(type) {
	case string:
		return v, plainString(v)
	case types.ObjectID:
		return hex.EncodeToString(v[:]), true // sjson stores an ObjectID as its hex string
	case bool:
		if v {
			return int64(1), true // `->>` gives JSON true as 1
		}

		return int64(0), true
	}

	return numberArg(v)
}

// numberArg returns the SQL number a stored numeric or date v compares as, for values that
// SQLite and Go compare exactly alike.
func numberArg(v any) (any, bool) {
	switch v := v.(type) {
	case int32:
		return int64(v), true
	case int64:
		return v, v > -maxExactInt && v < maxExactInt
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) || math.Abs(v) >= maxExactInt {
			return nil, false
		}

		return int64(v), true
	case time.Time:
		return v.UnixMilli(), true // sjson stores a date as milliseconds
	}

	return nil, false
}

// plainString reports whether s is stored as itself: sjson (encoding/json) replaces
// invalid UTF-8, and SQLite text stops at NUL in some functions.
func plainString(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// orderConditions orders the conditions as the columns of the index that covers the
// longest prefix of their fields, then the others in filter order.
func orderConditions(conds map[string]*condition, keys []string, indexes []metadata.IndexInfo) []*condition {
	var best []string

	for _, index := range indexes {
		var prefix []string

		for _, k := range index.Key {
			if conds[k.Field] == nil {
				break
			}

			prefix = append(prefix, k.Field)
		}

		if len(prefix) > len(best) {
			best = prefix
		}
	}

	res := make([]*condition, 0, len(conds))
	used := make(map[string]bool, len(conds))

	for _, k := range append(best, keys...) {
		if c := conds[k]; c != nil && !used[k] {
			used[k] = true
			res = append(res, c)
		}
	}

	return res
}

// disjunction writes the conjunction over conds of (S_i OR A_i), S_i a condition's scalar
// terms and A_i its array term, as the equivalent disjunction
//
//	(S_1 AND ... AND S_n) OR (A_1) OR (S_1 AND A_2) OR ... OR (S_1 AND ... AND S_n-1 AND A_n)
//
// (a document outside the first term has a first i whose S_i fails, so A_i holds). Each
// term is a prefix of equalities and ranges on an index's columns, so SQLite answers it
// with one index search (a MULTI-INDEX OR), where the conjunction form would make it scan.
func disjunction(conds []*condition) (string, []any) {
	var scalars []string
	var scalarArgs []any

	for _, c := range conds {
		scalars = append(scalars, c.terms...)
		scalarArgs = append(scalarArgs, c.args...)
	}

	terms := []string{"(" + strings.Join(scalars, " AND ") + ")"}
	args := append([]any(nil), scalarArgs...)

	var prefix []string
	var prefixArgs []any

	for _, c := range conds {
		if c.arrays {
			terms = append(terms, "("+strings.Join(append(append([]string(nil), prefix...), arrayTerm(c.expr)), " AND ")+")")
			args = append(args, prefixArgs...)
		}

		prefix = append(prefix, c.terms...)
		prefixArgs = append(prefixArgs, c.args...)
	}

	if len(terms) == 1 {
		return " WHERE " + terms[0], args
	}

	return " WHERE (" + strings.Join(terms, " OR ") + ")", args
}
