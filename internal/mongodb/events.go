package mongodb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

type eventDoc struct {
	ID        string    `bson:"_id"`     // scope + "/" + event ID: an event is sequenced once
	EventID   string    `bson:"eventId"` // the deterministic event ID
	TenantID  string    `bson:"tenantId"`
	Seq       int64     `bson:"seq,omitempty"`
	Kind      string    `bson:"kind"`
	BenefitID string    `bson:"benefitId,omitempty"`
	PlanName  string    `bson:"planName,omitempty"`
	RequestID string    `bson:"requestId,omitempty"`
	ActorID   string    `bson:"actorId,omitempty"`
	Reason    string    `bson:"reason,omitempty"`
	At        time.Time `bson:"at"`
	Delta     int       `bson:"delta"`
	Quota     int       `bson:"quota"`
	Unlimited bool      `bson:"unlimited,omitempty"`
	Used      int       `bson:"used"`
	Remaining int       `bson:"remaining"`
}

func toEventDoc(e domain.Event) eventDoc {
	return eventDoc{ID: e.TenantID + "/" + e.ID, EventID: e.ID, TenantID: e.TenantID, Seq: e.Seq, Kind: string(e.Kind), BenefitID: e.BenefitID,
		PlanName: e.PlanName, RequestID: e.RequestID, ActorID: e.ActorID, Reason: e.Reason, At: e.At, Delta: e.Delta, Quota: e.Quota,
		Unlimited: e.Unlimited, Used: e.Used, Remaining: e.Remaining}
}

func (d eventDoc) domain() domain.Event {
	return domain.Event{ID: d.EventID, TenantID: d.TenantID, Seq: d.Seq, Kind: domain.EventKind(d.Kind), BenefitID: d.BenefitID, PlanName: d.PlanName,
		RequestID: d.RequestID, ActorID: d.ActorID, Reason: d.Reason, At: d.At.UTC(), Delta: d.Delta, Quota: d.Quota, Unlimited: d.Unlimited,
		Used: d.Used, Remaining: d.Remaining}
}

// RecordEvent puts an event in the outbox; the same ID twice is a no-op.
func (s *Store) RecordEvent(ctx context.Context, e domain.Event) error {
	e.Seq = 0
	if err := s.outbox.do(ctx, &write{doc: toEventDoc(e)}); domain.ErrorCode(err) != domain.ECONFLICT {
		return err
	}
	return nil
}

// PendingEvents lists a scope's outbox, oldest first.
func (s *Store) PendingEvents(ctx context.Context, scope string, limit int) ([]domain.Event, error) {
	ds, err := findAll[eventDoc](ctx, s.wdb.Collection(colOutbox), "find pending events", bson.D{{Key: "tenantId", Value: scope}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	return eventsOf(ds), err
}

// HasPendingEvents reports whether a scope's outbox holds an event: one row of the
// index outbox {tenantId, at, _id} at most, unsorted.
func (s *Store) HasPendingEvents(ctx context.Context, scope string) (bool, error) {
	ds, err := findAll[struct {
		ID string `bson:"_id"`
	}](ctx, s.wdb.Collection(colOutbox), "find pending events", bson.D{{Key: "tenantId", Value: scope}},
		options.Find().SetLimit(1).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	return len(ds) > 0, err
}

func eventsOf(ds []eventDoc) []domain.Event {
	out := make([]domain.Event, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out
}

// ScopesWithPendingEvents lists the scopes whose outbox is not empty. (An aggregation,
// not distinct: FerretDB refuses distinct with the maxTimeMS the driver adds under a
// context deadline.)
func (s *Store) ScopesWithPendingEvents(ctx context.Context) ([]string, error) {
	cur, err := s.db.Collection(colOutbox).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$tenantId"}}}},
	})
	if err != nil {
		return nil, mapErr("find pending scopes", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, mapErr("find pending scopes", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out, nil
}

// AppendEvents stores sequenced events of one scope, in order, in one ordered insert that
// stops at the first event it cannot store: it returns how many it stored, and why the
// next one failed. The _id (scope and event ID) keeps an event from being sequenced
// twice (ErrAlreadySequenced); the unique (tenantId, seq) key keeps two events from one
// number (ErrSeqTaken). An insert is atomic per document on both stores, and ordered, so
// a collision never leaves a later event stored after a gap.
func (s *Store) AppendEvents(ctx context.Context, es []domain.Event) (int, error) {
	if len(es) == 0 {
		return 0, nil
	}
	docs := make([]any, len(es))
	for i, e := range es {
		docs[i] = toEventDoc(e)
	}
	var err error
	s.inLane(func() {
		_, err = s.wdb.Collection(colEvents).InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
	})
	if err == nil {
		return len(es), nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 || bwe.WriteConcernError != nil {
		return 0, mapErr("append events", err) // the outcome is unknown: none is known stored
	}
	first := slices.MinFunc(bwe.WriteErrors, func(a, b mongo.BulkWriteError) int { return a.Index - b.Index })
	n := first.Index
	if n < 0 || n >= len(es) {
		return 0, fmt.Errorf("mongodb: append events: write error at index %d of %d", n, len(es))
	}
	if !mongo.IsDuplicateKeyError(mongo.WriteException{WriteErrors: []mongo.WriteError{first.WriteError}}) {
		return n, mapErr("append events", err)
	}
	id := es[n].TenantID + "/" + es[n].ID
	if _, ferr := findOne[eventDoc](ctx, s.wdb.Collection(colEvents), "find event", bson.D{{Key: "_id", Value: id}}); ferr == nil {
		return n, domain.ErrAlreadySequenced
	} else if domain.ErrorCode(ferr) != domain.ENOTFOUND {
		return n, ferr
	}
	return n, domain.ErrSeqTaken
}

// EventSequenced reports whether the scope's ledger has the event (a lookup by _id).
func (s *Store) EventSequenced(ctx context.Context, scope, id string) (bool, error) {
	_, err := findOne[eventDoc](ctx, s.db.Collection(colEvents), "find event", bson.D{{Key: "_id", Value: scope + "/" + id}})
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

// DropPending removes events from the outbox; removing a missing one is fine.
func (s *Store) DropPending(ctx context.Context, scope string, ids ...string) error {
	if len(ids) == 1 {
		return s.unbox.do(ctx, &write{doc: scope + "/" + ids[0]})
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = scope + "/" + id
	}
	for len(keys) > 0 {
		n := min(len(keys), maxInIDs)
		var err error
		s.inLane(func() {
			_, err = s.wdb.Collection(colOutbox).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys[:n]}}}})
		})
		if err != nil {
			return mapErr("drop pending events", err)
		}
		keys = keys[n:]
	}
	return nil
}

// LastEvent is the scope's highest-sequenced event.
func (s *Store) LastEvent(ctx context.Context, scope string) (domain.Event, error) {
	ds, err := s.newestEvents(ctx, scope, 0, 0, 1)
	if err != nil {
		return domain.Event{}, err
	}
	if len(ds) == 0 {
		return domain.Event{}, &domain.Error{Code: domain.ENOTFOUND, Message: "no events"}
	}
	return ds[0].domain(), nil
}

// ledgerHeadDoc is a saved domain.LedgerHead, keyed by its scope so that reading it is
// one lookup by _id (the only kind the embedded store answers from an index). The used
// counts are a list, not a map: benefit IDs contain dots.
type ledgerHeadDoc struct {
	ID   string    `bson:"_id"`
	Seq  int64     `bson:"seq"`
	Used []usedDoc `bson:"used"`
	// SavedAt is this process's wall clock when it saved the head: the live feeds of
	// every instance poll for heads saved lately (ScopesChangedSince).
	SavedAt time.Time `bson:"savedAt"`
}

type usedDoc struct {
	BenefitID string `bson:"benefitId"`
	Used      int    `bson:"used"`
}

// LedgerHead reads a scope's saved ledger head.
func (s *Store) LedgerHead(ctx context.Context, scope string) (domain.LedgerHead, error) {
	return s.ledgerHead(ctx, s.wdb, scope)
}

func (s *Store) ledgerHead(ctx context.Context, db *mongo.Database, scope string) (domain.LedgerHead, error) {
	d, err := findOne[ledgerHeadDoc](ctx, db.Collection(colLedgerHeads), "find ledger head", bson.D{{Key: "_id", Value: scope}})
	if err != nil {
		return domain.LedgerHead{}, err
	}
	return d.head(), nil
}

func (d ledgerHeadDoc) head() domain.LedgerHead {
	h := domain.LedgerHead{Scope: d.ID, Seq: d.Seq, Used: make(map[string]int, len(d.Used))}
	for _, u := range d.Used {
		h.Used[u.BenefitID] = u.Used
	}
	return h
}

func toLedgerHeadDoc(h domain.LedgerHead) ledgerHeadDoc {
	d := ledgerHeadDoc{ID: h.Scope, Seq: h.Seq, Used: make([]usedDoc, 0, len(h.Used)), SavedAt: time.Now().UTC()}
	for _, b := range slices.Sorted(maps.Keys(h.Used)) {
		d.Used = append(d.Used, usedDoc{BenefitID: b, Used: h.Used[b]})
	}
	return d
}

// SaveLedgerHead replaces a scope's saved ledger head. Two first saves that race may
// collide on the _id; the head is a hint, so the loser's is dropped.
func (s *Store) SaveLedgerHead(ctx context.Context, h domain.LedgerHead) error {
	d := toLedgerHeadDoc(h)
	err := s.heads.do(ctx, &write{id: d.ID, doc: d})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return nil
	}
	return err
}

// ScopesChangedSince lists the scopes whose ledger head was saved at or after since, by
// any instance (index ledgerHeads {savedAt}): the one query with which an instance's live
// feed learns of the events other instances sequenced, for every tenant at once, instead
// of each tenant's tailer polling its events. A head is saved after every sequencing
// round; one whose save failed is found by the tailers' slow fallback poll.
func (s *Store) ScopesChangedSince(ctx context.Context, since time.Time) ([]string, error) {
	ds, err := findAll[ledgerHeadDoc](ctx, s.db.Collection(colLedgerHeads), "find changed ledger heads",
		bson.D{{Key: "savedAt", Value: bson.D{{Key: "$gte", Value: since.UTC()}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out, nil
}

// FoldLedger reads a scope's whole ledger, in sequence order, into its head.
func (s *Store) FoldLedger(ctx context.Context, scope string) (domain.LedgerHead, error) {
	return s.FoldLedgerAfter(ctx, domain.LedgerHead{Scope: scope})
}

// FoldLedgerAfter brings a head up to the ledger's end: it reads the scope's events after
// h.Seq, in sequence order (index events {tenantId, seq}), a page at a time, and applies
// each to a copy of h.
func (s *Store) FoldLedgerAfter(ctx context.Context, h domain.LedgerHead) (domain.LedgerHead, error) {
	out := domain.LedgerHead{Scope: h.Scope, Seq: h.Seq, Used: maps.Clone(h.Used)}
	if out.Used == nil {
		out.Used = map[string]int{}
	}
	const page = 1000
	for {
		ds, err := findAll[eventDoc](ctx, s.wdb.Collection(colEvents), "fold ledger",
			bson.D{{Key: "tenantId", Value: h.Scope}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: out.Seq}}}},
			options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(page).
				SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "benefitId", Value: 1}, {Key: "used", Value: 1}}))
		if err != nil {
			return domain.LedgerHead{}, err
		}
		for _, d := range ds {
			out.Seq = d.Seq
			if d.BenefitID != "" {
				out.Used[d.BenefitID] = d.Used
			}
		}
		if len(ds) < page {
			return out, nil
		}
	}
}

// Events lists a scope's events with after < seq < before.
func (s *Store) Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]domain.Event, error) {
	if desc && limit > 0 {
		ds, err := s.newestEvents(ctx, scope, after, before, limit)
		return eventsOf(ds), err
	}
	ds, err := s.findEvents(ctx, scope, after, before, limit, 1)
	return eventsOf(ds), err
}

// findEvents finds a scope's events with after < seq < before (0: no bound) in seq order
// (index events {tenantId, seq}). The store sorts and limits what the filter selects, so
// the filter is what bounds the work.
func (s *Store) findEvents(ctx context.Context, scope string, after, before int64, limit, order int) ([]eventDoc, error) {
	rng := bson.D{{Key: "$gt", Value: after}}
	if before > 0 {
		rng = append(rng, bson.E{Key: "$lt", Value: before})
	}
	return findAll[eventDoc](ctx, s.db.Collection(colEvents), "find events", bson.D{{Key: "tenantId", Value: scope}, {Key: "seq", Value: rng}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: order}}).SetLimit(int64(limit)))
}

// newestEvents is the last limit events with after < seq < before (0: no bound), newest
// first, read without reading the scope's whole ledger: sequence numbers are dense, so
// it asks for the window of seq just below before (below the saved ledger head, a hint
// never ahead of the ledger, when there is no before; no upper bound then, so events
// newer than the hint are read too), and widens the window fourfold while it finds fewer
// than limit and has not reached after.
func (s *Store) newestEvents(ctx context.Context, scope string, after, before int64, limit int) ([]eventDoc, error) {
	top := before - 1 // the highest seq wanted
	if before <= 0 {
		h, err := s.ledgerHead(ctx, s.db, scope)
		switch {
		case domain.ErrorCode(err) == domain.ENOTFOUND:
			top = after // no hint: the first window is everything after after
		case err != nil:
			return nil, err
		default:
			top = h.Seq
		}
	}
	for width := int64(limit); ; width *= 4 {
		lo := max(after, top-width)
		ds, err := s.findEvents(ctx, scope, lo, before, limit, -1)
		if err != nil || len(ds) >= limit || lo <= after {
			return ds, err
		}
	}
}
