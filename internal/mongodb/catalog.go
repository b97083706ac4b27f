package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

type grantDoc struct {
	Kind                          string     `bson:"kind"`
	Incidents                     int        `bson:"incidents"`
	Unlimited                     bool       `bson:"unlimited,omitempty"`
	UnlimitedIfPeriodStartsBefore *time.Time `bson:"unlimitedIfPeriodStartsBefore,omitempty"`
	Name                          string     `bson:"name"`
	LegacyName                    string     `bson:"legacyName,omitempty"`
	Consultation                  string     `bson:"consultation,omitempty"`
}

type offerDoc struct {
	ID        string     `bson:"_id"`
	Name      string     `bson:"name"`
	Legacy    bool       `bson:"legacy,omitempty"`
	RetiredAt *time.Time `bson:"retiredAt,omitempty"`
	Grants    []grantDoc `bson:"grants"`
	Source    string     `bson:"source,omitempty"`
}

func (d offerDoc) domain() domain.Offer {
	o := domain.Offer{ID: d.ID, Name: d.Name, Legacy: d.Legacy, RetiredAt: utcPtr(d.RetiredAt), Source: d.Source, Grants: make([]domain.Grant, len(d.Grants))}
	for i, g := range d.Grants {
		o.Grants[i] = domain.Grant{Kind: domain.BenefitKind(g.Kind), Incidents: g.Incidents, Unlimited: g.Unlimited,
			UnlimitedIfPeriodStartsBefore: utcPtr(g.UnlimitedIfPeriodStartsBefore), Name: g.Name, LegacyName: g.LegacyName, Consultation: g.Consultation}
	}
	return o
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// PutOffer inserts or replaces a catalog offer (R1: the catalog is data).
func (s *Store) PutOffer(ctx context.Context, o domain.Offer) error {
	d := offerDoc{ID: o.ID, Name: o.Name, Legacy: o.Legacy, RetiredAt: o.RetiredAt, Source: o.Source, Grants: make([]grantDoc, len(o.Grants))}
	for i, g := range o.Grants {
		d.Grants[i] = grantDoc{Kind: string(g.Kind), Incidents: g.Incidents, Unlimited: g.Unlimited,
			UnlimitedIfPeriodStartsBefore: g.UnlimitedIfPeriodStartsBefore, Name: g.Name, LegacyName: g.LegacyName, Consultation: g.Consultation}
	}
	return replace(ctx, s.db.Collection(colOffers), "put offer", o.ID, d)
}

// Offer finds a catalog offer.
func (s *Store) Offer(ctx context.Context, id string) (domain.Offer, error) {
	d, err := findOne[offerDoc](ctx, s.db.Collection(colOffers), "find offer", bson.D{{Key: "_id", Value: id}})
	return d.domain(), err
}

// Offers lists the catalog.
func (s *Store) Offers(ctx context.Context) ([]domain.Offer, error) {
	ds, err := findAll[offerDoc](ctx, s.db.Collection(colOffers), "find offers", bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Offer, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}

type versionDoc struct {
	Name             string    `bson:"name"`
	ReleasedAt       time.Time `bson:"releasedAt"`
	MainstreamEndsAt time.Time `bson:"mainstreamEndsAt"`
	Source           string    `bson:"source,omitempty"`
}

type productDoc struct {
	ID              string       `bson:"_id"`
	Name            string       `bson:"name"`
	Deployment      string       `bson:"deployment"`
	Family          string       `bson:"family,omitempty"`
	Portal          string       `bson:"portal"`
	LifecyclePolicy string       `bson:"lifecyclePolicy,omitempty"`
	NeedsLink       bool         `bson:"needsLink"`
	Versions        []versionDoc `bson:"versions,omitempty"`
	Source          string       `bson:"source,omitempty"`
}

func (d productDoc) domain() domain.Product {
	p := domain.Product{ID: d.ID, Name: d.Name, Deployment: domain.Deployment(d.Deployment), Family: d.Family, Portal: domain.Portal(d.Portal),
		LifecyclePolicy: d.LifecyclePolicy, NeedsLink: d.NeedsLink, Source: d.Source, Versions: make([]domain.Version, len(d.Versions))}
	for i, v := range d.Versions {
		p.Versions[i] = domain.Version{Name: v.Name, ReleasedAt: v.ReleasedAt.UTC(), MainstreamEndsAt: v.MainstreamEndsAt.UTC(), Source: v.Source}
	}
	return p
}

// PutProduct inserts or replaces a catalog product (R8: versions and dates are data).
func (s *Store) PutProduct(ctx context.Context, p domain.Product) error {
	d := productDoc{ID: p.ID, Name: p.Name, Deployment: string(p.Deployment), Family: p.Family, Portal: string(p.Portal),
		LifecyclePolicy: p.LifecyclePolicy, NeedsLink: p.NeedsLink, Source: p.Source, Versions: make([]versionDoc, len(p.Versions))}
	for i, v := range p.Versions {
		d.Versions[i] = versionDoc{Name: v.Name, ReleasedAt: v.ReleasedAt, MainstreamEndsAt: v.MainstreamEndsAt, Source: v.Source}
	}
	return replace(ctx, s.db.Collection(colProducts), "put product", p.ID, d)
}

// Product finds a catalog product.
func (s *Store) Product(ctx context.Context, id string) (domain.Product, error) {
	d, err := findOne[productDoc](ctx, s.db.Collection(colProducts), "find product", bson.D{{Key: "_id", Value: id}})
	return d.domain(), err
}

// Products lists the product catalog.
func (s *Store) Products(ctx context.Context) ([]domain.Product, error) {
	ds, err := findAll[productDoc](ctx, s.db.Collection(colProducts), "find products", bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Product, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}
