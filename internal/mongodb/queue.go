package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

// The support provider's queue (R25): the open requests across tenants, oldest first,
// filterable by portal and plan kind. An open request is one whose closedAt is absent or
// null; each filter has an index that starts with closedAt and ends with the sort, so a
// page reads only its own entries, on MongoDB and on the patched embedded store alike,
// which reads them in the index's order (TestHotQueriesUseIndexes). The queue
// is across tenants by nature, so these indexes do not start with tenantId and reach
// every shard; none of them carries a guarantee.
var queueIndexes = map[string][]mongo.IndexModel{
	colRequests: {
		{Keys: bson.D{{Key: "closedAt", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
		{Keys: bson.D{{Key: "closedAt", Value: 1}, {Key: "portal", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
		{Keys: bson.D{{Key: "closedAt", Value: 1}, {Key: "planKind", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
		{Keys: bson.D{{Key: "closedAt", Value: 1}, {Key: "portal", Value: 1}, {Key: "planKind", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
	},
}

// MarkRequestClosed sets the request's closedAt, taking it off the queue, with the
// closure that won and, when refunded, that its refund is recorded. Concurrent marks of
// one request note the same closure (the one that won); a refund noted may be lost to a
// concurrent mark that does not note it (the embedded store's updates are not atomic),
// which only makes withClosures look the refund up.
func (s *Store) MarkRequestClosed(ctx context.Context, c domain.Closure, refunded bool) error {
	set := bson.D{{Key: "closedAt", Value: c.At}, {Key: "closeReason", Value: string(c.Reason)}, {Key: "closedBy", Value: c.By}}
	if refunded {
		set = append(set, bson.E{Key: "refunded", Value: true})
	}
	_, err := s.db.Collection(colRequests).UpdateOne(ctx, bson.D{{Key: "_id", Value: c.RequestID}}, bson.D{{Key: "$set", Value: set}})
	return mapErr("mark request closed", err)
}

// OpenRequests lists a page of the queue, oldest first, after the cursor.
func (s *Store) OpenRequests(ctx context.Context, q domain.QueueQuery) ([]domain.SupportRequest, error) {
	filter := bson.D{{Key: "closedAt", Value: nil}}
	if q.Portal != "" {
		filter = append(filter, bson.E{Key: "portal", Value: string(q.Portal)})
	}
	if q.PlanKind != "" {
		filter = append(filter, bson.E{Key: "planKind", Value: string(q.PlanKind)})
	}
	if q.After != nil {
		// The $gte bounds the index range; the $or alone is not an index bound on the
		// embedded store.
		filter = append(filter, bson.E{Key: "createdAt", Value: bson.D{{Key: "$gte", Value: q.After.CreatedAt}}}, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gt", Value: q.After.CreatedAt}}}},
			bson.D{{Key: "createdAt", Value: q.After.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}})
	}
	ds, err := findAll[requestDoc](ctx, s.db.Collection(colRequests), "find open requests", filter,
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, err
	}
	return s.withClosures(ctx, ds)
}
