package mongodb

import (
	"bytes"
	"context"
	"fmt"

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

// maxBulk bounds the documents of one bulk insert (a variable only so that a test can
// split a small fixture into several inserts: SetMaxBulkForTest).
var maxBulk = 1000

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

// putEach writes docs, keyed by ids, as replace would each, in a few commands when most
// are new or unchanged: it reads the documents that exist (maxInIDs a query), inserts the
// others in bulk, and replaces each existing one that differs. keep, when set, adjusts a
// new document from the existing one first (an account keeps its creation time).
func putEach[T any](ctx context.Context, c *mongo.Collection, op string, ids []string, docs []T, keep func(old T, doc *T)) error {
	olds, err := findByIDs[bson.Raw](ctx, c, op, ids)
	if err != nil {
		return err
	}
	existing := make(map[string]bson.Raw, len(olds))
	for _, o := range olds {
		if id, ok := o.Lookup("_id").StringValueOK(); ok {
			existing[id] = o
		}
	}
	var fresh []any
	var freshAt []int
	for i := range docs {
		old, ok := existing[ids[i]]
		if !ok {
			fresh, freshAt = append(fresh, docs[i]), append(freshAt, i)
			continue
		}
		var o T
		if err := bson.Unmarshal(old, &o); err != nil {
			return fmt.Errorf("mongodb: %s: %w", op, err)
		}
		if keep != nil {
			keep(o, &docs[i])
		}
		if same, err := sameDoc(o, docs[i]); err != nil || !same {
			if err := replace(ctx, c, op, ids[i], docs[i]); err != nil {
				return err
			}
		}
	}
	// A document inserted meanwhile by another loader is replaced, as replace's upsert would.
	return insertEach(ctx, c, op, fresh, func(j int) error { return replace(ctx, c, op, ids[freshAt[j]], fresh[j]) })
}

// sameDoc reports whether two documents encode alike.
func sameDoc(a, b any) (bool, error) {
	x, err := bson.Marshal(a)
	if err != nil {
		return false, err
	}
	y, err := bson.Marshal(b)
	return err == nil && bytes.Equal(x, y), err
}

// PutTenants inserts or replaces tenants, as PutTenant does each.
func (s *Store) PutTenants(ctx context.Context, ts []domain.Tenant) error {
	ids, docs := make([]string, len(ts)), make([]tenantDoc, len(ts))
	for i, t := range ts {
		ids[i], docs[i] = t.ID, toTenantDoc(t)
	}
	return putEach(ctx, s.db.Collection(colTenants), "put tenant", ids, docs, nil)
}

// PutAccounts inserts accounts, or replaces each that exists keeping its creation time.
func (s *Store) PutAccounts(ctx context.Context, as []domain.Account) error {
	ids, docs := make([]string, len(as)), make([]accountDoc, len(as))
	for i, a := range as {
		ids[i], docs[i] = a.ID, toAccountDoc(a)
	}
	return putEach(ctx, s.db.Collection(colAccounts), "put account", ids, docs, func(old accountDoc, d *accountDoc) { d.CreatedAt = old.CreatedAt })
}

// PutMemberships inserts or replaces memberships, as PutMembership does each.
func (s *Store) PutMemberships(ctx context.Context, ms []domain.Membership) error {
	ids, docs := make([]string, len(ms)), make([]membershipDoc, len(ms))
	for i, m := range ms {
		docs[i] = toMembershipDoc(m)
		ids[i] = docs[i].ID
	}
	return putEach(ctx, s.db.Collection(colMemberships), "put membership", ids, docs, nil)
}

// InsertHeldOffers inserts held offers, as InsertHeldOffer does each, and returns each as
// stored, and how many it inserted: one the tenant holds already (R20) is left as it is
// and returned as read. A first load reads nothing back: the grants recorded next
// (RecordHeldGrants) come from what it inserted (issue 13: start to first answer).
func (s *Store) InsertHeldOffers(ctx context.Context, hs []domain.HeldOffer) (stored []domain.HeldOffer, inserted int, err error) {
	c := s.db.Collection(colHeldOffers)
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	kept := map[string]domain.HeldOffer{}
	keep := func(ids []string) error {
		ds, err := findByIDs[heldOfferDoc](ctx, c, "find held offers", ids)
		for _, d := range ds {
			kept[d.ID] = d.domain()
		}
		return err
	}
	if err := keep(ids); err != nil {
		return nil, 0, err
	}
	var docs []any
	var fresh []domain.HeldOffer
	for _, h := range hs {
		if _, ok := kept[h.ID]; !ok {
			docs, fresh = append(docs, toHeldOfferDoc(h)), append(fresh, h)
		}
	}
	var refused []string // inserted meanwhile by another loader, or held under another key
	err = insertEach(ctx, c, "insert held offer", docs, func(i int) error { refused = append(refused, fresh[i].ID); return nil })
	if err == nil && len(refused) > 0 {
		err = keep(refused)
	}
	if err != nil {
		return nil, 0, err
	}
	lost := make(map[string]bool, len(refused))
	for _, id := range refused {
		lost[id] = true
	}
	for _, h := range hs {
		if k, ok := kept[h.ID]; ok {
			stored = append(stored, k)
		} else if !lost[h.ID] {
			stored = append(stored, h)
		}
	}
	return stored, len(docs) - len(refused), nil
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

// LedgerHeads reads the saved ledger heads of many scopes, maxInIDs a query; a scope with
// none saved is not in the map.
func (s *Store) LedgerHeads(ctx context.Context, scopes []string) (map[string]domain.LedgerHead, error) {
	ds, err := findByIDs[ledgerHeadDoc](ctx, s.wdb.Collection(colLedgerHeads), "find ledger heads", scopes)
	if err != nil {
		return nil, err
	}
	out := make(map[string]domain.LedgerHead, len(ds))
	for _, d := range ds {
		out[d.ID] = d.head()
	}
	return out, nil
}

// SaveLedgerHeads saves many scopes' ledger heads as SaveLedgerHead does each: those
// that have none saved yet in bulk.
func (s *Store) SaveLedgerHeads(ctx context.Context, hs []domain.LedgerHead) error {
	ids, docs := make([]string, len(hs)), make([]ledgerHeadDoc, len(hs))
	for i, h := range hs {
		ids[i], docs[i] = h.Scope, toLedgerHeadDoc(h)
	}
	var err error
	s.inLane(func() { err = putEach(ctx, s.wdb.Collection(colLedgerHeads), "save ledger head", ids, docs, nil) })
	return err
}
