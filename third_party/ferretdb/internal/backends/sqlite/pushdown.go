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
	"fmt"
	"math"
	"slices"
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
	terms  []string // ANDed
	args   []any    // one per placeholder of terms, in order
	arrays bool

	// the bounds of the ranges pushed down, and the class (sortClass) of the first
	lo, hi bool
	class  *sortClass
}

// arrayTerm selects the rows whose field is of a type SortExpr gives NULL for: arrays
// among them, which a comparison matches by an element, and doubles, which a comparison
// with an integer matches.
func arrayTerm(expr string) string {
	return expr + " IS NULL"
}

// prepareWhereClause returns a WHERE clause (with its leading space) and its arguments
// that select a superset of the documents filter matches, or "" and nil when no part of
// filter can be pushed down. The handler re-applies the whole filter to every document
// returned, so leaving any condition to it is always correct; the clause must only never
// drop a matching document.
//
// Pushed down: top-level fields with a plain identifier name (metadata.FieldExpr), compared
// by equality (or $eq) with null, by equality (or $eq), $in, $gt, $gte, $lt and $lte
// with strings, ObjectIDs, booleans, integers, integral doubles and dates; the conditions
// of several fields and operators are ANDed. Everything else ($or, $and, $ne, $exists,
// regular expressions, null in an $in, documents, arrays, dotted paths) is left to the
// handler. `_id` equalities keep upstream's semantics (JSON text, strings and ObjectIDs);
// its ranges compare metadata.SortExpr, as a compound index holds `_id`.
//
// The clause is written so that SQLite can serve it from the collection's indexes, which
// are built on the same expressions: the fields are ordered as the columns of the index
// that covers the longest prefix of them, and the clause is a disjunction of index-shaped
// terms (see disjunction).
func prepareWhereClause(filter *types.Document, indexes []metadata.IndexInfo) (string, []any) {
	return whereClause(filterArms(filter, indexes))
}

// filterArms returns the terms of prepareWhereClause's disjunction, or nil when no part of
// filter can be pushed down.
func filterArms(filter *types.Document, indexes []metadata.IndexInfo) []arm {
	if filter.Len() == 0 {
		return nil
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
		c.close()

		if len(c.terms) > 0 {
			conds[k] = c
		}
	}

	if len(conds) == 0 {
		return nil
	}

	indexed, others := orderConditions(conds, keys, indexes)

	return conjunction(disjunction(indexed), others)
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
			c.addRange(true, ov) // non-strict: a superset, and simpler
		case "$lt", "$lte":
			c.addRange(false, ov)
		case "$ne", "$nin":
			// falls through unless it fails; not pushed down
		default:
			return
		}
	}
}

func (c *condition) addEq(v any) {
	if _, null := v.(types.NullType); null && c.field != "_id" {
		// {f: null} matches a null or a missing f, both SortNull.
		c.terms = append(c.terms, c.expr+" = "+metadata.SortNull)
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

// sortClass is the range of SortExpr's values of one BSON type class: a comparison
// operator matches only values of its operand's class (MongoDB's type bracketing).
type sortClass struct {
	lo, hi string // SQL operator and operand on the expression
}

var (
	numberClass = &sortClass{lo: " > " + metadata.SortNull, hi: " < ''"}
	stringClass = &sortClass{lo: " >= ''", hi: " < X''"}
)

// blobClass is the class of the blobs that start with prefix.
func blobClass(prefix string) *sortClass {
	return &sortClass{lo: fmt.Sprintf(" >= X'%x'", prefix), hi: fmt.Sprintf(" < X'%x'", prefix[0]+1)}
}

// addRange adds a lower (or upper) bound v, compared as SortExpr compares. A bound
// alone gets its class's other bound too (see close), so that the index range it
// selects is that of its type, not everything above or below it.
func (c *condition) addRange(lower bool, v any) {
	expr := c.expr
	if c.field == "_id" {
		expr = metadata.SortExpr("_id")
	}

	arg, class, ok := sortArg(v)
	if !ok {
		return
	}

	op := " <= ?"
	if lower {
		op = " >= ?"
		c.lo = true
	} else {
		c.hi = true
	}

	c.terms = append(c.terms, expr+op)
	c.args = append(c.args, arg)

	if c.class == nil {
		c.class = class
	}
}

// close adds the bound of the ranges' class on the side no range bounds. Not both sides:
// SQLite takes one lower and one upper bound for an index range, not the tighter one.
func (c *condition) close() {
	if c.class == nil || c.lo == c.hi {
		return
	}

	expr := c.expr
	if c.field == "_id" {
		expr = metadata.SortExpr("_id")
	}

	if c.lo {
		c.terms = append(c.terms, expr+c.class.hi)
	} else {
		c.terms = append(c.terms, expr+c.class.lo)
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

	arg, _, ok := sortArg(v)

	return arg, ok
}

// sortArg returns metadata.SortExpr's value for a stored v, and its class, for the values
// it gives a value: integers, integral doubles (|v| < 2^53, compared as integers),
// strings, ObjectIDs, booleans and dates.
func sortArg(v any) (any, *sortClass, bool) {
	switch v := v.(type) {
	case string:
		return v, stringClass, plainString(v)
	case types.ObjectID:
		return []byte(metadata.SortObjectIDPrefix + hex.EncodeToString(v[:])), blobClass(metadata.SortObjectIDPrefix), true
	case bool:
		b := metadata.SortBoolPrefix + "0"
		if v {
			b = metadata.SortBoolPrefix + "1"
		}

		return []byte(b), blobClass(metadata.SortBoolPrefix), true
	case time.Time:
		d, ok := metadata.SortDate(v.UnixMilli())
		return d, blobClass(metadata.SortDatePrefix), ok
	case int32:
		return int64(v), numberClass, true
	case int64:
		return v, numberClass, v > -maxExactInt && v < maxExactInt
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) || math.Abs(v) >= maxExactInt {
			return nil, nil, false
		}

		return int64(v), numberClass, true
	}

	return nil, nil, false
}

// plainString reports whether s is stored as itself: sjson (encoding/json) replaces
// invalid UTF-8, and SQLite text stops at NUL in some functions.
func plainString(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// orderConditions returns the conditions on the columns of the index that covers the
// longest prefix of their fields, in the index's order, and the others in filter order.
func orderConditions(conds map[string]*condition, keys []string, indexes []metadata.IndexInfo) ([]*condition, []*condition) {
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

	indexed := make([]*condition, 0, len(best))
	var others []*condition

	used := make(map[string]bool, len(conds))

	for i, k := range append(best, keys...) {
		if c := conds[k]; c != nil && !used[k] {
			used[k] = true

			if i < len(best) {
				indexed = append(indexed, c)
			} else {
				others = append(others, c)
			}
		}
	}

	return indexed, others
}

// conjunction ANDs to every arm the condition (S_i OR A_i) of each of others, conditions
// on fields outside the index the arms search: SQLite checks them on the rows the search
// finds, where an arm of their own (disjunction) would read every row of the index's
// prefix.
func conjunction(arms []arm, others []*condition) []arm {
	if len(arms) == 0 {
		arms = []arm{{}}
	}

	for _, c := range others {
		term := strings.Join(c.terms, " AND ")
		if c.arrays {
			term = "((" + term + ") OR " + arrayTerm(c.expr) + ")"
		}

		for i := range arms {
			arms[i].terms = append(arms[i].terms, term)
			arms[i].args = append(arms[i].args, c.args...)
		}
	}

	return arms
}

// arm is one term of a disjunction: ANDed SQL terms and their arguments.
type arm struct {
	terms []string
	args  []any
}

// disjunction writes the conjunction over conds of (S_i OR A_i), S_i a condition's scalar
// terms and A_i its array term, as the equivalent disjunction
//
//	(S_1 AND ... AND S_n) OR (A_1) OR (S_1 AND A_2) OR ... OR (S_1 AND ... AND S_n-1 AND A_n)
//
// (a document outside the first term has a first i whose S_i fails, so A_i holds). The
// terms are disjoint (S_i is false where A_i, `IS NULL`, holds), so no row is in two.
// Each term is a prefix of equalities and ranges on an index's columns, so SQLite answers
// it with one index search (a MULTI-INDEX OR, or one arm of a UNION ALL: prepareOrderedQuery),
// where the conjunction form would make it scan.
func disjunction(conds []*condition) []arm {
	if len(conds) == 0 {
		return nil
	}

	arms := []arm{{}}

	var prefix arm

	for _, c := range conds {
		arms[0].terms = append(arms[0].terms, c.terms...)
		arms[0].args = append(arms[0].args, c.args...)

		if c.arrays {
			arms = append(arms, arm{
				terms: append(slices.Clone(prefix.terms), arrayTerm(c.expr)),
				args:  slices.Clone(prefix.args),
			})
		}

		prefix.terms = append(prefix.terms, c.terms...)
		prefix.args = append(prefix.args, c.args...)
	}

	return arms
}

// whereClause writes arms as a WHERE clause (with its leading space) and its arguments.
func whereClause(arms []arm) (string, []any) {
	if len(arms) == 0 {
		return "", nil
	}

	terms := make([]string, len(arms))
	var args []any

	for i, a := range arms {
		terms[i] = "(" + strings.Join(a.terms, " AND ") + ")"
		args = append(args, a.args...)
	}

	if len(terms) == 1 {
		return " WHERE " + terms[0], args
	}

	return " WHERE (" + strings.Join(terms, " OR ") + ")", args
}
