package ferretdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// An ordered insert stops at its first failing document, however many documents come
// after it: upstream stopped only within the handler's batch of 100 and inserted every
// later batch (PATCHES.md, 7). 250 documents, the 151st a duplicate key: exactly the 150
// before it are stored, and the error names index 150. An unordered insert of the same
// documents stores every one but the duplicate.
func TestOrderedInsertStopsAtTheFirstError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := startEmbedded(t, ctx)
	var err error

	for _, ordered := range []bool{true, false} {
		c := client.Database("test").Collection(fmt.Sprintf("ordered_%v", ordered))
		_, err = c.InsertOne(ctx, bson.D{{Key: "_id", Value: 150}})
		require.NoError(t, err)
		docs := make([]any, 250)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: i}}
		}
		_, err = c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(ordered))
		var bwe mongo.BulkWriteException
		require.ErrorAs(t, err, &bwe)
		require.Len(t, bwe.WriteErrors, 1)
		require.Equal(t, 150, bwe.WriteErrors[0].Index)
		n, err := c.CountDocuments(ctx, bson.D{})
		require.NoError(t, err)
		if ordered {
			require.EqualValues(t, 151, n, "the 150 documents before the duplicate, and the duplicate's original")
			later, err := c.CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: 150}}}})
			require.NoError(t, err)
			require.Zero(t, later, "nothing after the duplicate")
		} else {
			require.EqualValues(t, 250, n, "every document but the duplicate, and its original")
		}
	}
}

// startEmbedded runs FerretDB on SQLite in a temporary directory, as the project's
// embedded store does, until the test ends, and returns a client of it.
func startEmbedded(t testing.TB, ctx context.Context) *mongo.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	f, err := New(&Config{Listener: ListenerConfig{TCP: addr}, Handler: "sqlite", SQLiteURL: "file:" + t.TempDir() + "/?_pragma=synchronous(normal)" + os.Getenv("FDB_PRAGMAS")})
	require.NoError(t, err)
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(rctx); close(done) }()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(f.MongoDBURI()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(context.Background()); stop(); <-done })
	require.Eventually(t, func() bool { return client.Ping(ctx, nil) == nil }, 30*time.Second, 10*time.Millisecond)
	return client
}
