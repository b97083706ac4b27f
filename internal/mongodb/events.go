package mongodb

import (
	"context"
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
	_, err := s.db.Collection(colOutbox).InsertOne(ctx, toEventDoc(e))
	if err = mapErr("record event", err); domain.ErrorCode(err) == domain.ECONFLICT {
		return nil
	}
	return err
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
	_, err := s.db.Collection(colEvents).InsertOne(ctx, d)
	if err = mapErr("append event", err); domain.ErrorCode(err) != domain.ECONFLICT {
		return err
	}
	if _, ferr := findOne[eventDoc](ctx, s.db.Collection(colEvents), "find event", bson.D{{Key: "_id", Value: d.ID}}); ferr == nil {
		return domain.ErrAlreadySequenced
	} else if domain.ErrorCode(ferr) != domain.ENOTFOUND {
		return ferr
	}
	return domain.ErrSeqTaken
}

// DropPending removes an event from the outbox.
func (s *Store) DropPending(ctx context.Context, scope, id string) error {
	_, err := s.db.Collection(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: scope + "/" + id}})
	return mapErr("drop pending event", err)
}

func (s *Store) lastEvent(ctx context.Context, filter bson.D) (domain.Event, error) {
	ds, err := findAll[eventDoc](ctx, s.db.Collection(colEvents), "find last event", filter,
		options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(1))
	if err != nil {
		return domain.Event{}, err
	}
	if len(ds) == 0 {
		return domain.Event{}, &domain.Error{Code: domain.ENOTFOUND, Message: "no events"}
	}
	return ds[0].domain(), nil
}

// LastEvent is the scope's highest-sequenced event.
func (s *Store) LastEvent(ctx context.Context, scope string) (domain.Event, error) {
	return s.lastEvent(ctx, bson.D{{Key: "tenantId", Value: scope}})
}

// LastBenefitEvent is a benefit's highest-sequenced event.
func (s *Store) LastBenefitEvent(ctx context.Context, scope, benefitID string) (domain.Event, error) {
	return s.lastEvent(ctx, bson.D{{Key: "tenantId", Value: scope}, {Key: "benefitId", Value: benefitID}})
}

// Events lists a scope's events with after < seq < before.
func (s *Store) Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]domain.Event, error) {
	rng := bson.D{{Key: "$gt", Value: after}}
	if before > 0 {
		rng = append(rng, bson.E{Key: "$lt", Value: before})
	}
	order := 1
	if desc {
		order = -1
	}
	ds, err := findAll[eventDoc](ctx, s.db.Collection(colEvents), "find events", bson.D{{Key: "tenantId", Value: scope}, {Key: "seq", Value: rng}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: order}}).SetLimit(int64(limit)))
	return eventsOf(ds), err
}
