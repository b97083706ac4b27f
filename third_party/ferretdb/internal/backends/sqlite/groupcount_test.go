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
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
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

// groupKey names the group a document falls in when grouped by field: "s:" and the text
// for a string, "null" for a null or missing field, and the value's type and text
// otherwise (the same on both sides of a comparison, so MongoDB's grouping of equal
// numbers of different types does not matter here).
func groupKey(doc *types.Document, field string) string {
	v, err := doc.Get(field)
	switch v := v.(type) {
	case string:
		return "s:" + v
	case types.NullType:
		return "null"
	default:
		if err != nil {
			return "null"
		}

		return fmt.Sprintf("%T:%s", v, types.FormatAnyValue(v))
	}
}

// groupCounts counts the documents filter matches by group (groupKey): with groupCount,
// those the backend counted plus those Iter returned and the Go filter keeps, as the
// handler's $match and $group see them; without, a whole scan filtered in Go. It also
// returns how many documents Iter returned and whether the backend counted.
func groupCounts(t *testing.T, c backends.Collection, filter *types.Document, group string, groupCount bool) (map[string]int64, int, bool) {
	t.Helper()

	qp := &backends.QueryParams{}
	if groupCount {
		qp.Filter, qp.GroupCount = filter, group
	}

	res, err := c.Query(context.Background(), qp)
	if err != nil {
		t.Fatal(err)
	}

	docs, err := iterator.ConsumeValues(res.Iter)
	if err != nil {
		t.Fatal(err)
	}

	out := make(map[string]int64)

	for _, doc := range docs {
		ok, err := common.FilterDocument(doc, filter)
		if err != nil {
			t.Fatal(err)
		}

		if ok {
			out[groupKey(doc, group)]++
		}
	}

	for k, n := range res.GroupCounts {
		out["s:"+k] += n
	}

	return out, len(docs), res.GroupCounts != nil
}

// scanCounts is groupCounts without the backend: docs, filtered and grouped in Go.
func scanCounts(t *testing.T, docs []*types.Document, filter *types.Document, group string) (map[string]int64, int) {
	t.Helper()

	out := make(map[string]int64)

	for _, doc := range docs {
		ok, err := common.FilterDocument(doc, filter)
		if err != nil {
			t.Fatal(err)
		}

		if ok {
			out[groupKey(doc, group)]++
		}
	}

	return out, len(docs)
}

// TestGroupCountEqualsScan checks patch 7's promise: on random documents (mixed types,
// arrays, documents, missing fields), counts per value of a field of the documents random
// filters match are the same whether the backend counts what it can or a whole scan is
// filtered and grouped in Go.
func TestGroupCountEqualsScan(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("FERRETDB_TEST_SEED"), 10, 64); err == nil {
		seed = s
	}

	t.Logf("seed %d (FERRETDB_TEST_SEED)", seed)

	r := rand.New(rand.NewPCG(seed, 17))

	_, c := testCollection(t, t.TempDir(), index("t_n", false, "t", "n"), index("s", false, "-s"))

	const n = 300

	docs := make([]*types.Document, n)
	for i := range docs {
		docs[i] = randomDocument(r, i)
	}

	if _, err := c.InsertAll(context.Background(), &backends.InsertAllParams{Docs: docs}); err != nil {
		t.Fatal(err)
	}

	// The documents as stored (a whole scan), for the counts to compare with.
	res, err := c.Query(context.Background(), &backends.QueryParams{})
	if err != nil {
		t.Fatal(err)
	}

	if docs, err = iterator.ConsumeValues(res.Iter); err != nil {
		t.Fatal(err)
	}

	groups := append([]string{"_id", "missing"}, testFields...)

	var counted, skipped, decodedLess int

	for range 200 {
		filter := types.MakeDocument(2)
		for range 1 + r.IntN(2) {
			f := testFields[r.IntN(len(testFields))]
			v := any(fmt.Sprintf("s%d", r.IntN(6)))

			if r.IntN(5) == 0 {
				v = randomValue(r, 0) // another type: not counted by the backend
			}

			filter.Set(f, v)
		}

		group := groups[r.IntN(len(groups))]

		want, all := scanCounts(t, docs, filter, group)
		got, decoded, backend := groupCounts(t, c, filter, group, true)

		if !maps.Equal(got, want) {
			t.Fatalf("filter %s, group by %s:\ncounted %v\nscan    %v", types.FormatAnyValue(filter), group, got, want)
		}

		if !backend {
			skipped++
			continue
		}

		counted++

		if decoded < all {
			decodedLess++
		}
	}

	t.Logf("%d counted by the backend (%d decoding fewer documents than a scan), %d not", counted, decodedLess, skipped)

	if counted < 100 || decodedLess < 100 || skipped < 10 {
		t.Errorf("the random filters exercise too little: %d counted, %d decoding fewer, %d not", counted, decodedLess, skipped)
	}
}

// TestGroupCountDecodesOnlyWhatItCannotCount counts one tenant's claims by benefit, the
// application's used incidents, among 2,000 documents: the backend counts every
// document whose tenant and benefit are strings without returning it, returns only the
// few whose tenant is an array or whose benefit is not a string, and reads them from the
// index on (t, s), never from a scan of the table.
func TestGroupCountDecodesOnlyWhatItCannotCount(t *testing.T) {
	dir := t.TempDir()
	_, c := testCollection(t, dir, index("t_s", true, "t", "s", "_id"))
	ctx := context.Background()

	var docs []*types.Document
	for i := range 2000 {
		docs = append(docs, doc("_id", fmt.Sprintf("c%d", i), "t", []string{"a", "b"}[i%2], "s", fmt.Sprintf("b%d", i%5), "pad", strings.Repeat("x", 50)))
	}

	docs = append(docs,
		doc("_id", "array", "t", must.NotFail(types.NewArray("a")), "s", "b0"), // matches {t: "a"} by an element
		doc("_id", "int", "t", "a", "s", int32(5)),                             // a group that is not a string
		doc("_id", "missing", "t", "a"),                                        // the null group
		doc("_id", "other", "t", "c", "s", "b0"),
	)

	if _, err := c.InsertAll(ctx, &backends.InsertAllParams{Docs: docs}); err != nil {
		t.Fatal(err)
	}

	filter := doc("t", "a")

	got, decoded, counted := groupCounts(t, c, filter, "s", true)
	want, _, _ := groupCounts(t, c, filter, "s", false)

	if !counted || !maps.Equal(got, want) {
		t.Fatalf("counted by the backend: %v\ncounted %v\nscan    %v", counted, got, want)
	}

	if got["s:b0"] != 201 || got["int32:5"] != 1 || got["null"] != 1 {
		t.Errorf("counts %v: want 201 b0 (200 and the array), one 5, one null", got)
	}

	if decoded != 3 {
		t.Errorf("%d documents decoded, want the 3 the backend cannot count", decoded)
	}

	// A registry of its own on the same files, for the collection's table and indexes.
	sp, err := state.NewProvider("")
	if err != nil {
		t.Fatal(err)
	}

	r, err := metadata.NewRegistry("file:"+dir+"/", 100, slog.New(slog.NewTextHandler(io.Discard, nil)), sp)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(r.Close)

	meta := r.CollectionGet(ctx, "test", "docs")
	q, args, ok := prepareGroupCountQuery(meta, filter, "s", "")

	if !ok {
		t.Fatal("not a group count")
	}

	rows, err := r.DatabaseGetExisting(ctx, "test").QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}

	defer rows.Close()

	var lines []string

	for rows.Next() {
		var id, parent, unused int
		var detail string

		if err = rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}

		lines = append(lines, detail)
	}

	plan := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", plan)

	if strings.Contains(plan, "SCAN") || !strings.Contains(plan, "USING INDEX") {
		t.Errorf("the group count does not search the index only:\n%s", plan)
	}
}
