package graph

import (
	"context"

	"github.com/partnersupport/api/graph/model"
	"github.com/partnersupport/api/internal/domain"
)

// The three shapes every resolver has, written once: call a use case as the signed-in
// account (withCaller, withCaller1, withCaller2), and, for a mutation, turn its outcome into a payload
// (payload). A resolver is then one call.

// withCaller calls f as the signed-in account, or answers UNAUTHENTICATED.
func withCaller[T any](ctx context.Context, f func(context.Context, domain.Account) (T, error)) (T, error) {
	a, err := caller(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(ctx, a)
}

// withCaller1 is withCaller for a use case of one argument.
func withCaller1[A, T any](ctx context.Context, f func(context.Context, domain.Account, A) (T, error), x A) (T, error) {
	return withCaller(ctx, func(ctx context.Context, a domain.Account) (T, error) { return f(ctx, a, x) })
}

// withCaller2 is withCaller for a use case of two arguments.
func withCaller2[A, B, T any](ctx context.Context, f func(context.Context, domain.Account, A, B) (T, error), x A, y B) (T, error) {
	return withCaller(ctx, func(ctx context.Context, a domain.Account) (T, error) { return f(ctx, a, x, y) })
}

// payload runs a mutation's use case as the signed-in account and builds its payload
// with build: with the result on success; with the refusal as userErrors and no result
// when the service refused (an expected, coded outcome); a fault is a top-level error.
func payload[T, P any](ctx context.Context, do func(context.Context, domain.Account) (T, error), build func(v *T, ue []domain.Error) P) (P, error) {
	v, err := withCaller(ctx, do)
	if domain.ErrorCode(err) == domain.EUNAUTHENTICATED {
		var zero P
		return zero, err
	}
	ue, err := userErrors(err)
	if err != nil || len(ue) > 0 {
		return build(nil, ue), err
	}
	return build(&v, ue), nil
}

// payload1 is payload for a use case of one argument.
func payload1[A, T, P any](ctx context.Context, f func(context.Context, domain.Account, A) (T, error), x A, build func(*T, []domain.Error) P) (P, error) {
	return payload(ctx, func(ctx context.Context, a domain.Account) (T, error) { return f(ctx, a, x) }, build)
}

// payload2 is payload for a use case of two arguments.
func payload2[A, B, T, P any](ctx context.Context, f func(context.Context, domain.Account, A, B) (T, error), x A, y B, build func(*T, []domain.Error) P) (P, error) {
	return payload(ctx, func(ctx context.Context, a domain.Account) (T, error) { return f(ctx, a, x, y) }, build)
}

// The payloads of the mutations, from the use case's result (nil when refused).

func activatePayload(v *domain.BenefitView, ue []domain.Error) model.ActivateBenefitPayload {
	return model.ActivateBenefitPayload{Benefit: v, UserErrors: ue}
}

func createPayload(v *domain.SupportRequest, ue []domain.Error) model.CreateSupportRequestPayload {
	return model.CreateSupportRequestPayload{Request: v, UserErrors: ue}
}

func closePayload(v *domain.SupportRequest, ue []domain.Error) model.CloseSupportRequestPayload {
	return model.CloseSupportRequestPayload{Request: v, UserErrors: ue}
}

func resolvePayload(v *domain.SupportRequest, ue []domain.Error) model.ResolveSupportRequestPayload {
	p := model.ResolveSupportRequestPayload{UserErrors: ue}
	if v != nil {
		p.Request = &model.ProviderRequest{SupportRequest: *v}
	}
	return p
}

func ppiPayload(v *domain.PPIPlan, ue []domain.Error) model.PurchasePayPerIncidentPayload {
	p := model.PurchasePayPerIncidentPayload{UserErrors: ue}
	if v != nil {
		p.PlanID, p.EndsAt = ptr(globalID(typeSupportPlan, v.ID)), &v.EndsAt
	}
	return p
}

// linked is what linking answers: the plan, and whether the account had linked it before.
type linked struct {
	plan    domain.LinkedPlan
	already bool
}

func link(s domain.LinkService) func(context.Context, domain.Account, domain.LinkInput) (linked, error) {
	return func(ctx context.Context, a domain.Account, in domain.LinkInput) (linked, error) {
		plan, already, err := s.Link(ctx, a, in)
		return linked{plan, already}, err
	}
}

func linkPayload(v *linked, ue []domain.Error) model.LinkSupportPlanPayload {
	p := model.LinkSupportPlanPayload{UserErrors: ue}
	if v != nil {
		p.Plan, p.AlreadyLinked = &v.plan, v.already
	}
	return p
}

func linkInput(in model.LinkSupportPlanInput) domain.LinkInput {
	return domain.LinkInput{AccessID: in.AccessID, ContractID: in.ContractID, Portal: in.Portal,
		InRequestFlow: in.InRequestFlow != nil && *in.InRequestFlow}
}

func createInput(in model.CreateSupportRequestInput) domain.CreateRequestInput {
	return domain.CreateRequestInput{
		IdempotencyKey: in.IdempotencyKey, PlanID: derefOr(argKeyOrNil(in.PlanID, typeSupportPlan, typeBenefit)),
		ProductID: derefOr(argKeyOrNil(in.ProductID, typeProduct)), Version: derefOr(in.Version),
		Portal: in.Portal, Type: in.Type, Title: in.Title, Description: derefOr(in.Description), CustomerID: derefOr(in.CustomerID),
	}
}

// offerPayload runs a purchase or a renewal and reads the benefits of the held offer it
// made (R1, R7); when refused, the benefits are an empty list.
func offerPayload(ctx context.Context, benefits domain.BenefitService, do func(context.Context, domain.Account) (domain.HeldOffer, error)) (*domain.HeldOffer, []domain.BenefitView, []domain.Error, error) {
	a, err := caller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := do(ctx, a)
	ue, err := userErrors(err)
	if err != nil || len(ue) > 0 {
		return nil, []domain.BenefitView{}, ue, err
	}
	bs, err := benefits.HeldOfferBenefits(ctx, a, h)
	return &h, bs, ue, err
}

// rulesByID are the rules asked for by ID or key (all of them without ids; none for an
// empty list).
func rulesByID(ids []string) []domain.Rule {
	if ids != nil && len(ids) == 0 {
		return []domain.Rule{} // rules(ids: []): none asked for
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = argKey(id, typeRule)
	}
	return domain.Rules(keys...)
}
