package graph

import (
	"context"

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
