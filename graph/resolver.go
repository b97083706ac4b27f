// Package graph is the GraphQL layer: the generated executor and thin resolvers that map
// arguments, call a use case (domain/services.go, implemented by internal/service) and
// return. Rules live in internal/domain.
package graph

import (
	"context"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/feed"
)

//go:generate go tool gqlgen generate

// Resolver is the root resolver; it holds the use cases the resolvers call, one small
// interface per resource (domain/services.go), so a resolver's test needs a fake of one.
type Resolver struct {
	TenantService   domain.TenantService
	OfferService    domain.OfferService
	BenefitService  domain.BenefitService
	LinkService     domain.LinkService
	PlanService     domain.PlanService
	RequestService  domain.RequestService
	ProviderService domain.ProviderService
	LedgerService   domain.LedgerService
	AuditService    domain.AuditService
	// Feed streams balance events to subscriptions.
	Feed *feed.Hub
	// StreamClosed is told when the feed drops a subscription (the transport closes the
	// client's connection with a reason); may be nil.
	StreamClosed func(ctx context.Context, why error)
}

// NewResolver is the root resolver over one service that implements every use case.
func NewResolver(s domain.Services, feed *feed.Hub, streamClosed func(ctx context.Context, why error)) *Resolver {
	return &Resolver{TenantService: s, OfferService: s, BenefitService: s, LinkService: s, PlanService: s, RequestService: s,
		ProviderService: s, LedgerService: s, AuditService: s,
		Feed: feed, StreamClosed: streamClosed}
}

// caller is the signed-in account, or UNAUTHENTICATED.
func caller(ctx context.Context) (domain.Account, error) {
	a, ok := domain.CallerFrom(ctx)
	if !ok {
		return domain.Account{}, domain.Errorf(domain.EUNAUTHENTICATED, "", "sign in: send Authorization: Bearer <token>")
	}
	return a, nil
}

// userErrors splits a service error into the payload's userErrors (expected refusals)
// and a top-level error (faults). Exactly one of them is set when err is not nil.
func userErrors(err error) ([]domain.Error, error) {
	if err == nil {
		return []domain.Error{}, nil
	}
	if e, ok := domain.AsError(err); ok && e.Code != domain.EINTERNAL {
		return []domain.Error{*e}, nil
	}
	return nil, err
}

func ptr[T any](v T) *T { return &v }

// derefOr is *p, or T's zero value for nil.
func derefOr[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Incremental delivery is not offered. gqlparser's prelude declares @defer, so gqlgen
// would advertise it in introspection and half-run it (a deferred fragment's fields
// answered null, its part never sent). Removed from the schema, a query using it is
// refused by validation: Unknown directive "@defer". (@stream is not declared.)
//
// @sequential is for code generation only (internal/gqlgen): once the schema is loaded its
// uses on types are checked, and its declaration goes too, so that introspection does not
// list it for clients, who can do nothing with it.
func init() {
	delete(parsedSchema.Directives, "defer")
	delete(parsedSchema.Directives, "stream")
	delete(parsedSchema.Directives, "sequential")
}
