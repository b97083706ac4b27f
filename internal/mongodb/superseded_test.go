package mongodb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/testenv"
)

// A database an earlier version indexed loses the indexes a declared one replaced
// (requests {accountId, createdAt} by {accountId, createdAt, _id}), so that no insert
// maintains them for nothing (issue 13); a fresh database opens as well, and an index an
// operator added stays.
func TestOpen_DropsSupersededIndexesOnly(t *testing.T) {
	ctx := context.Background()
	name := testenv.NewDatabaseName()
	cl, err := mongo.Connect(options.Client().ApplyURI(testenv.StoreURI(t)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Database(name).Drop(ctx); _ = cl.Disconnect(ctx) })
	requests := cl.Database(name).Collection("requests")
	for _, keys := range []bson.D{
		{{Key: "accountId", Value: 1}, {Key: "createdAt", Value: -1}}, // an earlier version's
		{{Key: "title", Value: 1}},                                    // an operator's
	} {
		_, err := requests.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys})
		require.NoError(t, err)
	}
	st, err := mongodb.Open(ctx, testenv.StoreURI(t), name, mongodb.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(ctx) })
	specs, err := requests.Indexes().ListSpecifications(ctx)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	assert.False(t, names["accountId_1_createdAt_-1"], "superseded index dropped")
	assert.True(t, names["accountId_1_createdAt_-1__id_-1"], "its replacement is there")
	assert.True(t, names["title_1"], "an operator's index stays")

	again, err := mongodb.Open(ctx, testenv.StoreURI(t), name, mongodb.Options{})
	require.NoError(t, err, "opening again, with nothing to drop")
	_ = again.Close(ctx)
}
