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
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// countingIter counts the documents read from the backend.
type countingIter struct {
	types.DocumentsIterator
	n *int
}

func (c countingIter) Next() (struct{}, *types.Document, error) {
	k, v, err := c.DocumentsIterator.Next()
	if err == nil {
		*c.n++
	}

	return k, v, err
}

// find runs filter, sort and limit as the handler's find does: the filter pushed down,
// the sort offered to the backend (ordered) or not, the Go filter, sort and limit. It
// returns the documents and how many the backend gave.
func find(t *testing.T, c backends.Collection, filter, sort *types.Document, limit int64, ordered bool) ([]*types.Document, int) {
	t.Helper()

	qp := &backends.QueryParams{Filter: filter}
	if ordered {
		qp.OrderBy = sort
	}

	res, err := c.Query(context.Background(), qp)
	if err != nil {
		t.Fatal(err)
	}

	if res.Ordered != ordered {
		t.Fatalf("sort %s: Ordered = %v", types.FormatAnyValue(sort), res.Ordered)
	}

	var read int

	closer := iterator.NewMultiCloser()
	defer closer.Close()

	closer.Add(res.Iter)
	iter := common.FilterIterator(countingIter{res.Iter, &read}, closer, filter)

	sortIter := common.SortIterator
	if ordered {
		sortIter = common.PresortedIterator
	}

	if iter, err = sortIter(iter, closer, sort); err != nil {
		t.Fatal(err)
	}

	iter = common.LimitIterator(iter, closer, limit)

	docs, err := iterator.ConsumeValues(iter)
	if err != nil {
		t.Fatalf("filter %s sort %s: %v", types.FormatAnyValue(filter), types.FormatAnyValue(sort), err)
	}

	return docs, read
}

func randomSort(r *rand.Rand) *types.Document {
	fields := append(slices.Clone(testFields), "_id")
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })

	sort := types.MakeDocument(2)
	for _, f := range fields[:1+r.IntN(2)] {
		sort.Set(f, []int64{1, -1}[r.IntN(2)])
	}

	return sort
}

// sortKey is a document's value for a sort key as the Go sort sees it.
func sortKey(doc *types.Document, key string) any {
	v, err := doc.Get(key)
	if err != nil {
		return types.Null
	}

	return v
}

// TestSortPushdownEqualsGoSort checks the sort pushdown's promise on random data: for
// random filters, sorts of one or two keys in either direction, and limits, a find whose
// backend ordered the rows returns documents with the very sort keys, position by
// position, of the handler's own sort of a full read, and the same documents when
// nothing is cut by a limit. With only keys the backend orders (no arrays, documents or
// doubles) it reads less than the whole result when a limit applies; with those among
// the keys it falls back to the Go sort.
func TestSortPushdownEqualsGoSort(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	for _, scalarOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("scalarOnly=%v", scalarOnly), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 17))

			_, c := testCollection(t, t.TempDir(), index("t_n", false, "t", "n"), index("s", false, "-s"))

			const n = 300

			docs := make([]*types.Document, n)
			for i := range docs {
				docs[i] = randomDocument(r, i)

				if scalarOnly {
					for _, f := range testFields {
						for v, err := docs[i].Get(f); err == nil && !backendOrders(v); v, err = docs[i].Get(f) {
							docs[i].Set(f, randomValue(r, 0))
						}
					}
				}
			}

			if _, err := c.InsertAll(context.Background(), &backends.InsertAllParams{Docs: docs}); err != nil {
				t.Fatal(err)
			}

			var lazy, limited int

			for range 250 {
				filter := randomFilter(r, n)
				if r.IntN(3) == 0 {
					filter = types.MakeDocument(0)
				}

				// The rows the backend gives for the filter. A filter the handler refuses on
				// one of them is skipped (the finds below read the same rows).
				_, rows, err := ids(t, c, filter, true)
				if err != nil {
					continue
				}

				sort := randomSort(r)
				limit := []int64{0, 1, 5, 20}[r.IntN(4)]

				// The handler's own sort of a full read, and its first limit documents:
				// what the handler's limit keeps of that sort.
				all, _ := find(t, c, filter, sort, 0, false)
				want := all
				if limit > 0 && int64(len(all)) > limit {
					want = all[:limit]
				}

				got, read := find(t, c, filter, sort, limit, true)

				if len(got) != len(want) {
					t.Fatalf("filter %s sort %s limit %d: %d documents, want %d", types.FormatAnyValue(filter), types.FormatAnyValue(sort), limit, len(got), len(want))
				}

				for i := range got {
					for _, k := range sort.Keys() {
						order := types.Ascending
						if must.NotFail(sort.Get(k)).(int64) < 0 {
							order = types.Descending
						}

						if types.CompareOrderForSort(sortKey(got[i], k), sortKey(want[i], k), order) != types.Equal {
							t.Fatalf("filter %s sort %s limit %d: at %d %s is %s, want %s\ngot  %v\nwant %v",
								types.FormatAnyValue(filter), types.FormatAnyValue(sort), limit, i, k,
								types.FormatAnyValue(sortKey(got[i], k)), types.FormatAnyValue(sortKey(want[i], k)),
								idsOf(got), idsOf(want))
						}
					}
				}

				gotIDs, allIDs := idsOf(got), idsOf(all)
				for _, id := range gotIDs {
					if !slices.Contains(allIDs, id) {
						t.Fatalf("filter %s sort %s: %s does not match", types.FormatAnyValue(filter), types.FormatAnyValue(sort), id)
					}
				}

				if limit == 0 {
					slices.Sort(gotIDs)
					slices.Sort(allIDs)

					if !slices.Equal(gotIDs, allIDs) {
						t.Fatalf("filter %s sort %s: %v, want %v", types.FormatAnyValue(filter), types.FormatAnyValue(sort), gotIDs, allIDs)
					}
				}

				if limit > 0 && len(all) > int(limit)+1 {
					limited++

					if read < rows {
						lazy++
					}

					// It reads the rows whose first key comes before or with that of the
					// first match after the last document's run of equal first keys.
					if bound := readBound(t, c, filter, sort, all, want[limit-1], rows); scalarOnly && read > bound {
						t.Errorf("filter %s sort %s limit %d: read %d rows, want at most %d", types.FormatAnyValue(filter),
							types.FormatAnyValue(sort), limit, read, bound)
					}
				}
			}

			t.Logf("%d limited finds, %d of them read less than their whole result", limited, lazy)

			if scalarOnly && (limited < 60 || lazy < limited/2) {
				t.Errorf("with scalar keys limited finds should stop early: %d of %d did", lazy, limited)
			}

			if !scalarOnly && lazy == limited {
				t.Errorf("with arrays and documents among the keys, no find fell back to the Go sort")
			}
		})
	}
}

// readBound is what a find that returns last may read at most: the rows up to the first
// match (in all, the whole result) whose first key comes after last's.
func readBound(t *testing.T, c backends.Collection, filter, sort *types.Document, all []*types.Document, last *types.Document, rows int) int {
	t.Helper()

	k := sort.Keys()[0]
	after := types.Greater

	if must.NotFail(sort.Get(k)).(int64) < 0 {
		after = types.Less
	}

	for _, d := range all {
		if types.CompareOrderForSort(sortKey(d, k), sortKey(last, k), types.Ascending) == after {
			return rowsUpTo(t, c, filter, sort, sortKey(d, k))
		}
	}

	return rows
}

// rowsUpTo counts the rows the backend gives for filter whose first sort key comes before
// or with last in the sort's order.
func rowsUpTo(t *testing.T, c backends.Collection, filter, sort *types.Document, last any) int {
	t.Helper()

	res, err := c.Query(context.Background(), &backends.QueryParams{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}

	docs, err := iterator.ConsumeValues(res.Iter)
	if err != nil {
		t.Fatal(err)
	}

	k := sort.Keys()[0]
	after := types.Greater

	if must.NotFail(sort.Get(k)).(int64) < 0 {
		after = types.Less
	}

	var n int

	for _, d := range docs {
		if types.CompareOrderForSort(sortKey(d, k), last, types.Ascending) != after {
			n++
		}
	}

	return n
}

func idsOf(docs []*types.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = fmt.Sprint(must.NotFail(d.Get("_id")))
	}

	return out
}

// backendOrders reports whether v is of a type the backend orders (metadata.SortExpr).
func backendOrders(v any) bool {
	switch v.(type) {
	case *types.Array, *types.Document, float64:
		return false
	}

	return true
}

// visits counts the rows SQLite reads for a query run with testArmTerm set to visitTerm:
// the function is evaluated once per row that its index search (or scan) finds.
var (
	visits       atomic.Int64
	registerOnce sync.Once
)

const visitTerm = "ferretdb_test_visit()"

func countVisits(t *testing.T) {
	t.Helper()

	registerOnce.Do(func() {
		err := sqlite3.RegisterScalarFunction("ferretdb_test_visit", 0, func(*sqlite3.FunctionContext, []driver.Value) (driver.Value, error) {
			visits.Add(1)
			return int64(1), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	testArmTerm = visitTerm
	t.Cleanup(func() { testArmTerm = "" })
}

// TestOrderedFindsReadTheirPage checks, on 10,000 rows that match, that the finds of a
// page (an equality prefix or a range on an index, sorted by the index's next key, with
// a limit) are served in order by the index: EXPLAIN QUERY PLAN shows no sort (TEMP
// B-TREE) and no scan, and SQLite reads about as many rows as the page holds. A sort by
// an unindexed key shows that the count sees a sort's full read.
func TestOrderedFindsReadTheirPage(t *testing.T) {
	countVisits(t)

	_, c := testCollection(t, t.TempDir(),
		index("account_created", false, "accountId", "-createdAt", "-_id"),
		index("tenant_seq", true, "tenantId", "seq"),
		index("tenant_id", false, "tenantId", "-_id"),
		index("closed_created", false, "closedAt", "createdAt", "_id"),
		index("created", false, "-createdAt"),
		index("closed_portal_created", false, "closedAt", "portal", "createdAt", "_id"),
	)

	const n = 10_000

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	docs := make([]*types.Document, 0, n+1000)

	for i := range n + 1000 {
		account, tenant := "a", "t"
		if i >= n {
			account, tenant = fmt.Sprintf("other%d", i%7), fmt.Sprintf("other%d", i%7)
		}

		d := doc("_id", fmt.Sprintf("r%06d", i), "accountId", account, "tenantId", tenant, "seq", int64(i),
			"createdAt", at.Add(time.Duration(i%5000)*time.Second), "portal", []string{"AZURE", "HUB"}[i%2])
		if i%3 != 0 {
			d.Set("closedAt", at)
		}

		docs = append(docs, d)
	}

	if _, err := c.InsertAll(context.Background(), &backends.InsertAllParams{Docs: docs}); err != nil {
		t.Fatal(err)
	}

	const limit = 20

	for name, tc := range map[string]struct {
		filter, sort *types.Document
	}{
		"requests":                {doc("accountId", "a"), doc("createdAt", int64(-1), "_id", int64(-1))},
		"requests of a portal":    {doc("accountId", "a", "portal", "HUB"), doc("createdAt", int64(-1), "_id", int64(-1))},
		"requests before a date":  {doc("accountId", "a", "createdAt", doc("$lte", at.Add(time.Hour))), doc("createdAt", int64(-1), "_id", int64(-1))},
		"ledger after a seq":      {doc("tenantId", "t", "seq", doc("$gt", int64(5000))), doc("seq", int64(1))},
		"ledger newest":           {doc("tenantId", "t", "seq", doc("$gt", int64(0), "$lt", int64(9000))), doc("seq", int64(-1))},
		"audit":                   {doc("tenantId", "t"), doc("_id", int64(-1))},
		"audit before an id":      {doc("tenantId", "t", "_id", doc("$lt", "r005000")), doc("_id", int64(-1))},
		"open requests":           {doc("closedAt", types.Null), doc("createdAt", int64(1), "_id", int64(1))},
		"open requests after one": {doc("closedAt", types.Null, "createdAt", doc("$gte", at.Add(time.Hour))), doc("createdAt", int64(1), "_id", int64(1))},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := c.Explain(context.Background(), &backends.ExplainParams{Filter: tc.filter, OrderBy: tc.sort})
			if err != nil {
				t.Fatal(err)
			}

			p := types.FormatAnyValue(must.NotFail(res.QueryPlanner.Get("Plan")))
			if !res.SortPushdown || strings.Contains(p, "TEMP B-TREE") || strings.Contains(p, "SCAN "+"docs") || !strings.Contains(p, "USING INDEX") {
				t.Errorf("want index searches in order, no sort and no scan, got\n%s", p)
			}

			visits.Store(0)

			want, _ := find(t, c, tc.filter, tc.sort, limit, false)
			all := visits.Load()

			visits.Store(0)

			got, _ := find(t, c, tc.filter, tc.sort, limit, true)
			read := visits.Load()

			if !slices.Equal(idsOf(got), idsOf(want)) {
				t.Fatalf("got %v, want %v", idsOf(got), idsOf(want))
			}

			t.Logf("read %d rows for %d documents (unordered: %d)", read, len(got), all)

			if len(got) != limit || read > 3*limit {
				t.Errorf("read %d rows for %d documents, want about %d", read, len(got), limit)
			}
		})
	}

	t.Run("unindexed sort", func(t *testing.T) {
		res, err := c.Explain(context.Background(), &backends.ExplainParams{Filter: doc("accountId", "a"), OrderBy: doc("portal", int64(1))})
		if err != nil {
			t.Fatal(err)
		}

		if p := types.FormatAnyValue(must.NotFail(res.QueryPlanner.Get("Plan"))); !strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("want a sort, got\n%s", p)
		}

		visits.Store(0)
		find(t, c, doc("accountId", "a"), doc("portal", int64(1)), limit, true)

		if read := visits.Load(); read < n {
			t.Errorf("a sort no index serves read %d rows, want all %d", read, n)
		}
	})
}
