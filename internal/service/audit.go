package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// core is what every use case needs: the clock, the logger, and audit recording, with
// the permission check (R25) whose refusals it records.
type core struct {
	now     func() time.Time
	log     *slog.Logger
	audits  domain.AuditStore
	onAudit func(domain.AuditEvent)
}

// AuditService reads a tenant's audit trail.
type AuditService struct {
	*core
	*access
	store domain.AuditStore
}

// AuditEvent is one event of a tenant's audit trail, for the admins who may read the
// trail (R3, R25), as AuditTrail authorises them.
func (s *AuditService) AuditEvent(ctx context.Context, caller domain.Account, id string) (domain.AuditEvent, error) {
	e, err := s.store.AuditEvent(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		e = domain.AuditEvent{} // authorised against no tenant: refused as any other tenant's
	} else if err != nil {
		return domain.AuditEvent{}, err
	}
	if err := s.adminPage(ctx, caller, domain.ActAuditTrail, e.TenantID, 1); err != nil {
		return domain.AuditEvent{}, err
	}
	return e, nil
}

// auditTimeout bounds storing an audit event.
const auditTimeout = 5 * time.Second

// Audit records an audit event: a log line, the metrics hook, and, when it concerns a
// tenant, the tenant's trail. Storing is best effort (a warning when it fails): the
// action it describes has happened or been refused either way, and the log keeps it.
func (s *core) Audit(ctx context.Context, e domain.AuditEvent) {
	if e.At.IsZero() {
		e.At = s.Now()
	}
	if e.Operation == "" {
		e.Operation = domain.OperationFrom(ctx)
	}
	if e.ID == "" {
		e.ID = newAuditID(e.At)
	}
	level := slog.LevelInfo
	if e.Outcome != domain.OutcomeOK {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "audit", slog.String("event", e.Name), slog.String("outcome", e.Outcome),
		slog.String("principal", e.PrincipalID), slog.String("principalKind", string(e.PrincipalKind)),
		slog.String("tenant", e.TenantID), slog.String("target", e.Target), slog.String("operation", e.Operation),
		slog.String("code", string(e.Code)), slog.String("rule", e.Rule), slog.String("detail", e.Detail))
	if s.onAudit != nil {
		s.onAudit(e)
	}
	if e.TenantID == "" || strings.HasPrefix(e.TenantID, domain.PPIScope("")) {
		return // no tenant's admins to read it: the log has it
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.audits.InsertAuditEvent(sctx, e); err != nil {
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
func (s *core) audited(ctx context.Context, caller domain.Account, name, tenantID, target string, err error) {
	e := domain.AuditEvent{Name: name, Outcome: domain.OutcomeOK, PrincipalID: caller.ID, PrincipalKind: caller.Kind, TenantID: tenantID, Target: target}
	if err != nil {
		e.Outcome = domain.OutcomeFailed
		if de, ok := domain.AsError(err); ok && de.Code != domain.EINTERNAL {
			e.Outcome, e.Code, e.Rule = domain.OutcomeRefused, de.Code, de.Rule
		}
	}
	s.Audit(ctx, e)
}

// refused records an authorization refusal and returns it.
func (s *core) refused(ctx context.Context, caller domain.Account, tenantID string, err error) error {
	e := domain.AuditEvent{Name: domain.AuditRefused, Outcome: domain.OutcomeRefused, PrincipalID: caller.ID, PrincipalKind: caller.Kind, TenantID: tenantID}
	if de, ok := domain.AsError(err); ok {
		e.Code, e.Rule = de.Code, de.Rule
	}
	s.Audit(ctx, e)
	return err
}

// permit applies Permit (R25), recording a refusal.
func (s *core) permit(ctx context.Context, caller domain.Account, act domain.Action, tenantID string) error {
	if err := domain.Permit(caller.Kind, act); err != nil {
		return s.refused(ctx, caller, tenantID, err)
	}
	return nil
}

// AuditTrail lists a tenant's audit trail, newest first, for its admins (R3): who did
// what, who was refused what, and why. before is an event ID from an earlier page.
func (s *AuditService) AuditTrail(ctx context.Context, caller domain.Account, tenantID string, first int, before string) (domain.AuditPage, error) {
	if err := s.adminPage(ctx, caller, domain.ActAuditTrail, tenantID, first); err != nil {
		return domain.AuditPage{}, err
	}
	evs, err := s.store.AuditEvents(ctx, tenantID, before, first+1)
	if err != nil {
		return domain.AuditPage{}, err
	}
	p := domain.AuditPage{}
	p.Events, p.HasMore = trimPage(evs, first)
	return p, nil
}
