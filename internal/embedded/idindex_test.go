package embedded

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// queryPlan asks SQLite how it runs the query FerretDB sends for a find by `_id`.
func queryPlan(t *testing.T, file, table string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"a"`)
	require.NoError(t, err)
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan += detail + "\n"
	}
	require.NoError(t, rows.Err())
	return plan
}

// A find by `_id` is an index search on FerretDB's own `_id` index (patched, see
// third_party/ferretdb/PATCHES.md), and the index earlier versions added for it is dropped.
func TestLookupsByIDUseFerretDBsIndexAndTheLegacyOneIsDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := Start(ctx, Config{DataDir: dir, Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close(ctx)) }()
	client, err := mongo.Connect(options.Client().ApplyURI(s.URI()))
	require.NoError(t, err)
	defer func() { _ = client.Disconnect(ctx) }()
	col := client.Database("idx").Collection("things")
	_, err = col.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}, bson.D{{Key: "_id", Value: "b"}, {Key: "n", Value: 2}}})
	require.NoError(t, err)

	file := filepath.Join(dir, "idx.sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	require.NoError(t, err)
	var table string
	require.NoError(t, db.QueryRow(`SELECT table_name FROM "_ferretdb_collections" WHERE name = 'things'`).Scan(&table))
	require.Contains(t, queryPlan(t, file, table), "USING INDEX "+table+"__id_")

	// What an earlier version left: its own index on the same expression.
	_, err = db.Exec(`CREATE INDEX "` + table + legacyIDIndexSuffix + `" ON "` + table + `" (_ferretdb_sjson->'$._id')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, s.DropLegacyIDIndexes(ctx, "idx"))
	require.NoError(t, s.DropLegacyIDIndexes(ctx, "idx"), "dropping again is a no-op")
	require.NotContains(t, queryPlan(t, file, table), legacyIDIndexSuffix)
	require.Contains(t, queryPlan(t, file, table), "USING INDEX "+table+"__id_")

	// FerretDB answers as before.
	var got bson.M
	require.NoError(t, col.FindOne(ctx, bson.D{{Key: "_id", Value: "b"}}).Decode(&got))
	require.EqualValues(t, 2, got["n"])
	_, err = col.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}})
	require.True(t, mongo.IsDuplicateKeyError(err), "FerretDB's unique _id index still holds: %v", err)
	specs, err := col.Indexes().ListSpecifications(ctx)
	require.NoError(t, err)
	require.Len(t, specs, 1)
	require.Equal(t, "_id_", specs[0].Name)
}

// The store's URI bounds the client's pool (see withMaxPoolSize), and keeps any other
// part of the URI FerretDB gives.
func TestURIBoundsThePool(t *testing.T) {
	require.Equal(t, "mongodb://127.0.0.1:1234/?maxPoolSize=8", withMaxPoolSize("mongodb://127.0.0.1:1234/", 8))
	require.Equal(t, "mongodb://127.0.0.1:1234/?directConnection=true&maxPoolSize=4", withMaxPoolSize("mongodb://127.0.0.1:1234/?directConnection=true", 4))
}
