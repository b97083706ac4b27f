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
	"regexp"
	"sync"

	"github.com/FerretDB/FerretDB/internal/handler/common/aggregations"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// plainField is a top-level field name a group count may group by.
var plainField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// groupCount describes a pipeline the backend may help count (patched, PATCHES.md):
// exactly a $match with a filter document, then a $group whose _id is "$field" of a
// top-level field and whose only accumulator is {$sum: 1} (an int32 or int64 one), the
// shape of a count per value (and of the driver's CountDocuments but for its _id).
type groupCount struct {
	field string // the field grouped by
	name  string // the accumulator's output field
	one   any    // the $sum's argument: int32(1) or int64(1)
}

// groupCountOf returns the group count of a pipeline, if it is one.
func groupCountOf(pipeline []any) (groupCount, bool) {
	if len(pipeline) != 2 {
		return groupCount{}, false
	}

	match, ok := pipeline[0].(*types.Document)
	if !ok || match.Len() != 1 || match.Command() != "$match" {
		return groupCount{}, false
	}

	if _, ok = must.NotFail(match.Get("$match")).(*types.Document); !ok {
		return groupCount{}, false
	}

	group, ok := pipeline[1].(*types.Document)
	if !ok || group.Len() != 1 || group.Command() != "$group" {
		return groupCount{}, false
	}

	spec, ok := must.NotFail(group.Get("$group")).(*types.Document)
	if !ok || spec.Len() != 2 {
		return groupCount{}, false
	}

	var gc groupCount

	for _, k := range spec.Keys() {
		v := must.NotFail(spec.Get(k))

		if k == "_id" {
			s, isString := v.(string)
			if !isString || len(s) < 2 || s[0] != '$' || !plainField.MatchString(s[1:]) {
				return groupCount{}, false
			}

			gc.field = s[1:]

			continue
		}

		acc, isDoc := v.(*types.Document)
		if !isDoc || acc.Len() != 1 || !plainField.MatchString(k) {
			return groupCount{}, false
		}

		switch one := must.NotFail(acc.Get("$sum")).(type) {
		case int32:
			if one != 1 {
				return groupCount{}, false
			}

			gc.one = one
		case int64:
			if one != 1 {
				return groupCount{}, false
			}

			gc.one = one
		default:
			return groupCount{}, false
		}

		gc.name = k
	}

	if gc.field == "" || gc.name == "" {
		return groupCount{}, false
	}

	return gc, true
}

// countValue is $sum's result over n documents of the argument one, as the handler's
// accumulator gives it: int32 while an int32 one's total fits, otherwise int64.
func (gc groupCount) countValue(n int64) any {
	if _, ok := gc.one.(int32); ok && n <= math.MaxInt32 {
		return int32(n)
	}

	return n
}

// merge returns the $group stage's output docs with the backend's counts added: to the
// group of the same string value when the stage output one, as a group of its own
// otherwise.
func (gc groupCount) merge(docs []*types.Document, counts map[string]int64) []*types.Document {
	done := make(map[string]bool, len(counts))

	for _, d := range docs {
		key, ok := must.NotFail(d.Get("_id")).(string)
		if !ok {
			continue
		}

		n, ok := counts[key]
		if !ok {
			continue
		}

		d.Set(gc.name, aggregations.SumNumbers(must.NotFail(d.Get(gc.name)), gc.countValue(n)))
		done[key] = true
	}

	for key, n := range counts {
		if done[key] || n == 0 {
			continue
		}

		docs = append(docs, must.NotFail(types.NewDocument("_id", key, gc.name, gc.countValue(n))))
	}

	return docs
}

// mergedIterator returns iter's documents merged with counts (groupCount.merge). It reads
// all of iter first: the $group stage has read all of its input before its first output,
// so counts are complete then.
func (gc groupCount) mergedIterator(iter types.DocumentsIterator, counts map[string]int64) types.DocumentsIterator {
	return &mergedIterator{gc: gc, iter: iter, counts: counts}
}

// mergedIterator is groupCount.mergedIterator's.
type mergedIterator struct {
	m      sync.Mutex
	gc     groupCount
	iter   types.DocumentsIterator // nil once read
	counts map[string]int64
	docs   []*types.Document
}

// Next implements iterator.Interface.
func (m *mergedIterator) Next() (struct{}, *types.Document, error) {
	m.m.Lock()
	defer m.m.Unlock()

	if m.iter != nil {
		docs, err := iterator.ConsumeValues(m.iter) // closes it
		m.iter = nil

		if err != nil {
			return struct{}{}, nil, lazyerrors.Error(err)
		}

		m.docs = m.gc.merge(docs, m.counts)
	}

	if len(m.docs) == 0 {
		return struct{}{}, nil, iterator.ErrIteratorDone
	}

	d := m.docs[0]
	m.docs = m.docs[1:]

	return struct{}{}, d, nil
}

// Close implements iterator.Interface.
func (m *mergedIterator) Close() {
	m.m.Lock()
	defer m.m.Unlock()

	if m.iter != nil {
		m.iter.Close()
		m.iter = nil
	}

	m.docs = nil
}
