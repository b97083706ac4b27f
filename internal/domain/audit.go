package domain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
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

// auditTimeout bounds storing an audit event.
const auditTimeout = 5 * time.Second

// Audit records an audit event: a log line, the metrics hook, and, when it concerns a
// tenant, the tenant's trail. Storing is best effort (a warning when it fails): the
// action it describes has happened or been refused either way, and the log keeps it.
func (s *Service) Audit(ctx context.Context, e AuditEvent) {
	if e.At.IsZero() {
		e.At = s.Now()
	}
	if e.Operation == "" {
		e.Operation = OperationFrom(ctx)
	}
	if e.ID == "" {
		e.ID = newAuditID(e.At)
	}
	level := slog.LevelInfo
	if e.Outcome != OutcomeOK {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "audit", slog.String("event", e.Name), slog.String("outcome", e.Outcome),
		slog.String("principal", e.PrincipalID), slog.String("principalKind", string(e.PrincipalKind)),
		slog.String("tenant", e.TenantID), slog.String("target", e.Target), slog.String("operation", e.Operation),
		slog.String("code", string(e.Code)), slog.String("rule", e.Rule), slog.String("detail", e.Detail))
	if s.onAudit != nil {
		s.onAudit(e)
	}
	if e.TenantID == "" || strings.HasPrefix(e.TenantID, PPIScope("")) {
		return // no tenant's admins to read it: the log has it
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.store.InsertAuditEvent(sctx, e); err != nil {
		s.log.WarnContext(ctx, "storing an audit event failed; it is in the log", "event", e.Name, "err", err)
	}
}

// newAuditID orders a tenant's trail by time: nanoseconds, then randomness.
func newAuditID(at time.Time) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%019d-%s", at.UnixNano(), hex.EncodeToString(b))
}

// audited records an action's audit event from its error: ok, refused (an expected
// refusal) or failed (a fault).
func (s *Service) audited(ctx context.Context, caller Account, name, tenantID, target string, err error) {
	e := AuditEvent{Name: name, Outcome: OutcomeOK, PrincipalID: caller.ID, PrincipalKind: caller.Kind, TenantID: tenantID, Target: target}
	if err != nil {
		e.Outcome = OutcomeFailed
		if de, ok := AsError(err); ok && de.Code != EINTERNAL {
			e.Outcome, e.Code, e.Rule = OutcomeRefused, de.Code, de.Rule
		}
	}
	s.Audit(ctx, e)
}

// refused records an authorization refusal and returns it.
func (s *Service) refused(ctx context.Context, caller Account, tenantID string, err error) error {
	e := AuditEvent{Name: AuditRefused, Outcome: OutcomeRefused, PrincipalID: caller.ID, PrincipalKind: caller.Kind, TenantID: tenantID}
	if de, ok := AsError(err); ok {
		e.Code, e.Rule = de.Code, de.Rule
	}
	s.Audit(ctx, e)
	return err
}

// permit applies Permit (R25), recording a refusal.
func (s *Service) permit(ctx context.Context, caller Account, act Action, tenantID string) error {
	if err := Permit(caller.Kind, act); err != nil {
		return s.refused(ctx, caller, tenantID, err)
	}
	return nil
}

// AuditTrail lists a tenant's audit trail, newest first, for its admins (R3): who did
// what, who was refused what, and why. before is an event ID from an earlier page.
func (s *Service) AuditTrail(ctx context.Context, caller Account, tenantID string, first int, before string) (AuditPage, error) {
	if err := s.adminPage(ctx, caller, ActAuditTrail, tenantID, first); err != nil {
		return AuditPage{}, err
	}
	evs, err := s.store.AuditEvents(ctx, tenantID, before, first+1)
	if err != nil {
		return AuditPage{}, err
	}
	p := AuditPage{}
	p.Events, p.HasMore = trimPage(evs, first)
	return p, nil
}

// The fields of an audit event for GraphQL: nil when empty.

// CodeOrNil is the refusal's code.
func (e AuditEvent) CodeOrNil() *Code { return orNil(e.Code) }

// RuleOrNil is the rule that refused it.
func (e AuditEvent) RuleOrNil() *string { return orNil(e.Rule) }

// PrincipalOrNil is the account that acted or was refused.
func (e AuditEvent) PrincipalOrNil() *string { return orNil(e.PrincipalID) }

// PrincipalKindOrNil is that account's kind.
func (e AuditEvent) PrincipalKindOrNil() *AccountKind { return orNil(e.PrincipalKind) }

// TargetOrNil is what it acted on.
func (e AuditEvent) TargetOrNil() *string { return orNil(e.Target) }

// OperationOrNil is the API operation.
func (e AuditEvent) OperationOrNil() *string { return orNil(e.Operation) }
