package ferretdb

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// BenchmarkInsertWithIndexes is the cost of one document inserted, one at a time and a
// hundred per command, into a collection shaped like the project's support requests:
// without secondary indexes and with the project's two (five indexed fields).
func BenchmarkInsertWithIndexes(b *testing.B) {
	ctx := context.Background()
	client := startEmbedded(b, ctx)
	at := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	doc := func(i int) bson.D {
		return bson.D{{Key: "_id", Value: fmt.Sprintf("req_%09d", i)}, {Key: "tenantId", Value: fmt.Sprintf("t%04d", i%2000)},
			{Key: "accountId", Value: fmt.Sprintf("acct_%04d", i%2000)}, {Key: "benefitId", Value: "plan"}, {Key: "title", Value: "a title"},
			{Key: "type", Value: "TECHNICAL"}, {Key: "createdAt", Value: primitive.NewDateTimeFromTime(at.Add(time.Duration(i) * time.Second))},
			{Key: "consumed", Value: true}, {Key: "portal", Value: "MICROSOFT_365"}}
	}
	for _, indexed := range []bool{false, true} {
		for _, per := range []int{1, 100} {
			b.Run(fmt.Sprintf("indexed=%v/per=%d", indexed, per), func(b *testing.B) {
				c := client.Database("bench").Collection(fmt.Sprintf("requests_%v_%d", indexed, per))
				if indexed {
					_, err := c.Indexes().CreateMany(ctx, []mongo.IndexModel{
						{Keys: bson.D{{Key: "accountId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}},
						{Keys: bson.D{{Key: "createdAt", Value: -1}}},
					})
					require.NoError(b, err)
				}
				n := 0
				cpu0 := cpuTime()
				for b.Loop() {
					docs := make([]any, per)
					for i := range docs {
						docs[i] = doc(n)
						n++
					}
					_, err := c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
					require.NoError(b, err)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/doc")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/doc")
			})
		}
	}
}

// cpuTime is the CPU time this process used (user and system): the store runs in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
