package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/testenv"
)

// BenchmarkStoreFind measures one find on the test store (the embedded FerretDB unless
// TEST_MONGODB_URI is set) as the collection grows, to show what a round trip costs there.
// The collection is shaped like links (an index on accountId, as the application creates)
// and holds 10, 1,000 or 10,000 documents; each b.Loop iteration finds the one document
// of an account, filtering on accountId as LinksOfAccount does, or on _id. Both use an index
// on the embedded store (third_party/ferretdb/PATCHES.md), so neither grows with n.
func BenchmarkStoreFind(b *testing.B) {
	ctx := context.Background()
	cl, err := mongo.Connect(options.Client().ApplyURI(testenv.StoreURI(b)))
	require.NoError(b, err)
	b.Cleanup(func() { _ = cl.Disconnect(context.Background()) })
	for _, n := range []int{10, 1000, 10000} {
		db := cl.Database(testenv.NewDatabaseName())
		b.Cleanup(func() { _ = db.Drop(context.Background()) })
		c := db.Collection("links")
		_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "accountId", Value: 1}}})
		require.NoError(b, err)
		docs := make([]any, 0, 1000)
		for i := range n {
			acct := fmt.Sprintf("account-%06d", i)
			docs = append(docs, bson.D{{Key: "_id", Value: acct + "/benefit"}, {Key: "tenantId", Value: "tenant"}, {Key: "accountId", Value: acct},
				{Key: "benefitId", Value: "benefit"}, {Key: "portal", Value: "AZURE"}, {Key: "createdAt", Value: time.Now()}})
			if len(docs) == cap(docs) || i == n-1 {
				_, err := c.InsertMany(ctx, docs)
				require.NoError(b, err)
				docs = docs[:0]
			}
		}
		for _, by := range []string{"accountId", "_id"} {
			b.Run(fmt.Sprintf("docs=%d/by=%s", n, by), func(b *testing.B) {
				filter := bson.D{{Key: "accountId", Value: "account-000007"}}
				if by == "_id" {
					filter = bson.D{{Key: "_id", Value: "account-000007/benefit"}}
				}
				k := 0
				start := time.Now()
				for b.Loop() {
					cur, err := c.Find(ctx, filter)
					require.NoError(b, err)
					var out []bson.Raw
					require.NoError(b, cur.All(ctx, &out))
					require.Len(b, out, 1)
					k++
				}
				b.ReportMetric(float64(time.Since(start))/float64(time.Millisecond)/float64(k), "ms/find")
				b.ReportMetric(0, "ns/op") // the same figure as ms/find
			})
		}
	}
}
