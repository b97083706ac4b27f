package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

// auditDoc is one event of a tenant's audit trail. It holds names, IDs and codes only:
// never a token or a secret (domain.AuditEvent).
type auditDoc struct {
	ID            string    `bson:"_id"` // time-ordered: the trail's order
	TenantID      string    `bson:"tenantId"`
	Name          string    `bson:"event"`
	Outcome       string    `bson:"outcome"`
	Code          string    `bson:"code,omitempty"`
	Rule          string    `bson:"rule,omitempty"`
	PrincipalID   string    `bson:"principal,omitempty"`
	PrincipalKind string    `bson:"principalKind,omitempty"`
	Target        string    `bson:"target,omitempty"`
	Operation     string    `bson:"operation,omitempty"`
	At            time.Time `bson:"at"`
}

// InsertAuditEvent stores an audit event, with the concurrent ones (batch.go).
func (s *Store) InsertAuditEvent(ctx context.Context, e domain.AuditEvent) error {
	return s.audit.do(ctx, &write{doc: auditDoc{ID: e.ID, TenantID: e.TenantID, Name: e.Name, Outcome: e.Outcome, Code: string(e.Code),
		Rule: e.Rule, PrincipalID: e.PrincipalID, PrincipalKind: string(e.PrincipalKind), Target: e.Target, Operation: e.Operation, At: e.At}})
}

// AuditEvents lists a tenant's trail, newest first, before the event ID when given.
func (s *Store) AuditEvents(ctx context.Context, tenantID, before string, limit int) ([]domain.AuditEvent, error) {
	filter := bson.D{{Key: "tenantId", Value: tenantID}}
	if before != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	ds, err := findAll[auditDoc](ctx, s.db.Collection(colAudit), "find audit events", filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := make([]domain.AuditEvent, len(ds))
	for i, d := range ds {
		out[i] = d.event()
	}
	return out, nil
}

// AuditEvent finds one audit event by its ID.
func (s *Store) AuditEvent(ctx context.Context, id string) (domain.AuditEvent, error) {
	d, err := findOne[auditDoc](ctx, s.db.Collection(colAudit), "find audit event", bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return domain.AuditEvent{}, err
	}
	return d.event(), nil
}

func (d auditDoc) event() domain.AuditEvent {
	return domain.AuditEvent{ID: d.ID, TenantID: d.TenantID, Name: d.Name, Outcome: d.Outcome, Code: domain.Code(d.Code), Rule: d.Rule,
		PrincipalID: d.PrincipalID, PrincipalKind: domain.AccountKind(d.PrincipalKind), Target: d.Target, Operation: d.Operation, At: d.At.UTC()}
}
