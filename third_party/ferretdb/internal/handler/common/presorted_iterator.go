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
	"errors"
	"time"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// PresortedIterator returns what SortIterator would, for an iter the backend has already
// ordered by sort (backends.QueryResult.Ordered), without reading it whole: a find with a
// limit then reads only as many documents as it returns.
//
// The backend orders scalar sort keys as the Go sort does and puts every document whose
// sort key is of another type (an array, a document, ...) first. So when the first
// document's keys are all orderable, every document's are, and the documents are passed on
// as they come, each checked against the one before; otherwise everything is read and
// sorted in Go, exactly as SortIterator does.
func PresortedIterator(iter types.DocumentsIterator, closer *iterator.MultiCloser, sort *types.Document) (types.DocumentsIterator, error) { //nolint:lll // for readability
	if sort.Len() == 0 {
		return iter, nil
	}

	funcs, err := sortFuncsFor(sort)
	if err != nil {
		return nil, err
	}

	paths := make([]types.Path, 0, sort.Len())

	for _, k := range sort.Keys() {
		p, err := types.NewPathFromString(k)
		if err != nil {
			return nil, err
		}

		paths = append(paths, p)
	}

	_, first, err := iter.Next()
	if errors.Is(err, iterator.ErrIteratorDone) {
		return iter, nil
	}

	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	if !orderable(first, paths) {
		// Sort everything in Go, the first document included.
		sent := false
		all := iterator.ForFunc(func() (struct{}, *types.Document, error) {
			if !sent {
				sent = true
				return struct{}{}, first, nil
			}

			return iter.Next()
		})
		closer.Add(all)

		return SortIterator(all, closer, sort)
	}

	less := &docsSorter{sorts: funcs}
	prev := first
	sent := false

	res := iterator.ForFunc(func() (struct{}, *types.Document, error) {
		if !sent {
			sent = true
			return struct{}{}, first, nil
		}

		_, doc, err := iter.Next()
		if err != nil {
			return struct{}{}, nil, err
		}

		less.docs = []*types.Document{prev, doc}
		if !orderable(doc, paths) || less.Less(1, 0) {
			return struct{}{}, nil, lazyerrors.Errorf("the backend's order broke at %s after %s",
				types.FormatAnyValue(doc), types.FormatAnyValue(prev))
		}

		prev = doc

		return struct{}{}, doc, nil
	})
	closer.Add(res)

	return res, nil
}

// orderable reports whether each of the document's sort keys is missing or of a type the
// backend orders as the Go sort does; it must agree with the backend's flag exactly.
func orderable(doc *types.Document, paths []types.Path) bool {
	for _, p := range paths {
		v, err := doc.GetByPath(p)
		if err != nil {
			continue // missing: sorts as null
		}

		switch v.(type) {
		case types.NullType, int32, int64, string, types.ObjectID, bool, time.Time: // not float64: see the sqlite backend's orderRanks
		default:
			return false
		}
	}

	return true
}
