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
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// PresortedIterator returns what SortIterator would, for an iter the backend has already
// ordered by sort (backends.QueryResult.Ordered), without reading it whole: a find with a
// limit then reads little more than it returns.
//
// The backend orders by the sort's first key, scalar values as the Go sort does, and puts
// every document whose first key is of another type (an array, a document, ...) first.
// So when the first document's first key is orderable, every document's is: the documents
// are passed on as they come, a run of equal first keys at a time, each run sorted in Go
// by the whole sort and checked to follow the run before. Otherwise everything is read and
// sorted in Go, exactly as SortIterator does.
func PresortedIterator(iter types.DocumentsIterator, closer *iterator.MultiCloser, sort *types.Document) (types.DocumentsIterator, error) { //nolint:lll // for readability
	if sort.Len() == 0 {
		return iter, nil
	}

	if _, err := sortFuncsFor(sort); err != nil {
		return nil, err
	}

	firstKey := must.NotFail(types.NewDocument(sort.Keys()[0], must.NotFail(sort.Get(sort.Keys()[0]))))

	funcs, err := sortFuncsFor(firstKey)
	if err != nil {
		return nil, err
	}

	path, err := types.NewPathFromString(sort.Keys()[0])
	if err != nil {
		return nil, err
	}

	_, first, err := iter.Next()
	if errors.Is(err, iterator.ErrIteratorDone) {
		return iter, nil
	}

	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	if !orderable(first, path) {
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
	next := first // the first document of the next run, nil at the end
	var run []*types.Document

	res := iterator.ForFunc(func() (struct{}, *types.Document, error) {
		if len(run) == 0 {
			if next == nil {
				return struct{}{}, nil, iterator.ErrIteratorDone
			}

			run = []*types.Document{next}
			next = nil

			for {
				_, doc, err := iter.Next()
				if errors.Is(err, iterator.ErrIteratorDone) {
					break
				}

				if err != nil {
					return struct{}{}, nil, err
				}

				less.docs = []*types.Document{run[0], doc}
				if !orderable(doc, path) || less.Less(1, 0) {
					return struct{}{}, nil, lazyerrors.Errorf("the backend's order broke at %s after %s",
						types.FormatAnyValue(doc), types.FormatAnyValue(run[0]))
				}

				if less.Less(0, 1) {
					next = doc
					break
				}

				run = append(run, doc)
			}

			if len(run) > 1 {
				if err := SortDocuments(run, sort); err != nil {
					return struct{}{}, nil, err
				}
			}
		}

		doc := run[0]
		run = run[1:]

		return struct{}{}, doc, nil
	})
	closer.Add(res)

	return res, nil
}

// orderable reports whether the document's first sort key is missing or of a type the
// backend orders as the Go sort does; it must agree with the backend exactly (the sqlite
// backend's metadata.SortExpr is not NULL).
func orderable(doc *types.Document, path types.Path) bool {
	v, err := doc.GetByPath(path)
	if err != nil {
		return true // missing: sorts as null
	}

	switch v.(type) {
	case types.NullType, int32, int64, string, types.ObjectID, bool, time.Time: // not float64: see metadata.SortExpr
		return true
	default:
		return false
	}
}
