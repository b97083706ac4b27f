package domain

import (
	"context"
	"time"
)

// Audit events (security finding 2, OWASP A09): sign-in failures, authorization refusals,
// rate-limit hits, and every admin and provider action are recorded as structured events
// with a stable name, the principal, the tenant and the outcome. They go to the log (one
// "audit" line each), to the metrics (a counter by event and outcome), and, when they
// concern a tenant, to the tenant's audit trail, which its admins read. An audit event
// never carries a token, an Access ID, a Contract ID or any other secret: its fields are
// names, IDs of accounts and resources, and codes.

// Stable audit event names.
const (
	AuditSignInFailed = "auth.signin_failed" // a bearer token was refused (401)
	AuditRefused      = "authz.refused"      // FORBIDDEN, ROLE_REQUIRED, R25 side refusals
	AuditRateLimited  = "ratelimit.hit"      // an attempt over a rate limit
	AuditActivate     = "benefit.activate"
	AuditPurchase     = "offer.purchase"
	AuditRenew        = "offer.renew"
	AuditLink         = "plan.link"
	AuditWithdraw     = "request.withdraw"
	AuditResolve      = "request.resolve"
)

// Audit outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)

// AuditEvent is one audit record.
type AuditEvent struct {
	ID            string
	Name          string
	Outcome       string
	Code          Code   // the refusal's code, when refused
	Rule          string // the rule that refused it, when one did
	PrincipalID   string // "" when no account is known (a refused token)
	PrincipalKind AccountKind
	TenantID      string // "" when the event concerns no one tenant
	Target        string // the resource acted on: a benefit, offer, request ID
	Operation     string // the GraphQL root field
	Detail        string // a fixed phrase, such as why a token was refused; never input
	At            time.Time
}

// AuditPage is a page of a tenant's audit trail, newest first.
type AuditPage struct {
	Events  []AuditEvent
	HasMore bool
}

type operationKey struct{}

// WithOperation names the API operation (the GraphQL root field) a context serves, for
// audit events.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom is the operation WithOperation named, or "".
func OperationFrom(ctx context.Context) string {
	op, _ := ctx.Value(operationKey{}).(string)
	return op
}
