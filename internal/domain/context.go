package domain

import "context"

type callerKey struct{}

// WithCaller returns a context that carries the signed-in account.
func WithCaller(ctx context.Context, a Account) context.Context {
	return context.WithValue(ctx, callerKey{}, a)
}

// CallerFrom returns the signed-in account, if any.
func CallerFrom(ctx context.Context) (Account, bool) {
	a, ok := ctx.Value(callerKey{}).(Account)
	return a, ok
}
