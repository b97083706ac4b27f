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

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
	"github.com/FerretDB/FerretDB/internal/util/state"
)

// TestWritesAndReadsKeepTheirStatements checks that the backend's inserts, updates, deletes
// and finds of one shape run kept statements (PATCHES.md, 13): the statements prepared do
// not grow with the calls.
func TestWritesAndReadsKeepTheirStatements(t *testing.T) {
	ctx := context.Background()

	sp, err := state.NewProvider("")
	require.NoError(t, err)

	r, err := metadata.NewRegistry("file:"+t.TempDir()+"/", 100, slog.New(slog.NewTextHandler(io.Discard, nil)), sp)
	require.NoError(t, err)
	t.Cleanup(r.Close)

	c := newCollection(r, "test", "docs")

	create := func(i int) *types.Document { return doc("_id", fmt.Sprint("id", i), "tenantId", "t1", "n", int32(i)) }

	// one of each, so that every statement is prepared: an insert's, prepared after it ran
	// uncached in its transaction, by a goroutine of the cache
	_, err = c.InsertAll(ctx, &backends.InsertAllParams{Docs: []*types.Document{create(-1)}})
	require.NoError(t, err)

	db := r.DatabaseGetExisting(ctx, "test")
	require.NotNil(t, db)

	deadline := time.Now().Add(10 * time.Second)
	for db.StmtCacheStats().Prepares == 0 {
		require.True(t, time.Now().Before(deadline), "the insert's statement was not kept within 10 s")
		time.Sleep(time.Millisecond)
	}

	const calls = 40

	for i := range calls {
		_, err = c.InsertAll(ctx, &backends.InsertAllParams{Docs: []*types.Document{create(i)}})
		require.NoError(t, err)

		_, err = c.UpdateAll(ctx, &backends.UpdateAllParams{Docs: []*types.Document{doc("_id", fmt.Sprint("id", i), "tenantId", "t1", "n", int32(-i))}})
		require.NoError(t, err)

		res, err := c.Query(ctx, &backends.QueryParams{Filter: doc("_id", fmt.Sprint("id", i))})
		require.NoError(t, err)

		docs, err := iterator.ConsumeValues(res.Iter)
		require.NoError(t, err)
		require.Len(t, docs, 1)
		n, _ := docs[0].Get("n")
		assert.Equal(t, int32(-i), n)

		res, err = c.Query(ctx, &backends.QueryParams{Filter: doc("tenantId", "t1")})
		require.NoError(t, err)

		docs, err = iterator.ConsumeValues(res.Iter)
		require.NoError(t, err)
		require.Len(t, docs, i+2)

		_, err = c.DeleteAll(ctx, &backends.DeleteAllParams{IDs: []any{fmt.Sprint("id", i-100)}})
		require.NoError(t, err)
	}

	before := db.StmtCacheStats()

	for i := range calls {
		_, err = c.InsertAll(ctx, &backends.InsertAllParams{Docs: []*types.Document{create(calls + i)}})
		require.NoError(t, err)

		_, err = c.UpdateAll(ctx, &backends.UpdateAllParams{Docs: []*types.Document{create(calls + i)}})
		require.NoError(t, err)

		res, err := c.Query(ctx, &backends.QueryParams{Filter: doc("_id", fmt.Sprint("id", calls+i))})
		require.NoError(t, err)
		_, err = iterator.ConsumeValues(res.Iter)
		require.NoError(t, err)

		res, err = c.Query(ctx, &backends.QueryParams{Filter: doc("tenantId", "t1")})
		require.NoError(t, err)
		_, err = iterator.ConsumeValues(res.Iter)
		require.NoError(t, err)

		_, err = c.DeleteAll(ctx, &backends.DeleteAllParams{IDs: []any{fmt.Sprint("id", i-100)}})
		require.NoError(t, err)
	}

	after := db.StmtCacheStats()

	assert.Equal(t, before.Prepares, after.Prepares, "no statement prepared again: %+v", after)
	assert.GreaterOrEqual(t, after.Hits-before.Hits, int64(5*calls), "%+v", after)
}
