package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/partnersupport/api/internal/domain"
)

type benefitDoc struct {
	ID           string    `bson:"id"`
	Kind         string    `bson:"kind"`
	Name         string    `bson:"name"`
	LegacyName   string    `bson:"legacyName,omitempty"`
	Consultation string    `bson:"consultation,omitempty"`
	Quota        int       `bson:"quota"`
	Unlimited    bool      `bson:"unlimited,omitempty"`
	StartsAt     time.Time `bson:"startsAt"`
	EndsAt       time.Time `bson:"endsAt"`
	Capped       bool      `bson:"capped,omitempty"`
}

// heldOfferDoc embeds its year's benefits: buying is then a single insert, so a crash
// cannot leave a held offer without its benefits.
type heldOfferDoc struct {
	ID          string       `bson:"_id"`
	TenantID    string       `bson:"tenantId"`
	OfferID     string       `bson:"offerId"`
	PeriodStart time.Time    `bson:"periodStart"`
	PeriodEnd   time.Time    `bson:"periodEnd"`
	PurchasedAt time.Time    `bson:"purchasedAt"`
	RenewedAt   *time.Time   `bson:"renewedAt,omitempty"`
	RenewalOf   string       `bson:"renewalOf,omitempty"`
	Benefits    []benefitDoc `bson:"benefits"`
}

func (d heldOfferDoc) domain() domain.HeldOffer {
	h := domain.HeldOffer{ID: d.ID, TenantID: d.TenantID, OfferID: d.OfferID, PeriodStart: d.PeriodStart.UTC(), PeriodEnd: d.PeriodEnd.UTC(),
		PurchasedAt: d.PurchasedAt.UTC(), RenewedAt: utcPtr(d.RenewedAt), RenewalOf: d.RenewalOf, Benefits: make([]domain.Benefit, len(d.Benefits))}
	for i, b := range d.Benefits {
		kind := domain.BenefitKind(b.Kind)
		h.Benefits[i] = domain.Benefit{ID: b.ID, TenantID: d.TenantID, HeldOfferID: d.ID, OfferID: d.OfferID,
			Kind: kind, Name: b.Name, LegacyName: b.LegacyName, Consultation: b.Consultation, Quota: b.Quota, Unlimited: b.Unlimited,
			StartsAt: b.StartsAt.UTC(), EndsAt: b.EndsAt.UTC(), Capped: b.Capped}
	}
	return h
}

// InsertHeldOffer inserts a held offer with its benefits; ECONFLICT when the tenant holds
// the offer for that year already (R20).
func (s *Store) InsertHeldOffer(ctx context.Context, h domain.HeldOffer) error {
	_, err := s.db.Collection(colHeldOffers).InsertOne(ctx, toHeldOfferDoc(h))
	return mapErr("insert held offer", err)
}

func toHeldOfferDoc(h domain.HeldOffer) heldOfferDoc {
	d := heldOfferDoc{ID: h.ID, TenantID: h.TenantID, OfferID: h.OfferID, PeriodStart: h.PeriodStart, PeriodEnd: h.PeriodEnd,
		PurchasedAt: h.PurchasedAt, RenewedAt: h.RenewedAt, RenewalOf: h.RenewalOf, Benefits: make([]benefitDoc, len(h.Benefits))}
	for i, b := range h.Benefits {
		d.Benefits[i] = benefitDoc{ID: b.ID, Kind: string(b.Kind), Name: b.Name, LegacyName: b.LegacyName, Consultation: b.Consultation,
			Quota: b.Quota, Unlimited: b.Unlimited, StartsAt: b.StartsAt, EndsAt: b.EndsAt, Capped: b.Capped}
	}
	return d
}

// HeldOffer finds a held offer.
func (s *Store) HeldOffer(ctx context.Context, id string) (domain.HeldOffer, error) {
	d, err := findOne[heldOfferDoc](ctx, s.db.Collection(colHeldOffers), "find held offer", bson.D{{Key: "_id", Value: id}})
	return d.domain(), err
}

// HeldOffers lists a tenant's held offers.
func (s *Store) HeldOffers(ctx context.Context, tenantID string) ([]domain.HeldOffer, error) {
	return s.heldOffers(ctx, bson.D{{Key: "tenantId", Value: tenantID}})
}

// HeldOffersStartingOrEnding lists every tenant's held offers whose year starts or ends
// within [from, to]: one query per bound (indexes heldOffers {periodStart} and
// {periodEnd}; an $or of both would not be served by either on the embedded store).
// Across tenants, as the sweep is, so on a sharded cluster each goes to every shard.
func (s *Store) HeldOffersStartingOrEnding(ctx context.Context, from, to time.Time) ([]domain.HeldOffer, error) {
	in := bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}
	starting, err := s.heldOffers(ctx, bson.D{{Key: "periodStart", Value: in}})
	if err != nil {
		return nil, err
	}
	ending, err := s.heldOffers(ctx, bson.D{{Key: "periodEnd", Value: in}})
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(starting))
	for _, h := range starting {
		seen[h.ID] = true
	}
	for _, h := range ending {
		if !seen[h.ID] {
			starting = append(starting, h)
		}
	}
	return starting, nil
}

func (s *Store) heldOffers(ctx context.Context, filter bson.D) ([]domain.HeldOffer, error) {
	ds, err := findAll[heldOfferDoc](ctx, s.db.Collection(colHeldOffers), "find held offers", filter)
	if err != nil {
		return nil, err
	}
	out := make([]domain.HeldOffer, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}

type contractDoc struct {
	ID          string    `bson:"_id"` // the benefit ID: one contract per benefit (R4)
	TenantID    string    `bson:"tenantId"`
	BenefitID   string    `bson:"benefitId"`
	AccessID    string    `bson:"accessId"`
	ContractID  string    `bson:"contractId"`
	ActivatedBy string    `bson:"activatedBy"`
	ActivatedAt time.Time `bson:"activatedAt"`
	ReadyAt     time.Time `bson:"readyAt"`
}

func (d contractDoc) domain() domain.Contract {
	return domain.Contract{BenefitID: d.BenefitID, TenantID: d.TenantID, AccessID: d.AccessID, ContractID: d.ContractID,
		ActivatedBy: d.ActivatedBy, ActivatedAt: d.ActivatedAt.UTC(), ReadyAt: d.ReadyAt.UTC()}
}

// InsertContract inserts a benefit's contract; ECONFLICT when it has one (R4). The unique
// key, not a prior read, is what keeps two concurrent activations to one contract: the
// insert goes with concurrent activations' (batch.go), each document on its own under
// the same keys.
func (s *Store) InsertContract(ctx context.Context, c domain.Contract) error {
	return s.contracts.do(ctx, &write{doc: contractDoc{ID: c.BenefitID, TenantID: c.TenantID, BenefitID: c.BenefitID,
		AccessID: c.AccessID, ContractID: c.ContractID, ActivatedBy: c.ActivatedBy, ActivatedAt: c.ActivatedAt, ReadyAt: c.ReadyAt}})
}

// Contract finds a benefit's contract (its _id is the benefit ID).
func (s *Store) Contract(ctx context.Context, benefitID string) (domain.Contract, error) {
	d, err := findOne[contractDoc](ctx, s.db.Collection(colContracts), "find contract", bson.D{{Key: "_id", Value: benefitID}})
	return d.domain(), err
}

// Contracts lists a tenant's contracts.
func (s *Store) Contracts(ctx context.Context, tenantID string) ([]domain.Contract, error) {
	ds, err := findAll[contractDoc](ctx, s.db.Collection(colContracts), "find contracts", bson.D{{Key: "tenantId", Value: tenantID}})
	if err != nil {
		return nil, err
	}
	out := make([]domain.Contract, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}

// ContractByContractID finds a contract by its Contract ID in any tenant (R6).
func (s *Store) ContractByContractID(ctx context.Context, contractID string) (domain.Contract, error) {
	d, err := findOne[contractDoc](ctx, s.db.Collection(colContracts), "find contract", bson.D{{Key: "contractId", Value: contractID}})
	return d.domain(), err
}

type consultationDoc struct {
	ID          string    `bson:"_id"` // the benefit ID: one request per benefit (R22)
	TenantID    string    `bson:"tenantId"`
	BenefitID   string    `bson:"benefitId"`
	Topic       string    `bson:"topic"`
	RequestedBy string    `bson:"requestedBy"`
	RequestedAt time.Time `bson:"requestedAt"`
}

// InsertConsultation records the consultation request an ISV benefit submits (R22).
func (s *Store) InsertConsultation(ctx context.Context, c domain.Consultation) error {
	_, err := s.db.Collection(colConsultations).InsertOne(ctx, consultationDoc{ID: c.BenefitID, TenantID: c.TenantID, BenefitID: c.BenefitID,
		Topic: c.Topic, RequestedBy: c.RequestedBy, RequestedAt: c.RequestedAt})
	return mapErr("insert consultation", err)
}

// Consultations lists a tenant's consultation requests.
func (s *Store) Consultations(ctx context.Context, tenantID string) ([]domain.Consultation, error) {
	ds, err := findAll[consultationDoc](ctx, s.db.Collection(colConsultations), "find consultations", bson.D{{Key: "tenantId", Value: tenantID}})
	if err != nil {
		return nil, err
	}
	out := make([]domain.Consultation, len(ds))
	for i, d := range ds {
		out[i] = domain.Consultation{BenefitID: d.BenefitID, TenantID: d.TenantID, Topic: d.Topic, RequestedBy: d.RequestedBy, RequestedAt: d.RequestedAt.UTC()}
	}
	return out, nil
}

type linkDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenantId"`
	AccountID string    `bson:"accountId"`
	BenefitID string    `bson:"benefitId"`
	Portal    string    `bson:"portal"`
	CreatedAt time.Time `bson:"createdAt"`
}

// InsertLink links an account to a benefit's contract; ECONFLICT when already linked (R6).
func (s *Store) InsertLink(ctx context.Context, l domain.Link) error {
	_, err := s.db.Collection(colLinks).InsertOne(ctx, linkDoc{ID: l.AccountID + "/" + l.BenefitID, TenantID: l.TenantID,
		AccountID: l.AccountID, BenefitID: l.BenefitID, Portal: string(l.Portal), CreatedAt: l.CreatedAt})
	return mapErr("insert link", err)
}

// Link finds an account's link to a benefit.
func (s *Store) Link(ctx context.Context, accountID, benefitID string) (domain.Link, error) {
	d, err := findOne[linkDoc](ctx, s.db.Collection(colLinks), "find link", bson.D{{Key: "_id", Value: accountID + "/" + benefitID}})
	return d.domain(), err
}

// LinksOfAccount lists an account's links.
func (s *Store) LinksOfAccount(ctx context.Context, accountID string) ([]domain.Link, error) {
	ds, err := findAll[linkDoc](ctx, s.db.Collection(colLinks), "find links", bson.D{{Key: "accountId", Value: accountID}})
	if err != nil {
		return nil, err
	}
	out := make([]domain.Link, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}

func (d linkDoc) domain() domain.Link {
	return domain.Link{AccountID: d.AccountID, TenantID: d.TenantID, BenefitID: d.BenefitID, Portal: domain.Portal(d.Portal), CreatedAt: d.CreatedAt.UTC()}
}

// UsedIncidents counts the claimed incidents per benefit of a tenant (R15, R16).
func (s *Store) UsedIncidents(ctx context.Context, tenantID string) (map[string]int, error) {
	cur, err := s.db.Collection(colClaims).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "tenantId", Value: tenantID}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$benefitId"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, mapErr("count claims", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, mapErr("count claims", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}
