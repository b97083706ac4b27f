package mongodb

import (
	"context"
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
	ds, err := findAll[eventDoc](ctx, s.db.Collection(colOutbox), "find pending events", bson.D{{Key: "tenantId", Value: scope}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	return eventsOf(ds), err
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

// AppendEvent stores a sequenced event. The _id (scope and event ID) keeps an event from
// being sequenced twice; the unique (tenantId, seq) key keeps two events from one number.
func (s *Store) AppendEvent(ctx context.Context, e domain.Event) error {
	d := toEventDoc(e)
	if err := s.events.do(ctx, &write{doc: d}); domain.ErrorCode(err) != domain.ECONFLICT {
		return err
	}
	if _, ferr := findOne[eventDoc](ctx, s.db.Collection(colEvents), "find event", bson.D{{Key: "_id", Value: d.ID}}); ferr == nil {
		return domain.ErrAlreadySequenced
	} else if domain.ErrorCode(ferr) != domain.ENOTFOUND {
		return ferr
	}
	return domain.ErrSeqTaken
}

// EventSequenced reports whether the scope's ledger has the event (a lookup by _id).
func (s *Store) EventSequenced(ctx context.Context, scope, id string) (bool, error) {
	_, err := findOne[eventDoc](ctx, s.db.Collection(colEvents), "find event", bson.D{{Key: "_id", Value: scope + "/" + id}})
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

// DropPending removes an event from the outbox.
func (s *Store) DropPending(ctx context.Context, scope, id string) error {
	return s.unbox.do(ctx, &write{doc: scope + "/" + id})
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
}

type usedDoc struct {
	BenefitID string `bson:"benefitId"`
	Used      int    `bson:"used"`
}

// LedgerHead reads a scope's saved ledger head.
func (s *Store) LedgerHead(ctx context.Context, scope string) (domain.LedgerHead, error) {
	d, err := findOne[ledgerHeadDoc](ctx, s.db.Collection(colLedgerHeads), "find ledger head", bson.D{{Key: "_id", Value: scope}})
	if err != nil {
		return domain.LedgerHead{}, err
	}
	h := domain.LedgerHead{Scope: scope, Seq: d.Seq, Used: make(map[string]int, len(d.Used))}
	for _, u := range d.Used {
		h.Used[u.BenefitID] = u.Used
	}
	return h, nil
}

// SaveLedgerHead replaces a scope's saved ledger head. Two first saves that race may
// collide on the _id; the head is a hint, so the loser's is dropped.
func (s *Store) SaveLedgerHead(ctx context.Context, h domain.LedgerHead) error {
	d := ledgerHeadDoc{ID: h.Scope, Seq: h.Seq, Used: make([]usedDoc, 0, len(h.Used))}
	for _, b := range slices.Sorted(maps.Keys(h.Used)) {
		d.Used = append(d.Used, usedDoc{BenefitID: b, Used: h.Used[b]})
	}
	err := s.heads.do(ctx, &write{id: d.ID, doc: d})
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return nil
	}
	return err
}

// FoldLedger reads a scope's whole ledger, in sequence order, into its head.
func (s *Store) FoldLedger(ctx context.Context, scope string) (domain.LedgerHead, error) {
	ds, err := findAll[eventDoc](ctx, s.db.Collection(colEvents), "fold ledger", bson.D{{Key: "tenantId", Value: scope}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "benefitId", Value: 1}, {Key: "used", Value: 1}}))
	if err != nil {
		return domain.LedgerHead{}, err
	}
	h := domain.LedgerHead{Scope: scope, Used: map[string]int{}}
	for _, d := range ds {
		h.Seq = d.Seq
		if d.BenefitID != "" {
			h.Used[d.BenefitID] = d.Used
		}
	}
	return h, nil
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
		h, err := s.LedgerHead(ctx, scope)
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
