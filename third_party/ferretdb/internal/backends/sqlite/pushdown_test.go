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
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/must"
	"github.com/FerretDB/FerretDB/internal/util/state"
)

// testCollection opens a backend in a temporary directory and returns a collection with
// the given indexes, and the directory.
func testCollection(t *testing.T, dir string, indexes ...backends.IndexInfo) (backends.Backend, backends.Collection) {
	t.Helper()

	sp, err := state.NewProvider("")
	if err != nil {
		t.Fatal(err)
	}

	l := slog.New(slog.NewTextHandler(io.Discard, nil))

	b, err := NewBackend(&NewBackendParams{URI: "file:" + dir + "/", L: l, P: sp, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(b.Close)

	db := must.NotFail(b.Database("test"))
	c := must.NotFail(db.Collection("docs"))

	if len(indexes) > 0 {
		if _, err = c.CreateIndexes(context.Background(), &backends.CreateIndexesParams{Indexes: indexes}); err != nil {
			t.Fatal(err)
		}
	}

	return b, c
}

func index(name string, unique bool, fields ...string) backends.IndexInfo {
	info := backends.IndexInfo{Name: name, Unique: unique}

	for _, f := range fields {
		info.Key = append(info.Key, backends.IndexKeyPair{Field: strings.TrimPrefix(f, "-"), Descending: strings.HasPrefix(f, "-")})
	}

	return info
}

// randomValue returns a value of a random BSON type from small pools, so that filters hit.
func randomValue(r *rand.Rand, depth int) any {
	switch r.IntN(13) {
	case 0:
		return fmt.Sprintf("s%d", r.IntN(6))
	case 1:
		return []string{"", "[x", "a\u00e9", "\\", "{}", "5"}[r.IntN(6)]
	case 2:
		return int32(r.IntN(10) - 3)
	case 3:
		return int64(r.IntN(10) - 3)
	case 4:
		return float64(r.IntN(10)-3) + []float64{0, 0, 0.5}[r.IntN(3)]
	case 5:
		return time.UnixMilli(int64(r.IntN(10) - 3)).UTC()
	case 6:
		return r.IntN(2) == 0
	case 7:
		return types.Null
	case 8:
		return types.ObjectID{byte(r.IntN(3))}
	case 9:
		if depth > 0 {
			return "s1"
		}

		arr := types.MakeArray(3)
		for range r.IntN(4) {
			arr.Append(randomValue(r, depth+1))
		}

		return arr
	case 10:
		if depth > 0 {
			return int64(1)
		}

		return must.NotFail(types.NewDocument("a", randomValue(r, depth+1)))
	case 11:
		return int64(1 << 60)
	default:
		return float64(1 << 60)
	}
}

var testFields = []string{"t", "s", "n"}

func randomDocument(r *rand.Rand, i int) *types.Document {
	var id any = fmt.Sprintf("id%d", i)
	if i%3 == 0 {
		id = types.ObjectID{byte(i), byte(i >> 8), 1}
	}

	doc := must.NotFail(types.NewDocument("_id", id))

	for _, f := range testFields {
		if r.IntN(6) > 0 { // missing otherwise
			doc.Set(f, randomValue(r, 0))
		}
	}

	return doc
}

// randomCondition returns a filter value for one field: a value or an operator document.
func randomCondition(r *rand.Rand) any {
	ops := []string{"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$ne", "$exists"}

	if r.IntN(3) == 0 {
		return randomValue(r, 0)
	}

	doc := types.MakeDocument(2)

	for range 1 + r.IntN(2) {
		op := ops[r.IntN(len(ops))]

		switch op {
		case "$in":
			arr := types.MakeArray(3)
			for range 1 + r.IntN(3) {
				arr.Append(randomValue(r, 1))
			}

			doc.Set(op, arr)
		case "$exists":
			doc.Set(op, r.IntN(2) == 0)
		default:
			doc.Set(op, randomValue(r, 0))
		}
	}

	return doc
}

func randomFilter(r *rand.Rand, n int) *types.Document {
	filter := types.MakeDocument(3)

	for _, f := range append(slices.Clone(testFields), "_id") {
		if r.IntN(2) == 0 {
			continue
		}

		if f == "_id" {
			if r.IntN(2) == 0 {
				filter.Set(f, fmt.Sprintf("id%d", r.IntN(n)))
			} else {
				k := r.IntN(n)
				filter.Set(f, must.NotFail(types.NewDocument("$in", must.NotFail(types.NewArray(
					fmt.Sprintf("id%d", k), types.ObjectID{byte(k), byte(k >> 8), 1})))))
			}

			continue
		}

		filter.Set(f, randomCondition(r))
	}

	return filter
}

// ids queries c with filter pushed down (or not), re-filters in Go as the handler does,
// and returns the matching _ids and the number of rows SQLite returned.
func ids(t *testing.T, c backends.Collection, filter *types.Document, pushdown bool) ([]string, int, error) {
	t.Helper()

	qp := &backends.QueryParams{}
	if pushdown {
		qp.Filter = filter
	}

	res, err := c.Query(context.Background(), qp)
	if err != nil {
		t.Fatal(err)
	}

	docs, err := iterator.ConsumeValues(res.Iter)
	if err != nil {
		t.Fatal(err)
	}

	out, err := matching(docs, filter)

	return out, len(docs), err
}

// matching filters docs in Go as the handler does and returns the sorted _ids that match.
func matching(docs []*types.Document, filter *types.Document) ([]string, error) {
	var out []string

	for _, doc := range docs {
		ok, err := common.FilterDocument(doc, filter)
		if err != nil {
			return nil, err
		}

		if ok {
			out = append(out, fmt.Sprint(must.NotFail(doc.Get("_id"))))
		}
	}

	slices.Sort(out)

	return out, nil
}

// TestPushdownEqualsScan checks the patch's one promise: on random documents (mixed types,
// arrays, documents, missing fields) and random filters, the documents a pushed-down
// query finds after the handler's Go filter are exactly those of a full scan.
func TestPushdownEqualsScan(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	r := rand.New(rand.NewPCG(seed, 13))

	_, c := testCollection(t, t.TempDir(), index("t_n", false, "t", "n"), index("s", false, "-s"))

	const n = 300

	docs := make([]*types.Document, n)
	for i := range docs {
		docs[i] = randomDocument(r, i)
	}

	if _, err := c.InsertAll(context.Background(), &backends.InsertAllParams{Docs: docs}); err != nil {
		t.Fatal(err)
	}

	// The full scan: every stored document, read back once; each filter's want is the
	// handler's Go filter over them.
	res, err := c.Query(context.Background(), &backends.QueryParams{})
	if err != nil {
		t.Fatal(err)
	}

	stored, err := iterator.ConsumeValues(res.Iter)
	if err != nil {
		t.Fatal(err)
	}

	all := len(stored)

	var pushed, narrowed, matched int

	for range 600 {
		filter := randomFilter(r, n)

		want, err := matching(stored, filter)
		if err != nil {
			continue // a filter the handler refuses
		}

		got, rows, err := ids(t, c, filter, true)
		if err != nil {
			t.Fatalf("filter %s: %v", types.FormatAnyValue(filter), err)
		}

		if !slices.Equal(got, want) {
			where, args := prepareWhereClause(filter, []metadata.IndexInfo{})
			t.Fatalf("filter %s:\npushdown %v\nscan     %v\nWHERE%s %v", types.FormatAnyValue(filter), got, want, where, args)
		}

		if where, _ := prepareWhereClause(filter, nil); where != "" {
			pushed++
		}

		if rows < all {
			narrowed++
		}

		if len(want) > 0 {
			matched++
		}
	}

	t.Logf("%d filters pushed down, %d returned fewer rows than a scan, %d matched something", pushed, narrowed, matched)

	if pushed < 250 || narrowed < 250 || matched < 120 {
		t.Errorf("the random filters exercise too little: %d pushed, %d narrowed, %d matched", pushed, narrowed, matched)
	}
}

// plan returns the query plan lines of filter on c.
func plan(t *testing.T, c backends.Collection, filter *types.Document) (string, bool) {
	t.Helper()

	res, err := c.Explain(context.Background(), &backends.ExplainParams{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}

	lines, err := iterator.ConsumeValues(must.NotFail(res.QueryPlanner.Get("Plan")).(*types.Array).Iterator())
	if err != nil {
		t.Fatal(err)
	}

	var out []string
	for _, l := range lines {
		out = append(out, l.(string))
	}

	return strings.Join(out, "\n"), res.FilterPushdown
}

func doc(pairs ...any) *types.Document { return must.NotFail(types.NewDocument(pairs...)) }

func longArray(n int) *types.Array {
	arr := types.MakeArray(n)
	for i := range n {
		arr.Append(fmt.Sprintf("v%d", i))
	}

	return arr
}

// TestPushdownUsesIndexes checks with EXPLAIN QUERY PLAN that pushed-down filters are index
// searches on the indexes createIndexes builds, and that what is not pushed is a scan.
func TestPushdownUsesIndexes(t *testing.T) {
	_, c := testCollection(t, t.TempDir(),
		index("tenant_seq", true, "tenantId", "seq"),
		index("account_created", false, "accountId", "-createdAt"),
		index("closed_created", false, "closedAt", "createdAt"),
	)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	for name, tc := range map[string]struct {
		filter *types.Document
		search string // "" for a scan
	}{
		"id":                     {doc("_id", "x"), "__id_ ("},
		"id in":                  {doc("_id", doc("$in", must.NotFail(types.NewArray("x", "y")))), "__id_ ("},
		"tenant":                 {doc("tenantId", "a"), "_tenant_seq ("},
		"tenant in":              {doc("tenantId", doc("$in", must.NotFail(types.NewArray("a", "b")))), "_tenant_seq ("},
		"tenant seq range":       {doc("seq", doc("$gt", int64(5), "$lte", int32(9)), "tenantId", "a"), "_tenant_seq (<expr>=? AND <expr>>? AND <expr><?)"},
		"tenant other":           {doc("tenantId", "a", "kind", "x"), "_tenant_seq ("},
		"account date":           {doc("accountId", "a", "createdAt", doc("$lt", at)), "_account_created ("},
		"null":                   {doc("closedAt", types.Null), "_closed_created ("},
		"null and a range":       {doc("closedAt", types.Null, "createdAt", doc("$gte", at)), "_closed_created ("},
		"unindexed field":        {doc("kind", "x"), ""},
		"not pushed: a long $in": {doc("tenantId", doc("$in", longArray(maxInValues+1))), ""},
		"not pushed: $or":        {doc("$or", must.NotFail(types.NewArray(doc("tenantId", "a")))), ""},
		"not pushed: regex":      {doc("tenantId", types.Regex{Pattern: "a"}), ""},
	} {
		t.Run(name, func(t *testing.T) {
			p, pushed := plan(t, c, tc.filter)

			if tc.search == "" {
				if !strings.Contains(p, "SCAN") {
					t.Errorf("want a scan, got\n%s", p)
				}

				return
			}

			if !pushed || strings.Contains(p, "SCAN") || !strings.Contains(p, "USING INDEX") || !strings.Contains(p, tc.search) {
				t.Errorf("want every part a SEARCH, using %s (pushdown %v), got\n%s", tc.search, pushed, p)
			}
		})
	}
}

// TestUpgradeIndexes checks that indexes built by upstream FerretDB (on expressions no
// filter uses) are rebuilt on the pushdown expressions when the database is opened.
func TestUpgradeIndexes(t *testing.T) {
	dir := t.TempDir()
	b, _ := testCollection(t, dir, index("tenant_seq", true, "tenantId", "seq"))
	b.Close()

	f := filepath.Join(dir, "test.sqlite")

	db, err := sql.Open("sqlite", "file:"+f)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var table string
	if err = db.QueryRow(`SELECT table_name FROM _ferretdb_collections`).Scan(&table); err != nil {
		t.Fatal(err)
	}

	// what upstream v1.24.2 creates
	for _, q := range []string{
		fmt.Sprintf(`DROP INDEX %q`, table+"_tenant_seq"),
		fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->"tenantId", _ferretdb_sjson->"seq")`, table+"_tenant_seq", table),
		fmt.Sprintf(`DROP INDEX %q`, table+"__id_"),
		fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->"_id")`, table+"__id_", table),
	} {
		if _, err = db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	_, c := testCollection(t, dir)

	for _, name := range []string{"tenant_seq", "_id_"} {
		var got string
		if err = db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = ?`, table+"_"+name).Scan(&got); err != nil {
			t.Fatal(err)
		}

		if !strings.Contains(got, "->>'$.tenantId'") && !strings.Contains(got, "->'$._id'") {
			t.Errorf("index %s not rebuilt: %s", name, got)
		}
	}

	if p, _ := plan(t, c, doc("tenantId", "a", "seq", doc("$gt", int64(1)))); strings.Contains(p, "SCAN") {
		t.Errorf("after the upgrade, want a search, got\n%s", p)
	}
}
