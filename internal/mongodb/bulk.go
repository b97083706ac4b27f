package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

// Fixture loads (internal/seed) write thousands of tenants, accounts, memberships and held
// offers on a first start (issue 13: start to first answer). One replace per document
// costs a command, and on the embedded store a transaction, each; these write them with
// one unordered insert per maxBulk documents (one SQLite transaction per hundred on the
// embedded store), and fall back to the single-document write only for documents that
// exist already. What each document ends as is what the single-document write gives.

// maxBulk bounds the documents of one bulk insert.
const maxBulk = 1000

// insertEach inserts docs unordered, maxBulk at a time, under the collection's unique
// indexes: each document is inserted or refused on its own. existing is called with the
// index of each document refused as a duplicate (ECONFLICT); any other failure is
// returned.
func insertEach(ctx context.Context, c *mongo.Collection, op string, docs []any, existing func(i int) error) error {
	for base := 0; base < len(docs); base += maxBulk {
		part := docs[base:min(base+maxBulk, len(docs))]
		ws := make([]*write, len(part))
		for i, d := range part {
			ws[i] = &write{doc: d}
		}
		_, err := c.InsertMany(ctx, part, options.InsertMany().SetOrdered(false))
		spread(op, ws, err)
		for i, w := range ws {
			switch {
			case w.err == nil:
			case domain.ErrorCode(w.err) == domain.ECONFLICT:
				if err := existing(base + i); err != nil {
					return err
				}
			default:
				return w.err
			}
		}
	}
	return nil
}

// PutTenants inserts or replaces tenants, as PutTenant does each.
func (s *Store) PutTenants(ctx context.Context, ts []domain.Tenant) error {
	docs := make([]any, len(ts))
	for i, t := range ts {
		docs[i] = toTenantDoc(t)
	}
	c := s.db.Collection(colTenants)
	return insertEach(ctx, c, "put tenant", docs, func(i int) error { return replace(ctx, c, "put tenant", ts[i].ID, docs[i]) })
}

// PutAccounts inserts accounts, or replaces each that exists keeping its creation time.
func (s *Store) PutAccounts(ctx context.Context, as []domain.Account) error {
	docs := make([]any, len(as))
	for i, a := range as {
		docs[i] = toAccountDoc(a)
	}
	c := s.db.Collection(colAccounts)
	return insertEach(ctx, c, "put account", docs, func(i int) error {
		a := as[i]
		if existing, err := s.Account(ctx, a.ID); err == nil {
			a.CreatedAt = existing.CreatedAt
		}
		return replace(ctx, c, "put account", a.ID, toAccountDoc(a))
	})
}

// PutMemberships inserts or replaces memberships, as PutMembership does each.
func (s *Store) PutMemberships(ctx context.Context, ms []domain.Membership) error {
	docs := make([]any, len(ms))
	for i, m := range ms {
		docs[i] = toMembershipDoc(m)
	}
	c := s.db.Collection(colMemberships)
	return insertEach(ctx, c, "put membership", docs, func(i int) error {
		return replace(ctx, c, "put membership", docs[i].(membershipDoc).ID, docs[i])
	})
}

// InsertHeldOffers inserts held offers, as InsertHeldOffer does each, and returns how
// many it inserted: one the tenant holds already (R20) is left as it is.
func (s *Store) InsertHeldOffers(ctx context.Context, hs []domain.HeldOffer) (int, error) {
	docs := make([]any, len(hs))
	for i, h := range hs {
		docs[i] = toHeldOfferDoc(h)
	}
	existing := 0
	err := insertEach(ctx, s.db.Collection(colHeldOffers), "insert held offer", docs, func(int) error { existing++; return nil })
	return len(hs) - existing, err
}

// HeldOffersOfTenants lists the held offers of the given tenants, maxInIDs tenants a
// query (on heldOffers {tenantId}).
func (s *Store) HeldOffersOfTenants(ctx context.Context, tenantIDs []string) ([]domain.HeldOffer, error) {
	var out []domain.HeldOffer
	for len(tenantIDs) > 0 {
		n := min(len(tenantIDs), maxInIDs)
		hs, err := s.heldOffers(ctx, bson.D{{Key: "tenantId", Value: bson.D{{Key: "$in", Value: tenantIDs[:n]}}}})
		if err != nil {
			return nil, err
		}
		out, tenantIDs = append(out, hs...), tenantIDs[n:]
	}
	return out, nil
}

// SequencedEvents reports, for each event, whether its scope's ledger has it: one lookup
// by _id per maxInIDs events, where EventSequenced is one per event.
func (s *Store) SequencedEvents(ctx context.Context, es []domain.Event) ([]bool, error) {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.TenantID + "/" + e.ID
	}
	ds, err := findByIDs[struct {
		ID string `bson:"_id"`
	}](ctx, s.db.Collection(colEvents), "find events", keys, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(ds))
	for _, d := range ds {
		have[d.ID] = true
	}
	out := make([]bool, len(es))
	for i, k := range keys {
		out[i] = have[k]
	}
	return out, nil
}
