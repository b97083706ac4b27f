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

package common

// This file is not part of upstream FerretDB v1.24.2; see PATCHES.md at the module's root.

import (
	"slices"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// TestProjectionIteratorWithoutProjection checks that a find without a projection gives
// what ProjectDocument gives (upstream's path): the document itself when its _id comes
// first, and a copy with _id moved first otherwise.
func TestProjectionIteratorWithoutProjection(t *testing.T) {
	nested := must.NotFail(types.NewDocument("x", int32(1), "y", must.NotFail(types.NewArray("a", int64(2)))))
	docs := []*types.Document{
		must.NotFail(types.NewDocument("_id", "r1", "tenantId", "t", "at", time.UnixMilli(1790000000000), "n", nested)),
		must.NotFail(types.NewDocument("tenantId", "t", "_id", "r2", "seq", int64(3))),
		must.NotFail(types.NewDocument("_id", types.ObjectID{1, 2, 3})),
	}

	for _, projection := range []*types.Document{nil, types.MakeDocument(0)} {
		closer := iterator.NewMultiCloser()
		iter, err := ProjectionIterator(iterator.Values(iterator.ForSlice(docs)), closer, projection, nil)
		if err != nil {
			t.Fatal(err)
		}

		for i, doc := range docs {
			_, got, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}

			want := must.NotFail(ProjectDocument(doc, types.MakeDocument(0), nil, false))
			if !types.Identical(got, want) || !slices.Equal(got.Keys(), want.Keys()) {
				t.Errorf("document %d: got %s, want %s", i, types.FormatAnyValue(got), types.FormatAnyValue(want))
			}

			if first := doc.Command() == "_id"; first != (got == doc) {
				t.Errorf("document %d: returned as is: %v, want %v", i, got == doc, first)
			}
		}

		closer.Close()
	}
}
