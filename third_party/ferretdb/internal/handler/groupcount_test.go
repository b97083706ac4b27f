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

package handler

// This file is not part of upstream FerretDB v1.24.2; see PATCHES.md at the module's root.

import (
	"math"
	"testing"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

func d(pairs ...any) *types.Document { return must.NotFail(types.NewDocument(pairs...)) }

// TestGroupCountOf checks which pipelines the backend may help count: exactly a $match
// and a $group by a top-level field with one {$sum: 1}.
func TestGroupCountOf(t *testing.T) {
	match := d("$match", d("tenantId", "t"))
	group := func(spec *types.Document) *types.Document { return d("$group", spec) }

	for name, tc := range map[string]struct {
		pipeline []any
		want     groupCount
		ok       bool
	}{
		"int32 one":        {[]any{match, group(d("_id", "$benefitId", "n", d("$sum", int32(1))))}, groupCount{"benefitId", "n", int32(1)}, true},
		"int64 one":        {[]any{match, group(d("n", d("$sum", int64(1)), "_id", "$b"))}, groupCount{"b", "n", int64(1)}, true},
		"sum of two":       {[]any{match, group(d("_id", "$b", "n", d("$sum", int32(2))))}, groupCount{}, false},
		"double one":       {[]any{match, group(d("_id", "$b", "n", d("$sum", 1.0)))}, groupCount{}, false},
		"sum of a field":   {[]any{match, group(d("_id", "$b", "n", d("$sum", "$x")))}, groupCount{}, false},
		"dotted group":     {[]any{match, group(d("_id", "$b.c", "n", d("$sum", int32(1))))}, groupCount{}, false},
		"constant group":   {[]any{match, group(d("_id", int32(1), "n", d("$sum", int32(1))))}, groupCount{}, false},
		"variable group":   {[]any{match, group(d("_id", "$$ROOT", "n", d("$sum", int32(1))))}, groupCount{}, false},
		"two accumulators": {[]any{match, group(d("_id", "$b", "n", d("$sum", int32(1)), "m", d("$sum", int32(1))))}, groupCount{}, false},
		"no match":         {[]any{group(d("_id", "$b", "n", d("$sum", int32(1))))}, groupCount{}, false},
		"a third stage":    {[]any{match, group(d("_id", "$b", "n", d("$sum", int32(1)))), d("$limit", int32(1))}, groupCount{}, false},
		"match first?":     {[]any{group(d("_id", "$b", "n", d("$sum", int32(1)))), match}, groupCount{}, false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := groupCountOf(tc.pipeline)
			if ok != tc.ok || got != tc.want {
				t.Errorf("groupCountOf = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestGroupCountMerge checks that the backend's counts join the $group stage's output as
// the handler's own $sum would have counted them: added to a string group it also found,
// a group of their own otherwise, int32 while the total fits and int64 beyond.
func TestGroupCountMerge(t *testing.T) {
	gc := groupCount{field: "b", name: "n", one: int32(1)}

	docs := []*types.Document{
		d("_id", "x", "n", int32(2)),      // found in Go too (an array, say)
		d("_id", int32(5), "n", int32(1)), // not a string: the backend never counts it
		d("_id", types.Null, "n", int32(1)),
		d("_id", "big", "n", int32(math.MaxInt32)),
	}

	got := gc.merge(docs, map[string]int64{"x": 3, "y": 4, "big": 1})

	want := map[string]any{"x": int32(5), "int32(5)": int32(1), "null": int32(1), "big": int64(math.MaxInt32) + 1, "y": int32(4)}
	if len(got) != len(want) {
		t.Fatalf("%d groups, want %d: %v", len(got), len(want), got)
	}

	for _, doc := range got {
		key := must.NotFail(doc.Get("_id"))

		var k string
		switch key := key.(type) {
		case string:
			k = key
		case int32:
			k = "int32(5)"
		case types.NullType:
			k = "null"
		}

		if n := must.NotFail(doc.Get("n")); n != want[k] {
			t.Errorf("group %v: n = %#v, want %#v", key, n, want[k])
		}

		if doc.Keys()[0] != "_id" {
			t.Errorf("group %v: fields %v, want _id first", key, doc.Keys())
		}
	}

	if v := (groupCount{one: int64(1)}).countValue(3); v != int64(3) {
		t.Errorf("an int64 one counts %#v, want int64(3)", v)
	}
}
