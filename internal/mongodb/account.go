package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/domain"
)

type accountDoc struct {
	ID            string    `bson:"_id"`
	Issuer        string    `bson:"issuer"`
	Subject       string    `bson:"subject"`
	Email         string    `bson:"email"`
	Kind          string    `bson:"kind"`
	PremierLinked bool      `bson:"premierLinked,omitempty"`
	CreatedAt     time.Time `bson:"createdAt"`
}

func toAccountDoc(a domain.Account) accountDoc {
	return accountDoc{ID: a.ID, Issuer: a.Issuer, Subject: a.Subject, Email: a.Email, Kind: string(a.Kind), PremierLinked: a.PremierLinked, CreatedAt: a.CreatedAt}
}

func (d accountDoc) domain() domain.Account {
	return domain.Account{ID: d.ID, Issuer: d.Issuer, Subject: d.Subject, Email: d.Email, Kind: domain.AccountKind(d.Kind), PremierLinked: d.PremierLinked, CreatedAt: d.CreatedAt}
}

// EnsureAccount inserts the account unless its ID exists; the ID derives from issuer and
// subject, so concurrent first sign-ins create it once.
func (s *Store) EnsureAccount(ctx context.Context, a domain.Account) (domain.Account, error) {
	c := s.db.Collection(colAccounts)
	d, err := findOne[accountDoc](ctx, c, "find account", bson.D{{Key: "_id", Value: a.ID}})
	if err == nil {
		return d.domain(), nil
	} else if domain.ErrorCode(err) != domain.ENOTFOUND {
		return domain.Account{}, err
	}
	if _, err := c.InsertOne(ctx, toAccountDoc(a)); err != nil {
		if err = mapErr("insert account", err); domain.ErrorCode(err) != domain.ECONFLICT {
			return domain.Account{}, err
		}
		return s.Account(ctx, a.ID)
	}
	return a, nil
}

// PutAccount inserts or replaces an account.
func (s *Store) PutAccount(ctx context.Context, a domain.Account) error {
	return replace(ctx, s.db.Collection(colAccounts), "put account", a.ID, toAccountDoc(a))
}

// Account finds an account by ID.
func (s *Store) Account(ctx context.Context, id string) (domain.Account, error) {
	d, err := findOne[accountDoc](ctx, s.db.Collection(colAccounts), "find account", bson.D{{Key: "_id", Value: id}})
	return d.domain(), err
}

// Accounts finds accounts by ID, in one round trip (one per 500 IDs).
func (s *Store) Accounts(ctx context.Context, ids []string) ([]domain.Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ds, err := findByIDs[accountDoc](ctx, s.db.Collection(colAccounts), "find accounts", ids)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Account, len(ds))
	for i, d := range ds {
		out[i] = d.domain()
	}
	return out, nil
}
