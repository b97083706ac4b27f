package service

import (
	"context"
	"strings"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// RequestService creates, reads, lists and closes support requests, the partner's side
// and the support provider's (R15–R18, R25).
type RequestService struct {
	*core
	*recorder
	*states
	*refunds
	store requestStore
	plans *PlanService
}

// requestStore is what the request use cases read and write.
type requestStore interface {
	domain.RequestStore
	domain.ClaimStore
	domain.CatalogStore
	domain.TenantStore
}

// CreateRequest opens a support request (R15, R17, R14, R23). A technical (or billing,
// quota, subscription) request on a partner plan takes one incident at creation, after
// checking the plan serves this product, version and portal now. Partner-program and
// front-line requests are free (R17). The same idempotency key again returns the same
// request and takes nothing more; the same key with other content is refused.
//
// Write order, for crash safety without transactions: (1) claim an incident under the
// request's ID, (2) insert the request, (3) record the ledger event. A crash after (1)
// leaves a claim that a retry with the same key completes, or that the start-up repair
// frees after an hour; after (2) the repair records the missing event.
func (s *RequestService) CreateRequest(ctx context.Context, caller domain.Account, in domain.CreateRequestInput) (domain.SupportRequest, error) {
	if err := s.permit(ctx, caller, domain.ActCreateRequest, ""); err != nil {
		return domain.SupportRequest{}, err
	}
	if err := in.Validate(); err != nil {
		return domain.SupportRequest{}, err
	}
	in.Title = strings.TrimSpace(in.Title)
	fp := in.Fingerprint()
	id := domain.RequestID(caller.ID, in.IdempotencyKey)
	if r, err := s.store.Request(ctx, id); err == nil {
		return sameRequest(r, fp)
	} else if domain.ErrorCode(err) != domain.ENOTFOUND {
		return domain.SupportRequest{}, err
	}
	now := s.Now()
	req := domain.SupportRequest{ID: id, AccountID: caller.ID, PlanID: in.PlanID, Portal: in.Portal, ProductID: in.ProductID, Version: in.Version,
		Type: in.Type, Title: in.Title, Description: in.Description, CustomerID: in.CustomerID, IdempotencyKey: in.IdempotencyKey, Fingerprint: fp, CreatedAt: now}
	if in.Type.Free() {
		// R17: in the partner centre, free, no plan, no incident. An earlier attempt of
		// this key that claimed an incident was another request: the key's reuse.
		if _, err := s.store.Claim(ctx, id); err == nil {
			return domain.SupportRequest{}, keyReused()
		} else if domain.ErrorCode(err) != domain.ENOTFOUND {
			return domain.SupportRequest{}, err
		}
		return s.insertRequest(ctx, req, fp)
	}
	if in.Version != "" {
		if p, err := s.store.Product(ctx, in.ProductID); err == nil {
			if err := domain.CheckVersionApplies(p, in.Version); err != nil {
				return domain.SupportRequest{}, err
			}
		} // an unknown product is refused with the plans below (R8)
	}
	// R23: the plan is chosen among exactly what supportPlans lists to the caller now; the
	// claim below still decides whether an incident is left (R15).
	plans, err := s.plans.supportPlans(ctx, caller, in.ProductID, in.Version, in.Portal)
	if err != nil {
		return domain.SupportRequest{}, err
	}
	plan, refusal := domain.ChoosePlan(plans, in.PlanID)
	if refusal != nil || !domain.ConsumesIncident(plan.Kind, in.Type) {
		// An earlier attempt of this request may have claimed an incident (when the plan
		// was available; then it crashed, or it is racing with this one): its claim
		// completes this create, whatever the plan's state is now, with no second claim.
		// A create that claims below meets that claim on its insert, whose key is the
		// request's ID; any other looks it up here.
		prior, err := s.store.Claim(ctx, id)
		switch {
		case err == nil:
			p, found := domain.FindPlan(plans, in.PlanID)
			if !found || p.Benefit == nil || prior.BenefitID != p.Benefit.ID {
				return domain.SupportRequest{}, keyReused()
			}
			plan, refusal = p, nil
		case domain.ErrorCode(err) != domain.ENOTFOUND:
			return domain.SupportRequest{}, err
		}
		if refusal != nil {
			return domain.SupportRequest{}, refusal
		}
	}
	req.PlanKind, req.TenantID = plan.Kind, plan.TenantID
	if plan.Kind == domain.PlanCSP {
		if err := s.checkGDAP(ctx, plan.TenantID, in.CustomerID, now); err != nil {
			return domain.SupportRequest{}, err
		}
	}
	consume := domain.ConsumesIncident(plan.Kind, in.Type) // R15, R17
	if consume {
		req.BenefitID, req.Consumed = plan.Benefit.ID, true
		// A claim an earlier attempt of this request made is under the same ID: the
		// insert collides on it and ClaimIncident returns it, so no read looks for it first.
		c, err := s.store.ClaimIncident(ctx, domain.Claim{RequestID: id, TenantID: plan.TenantID, BenefitID: plan.Benefit.ID, AccountID: caller.ID, At: now}, plan.Quota, plan.Unlimited, plan.Incidents.Used)
		if domain.ErrorCode(err) == domain.EEXHAUSTED {
			return domain.SupportRequest{}, s.exhausted(ctx, caller, in, plan)
		} else if err != nil {
			return domain.SupportRequest{}, err
		}
		if c.BenefitID != plan.Benefit.ID {
			return domain.SupportRequest{}, keyReused() // the key's earlier attempt claimed on another plan
		}
	}
	r, err := s.insertRequest(ctx, req, fp)
	if err != nil {
		return r, err
	}
	if consume {
		s.record(ctx, domain.Event{ID: "consume/" + id, TenantID: plan.TenantID, Kind: domain.EventConsume, BenefitID: plan.Benefit.ID, PlanName: plan.Name,
			RequestID: id, ActorID: caller.ID, Reason: string(in.Type), At: now, Delta: -1, Quota: plan.Quota, Unlimited: plan.Unlimited})
	}
	return r, nil
}

// exhausted is the answer to a create whose claim found no incident left (R15) although
// the plans it chose from counted one: the plan's refusal with its reasons, as ChoosePlan
// gives it once the counts show none left, or, if they still show one (another request
// took the last one and is not yet counted), that.
func (s *RequestService) exhausted(ctx context.Context, caller domain.Account, in domain.CreateRequestInput, plan domain.Plan) error {
	if plans, err := s.plans.SupportPlans(ctx, caller, in.ProductID, in.Version, in.Portal); err == nil {
		if _, err := domain.ChoosePlan(plans, in.PlanID); domain.ErrorCode(err) == domain.EEXHAUSTED {
			return err
		}
	}
	return domain.NoIncidentsLeft(plan.Name, "another request took the last one")
}

func (s *RequestService) insertRequest(ctx context.Context, req domain.SupportRequest, fp string) (domain.SupportRequest, error) {
	if err := s.store.InsertRequest(ctx, req); domain.ErrorCode(err) == domain.ECONFLICT {
		r, err := s.store.Request(ctx, req.ID) // a concurrent retry of the same key won
		if err != nil {
			return domain.SupportRequest{}, err
		}
		return sameRequest(r, fp)
	} else if err != nil {
		return domain.SupportRequest{}, err
	}
	return req, nil
}

func sameRequest(r domain.SupportRequest, fp string) (domain.SupportRequest, error) {
	if r.Fingerprint != fp {
		return domain.SupportRequest{}, keyReused()
	}
	return r, nil
}

func keyReused() error {
	return domain.Errorf(domain.EKEYREUSED, "", "this idempotency key was already used for a different request; use a new key").WithField("idempotencyKey")
}

// checkGDAP allows a CSP request for a customer only as GDAPAllows says (R14).
func (s *RequestService) checkGDAP(ctx context.Context, partner, customerID string, now time.Time) error {
	if customerID == "" {
		return domain.Errorf(domain.EINVALID, "R14", "a CSP request names the customer it is for").WithField("customerId")
	}
	cu, err := s.store.Customer(ctx, customerID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.GDAPAllows(nil, partner, now)
	} else if err != nil {
		return err
	}
	return domain.GDAPAllows(&cu, partner, now)
}

// WithdrawRequest is the partner side's close (R25): the account that opened the request,
// or an admin of its plan's tenant, withdraws it. A withdrawal refunds only what R16
// refunds by request type (billing, quota, subscription on a Partner Cloud Support plan),
// never as a duplicate or a bug, which are the support provider's findings. Withdrawing a
// withdrawn request again answers it as it is.
func (s *RequestService) WithdrawRequest(ctx context.Context, caller domain.Account, id string) (domain.SupportRequest, error) {
	if err := s.permit(ctx, caller, domain.ActWithdraw, ""); err != nil {
		return domain.SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.SupportRequest{}, s.refused(ctx, caller, "", domain.Forbidden())
	} else if err != nil {
		return domain.SupportRequest{}, err
	}
	var roles []domain.Role
	if r.AccountID != caller.ID && r.TenantID != "" {
		if m, err := s.store.Membership(ctx, r.TenantID, caller.ID); err == nil {
			roles = m.Roles
		} else if domain.ErrorCode(err) != domain.ENOTFOUND {
			return domain.SupportRequest{}, err
		}
	}
	if !domain.MayWithdraw(caller.ID, roles, r) {
		return domain.SupportRequest{}, s.refused(ctx, caller, r.TenantID, domain.Forbidden())
	}
	out, err := s.closeRequest(ctx, caller, r, domain.CloseWithdrawn)
	s.audited(ctx, caller, domain.AuditWithdraw, r.TenantID, r.ID, err)
	return out, err
}

// ResolveRequest is the support provider's close (R25): it records its finding
// (resolved, duplicate, bug, cancelled) on an open request of any tenant, and the refund
// follows from it by R16, at most once.
func (s *RequestService) ResolveRequest(ctx context.Context, caller domain.Account, id string, outcome domain.CloseReason) (domain.SupportRequest, error) {
	if err := domain.Permit(caller.Kind, domain.ActResolve); err != nil {
		return domain.SupportRequest{}, s.refused(ctx, caller, s.trailOf(ctx, id), err)
	}
	if !outcome.Resolution() {
		return domain.SupportRequest{}, domain.Errorf(domain.EINVALID, "R25", "a resolution is RESOLVED, DUPLICATE, BUG or CANCELLED; a withdrawal is the partner's").WithField("resolution")
	}
	r, err := s.store.Request(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.SupportRequest{}, domain.Errorf(domain.ENOTFOUND, "", "there is no support request %q", domain.Clip(id)).WithField("id")
	} else if err != nil {
		return domain.SupportRequest{}, err
	}
	out, err := s.closeRequest(ctx, caller, r, outcome)
	s.audited(ctx, caller, domain.AuditResolve, r.TenantID, r.ID, err)
	return out, err
}

// CloseRequest is the deprecated closeSupportRequest (R25). For the support provider it
// is ResolveRequest. For a partner principal it is WithdrawRequest: RESOLVED and CANCELLED
// become a withdrawal, and DUPLICATE and BUG, the provider's findings, are refused.
func (s *RequestService) CloseRequest(ctx context.Context, caller domain.Account, id string, reason domain.CloseReason) (domain.SupportRequest, error) {
	if !reason.Valid() {
		return domain.SupportRequest{}, domain.Errorf(domain.EINVALID, "", "unknown close reason").WithField("reason")
	}
	if caller.Kind == domain.KindSupportProvider {
		return s.ResolveRequest(ctx, caller, id, reason)
	}
	if reason == domain.CloseDuplicate || reason == domain.CloseBug {
		err := domain.Errorf(domain.EPROVIDERONLY, "R25", "a duplicate or a bug is the support provider's finding, which refunds the incident; withdraw the request instead (withdrawSupportRequest)").WithField("reason")
		return domain.SupportRequest{}, s.refused(ctx, caller, s.trailOf(ctx, id), err)
	}
	return s.WithdrawRequest(ctx, caller, id)
}

// trailOf is the tenant whose audit trail a refusal about request id belongs in: the
// tenant of its plan, or "" (the log only) when there is none or it cannot be read. The
// caller's answer does not depend on it.
func (s *RequestService) trailOf(ctx context.Context, id string) string {
	if r, err := s.store.Request(ctx, id); err == nil && !domain.IsPPIScope(r.TenantID) {
		return r.TenantID
	}
	return ""
}

// closeRequest records a closure with the outcome and refunds the incident when R16 says
// so. The first closure wins and a refund is recorded under the request's ID, so however
// many closes race (a withdrawal and a resolution included), there is at most one refund,
// and it follows the closure that won. Each step is idempotent: a retry completes a close
// that a crash cut short.
func (s *RequestService) closeRequest(ctx context.Context, caller domain.Account, r domain.SupportRequest, reason domain.CloseReason) (domain.SupportRequest, error) {
	closure := domain.Closure{RequestID: r.ID, TenantID: r.TenantID, Reason: reason, By: caller.ID, At: s.Now()}
	var conflict error
	if err := s.store.InsertClosure(ctx, closure); domain.ErrorCode(err) == domain.ECONFLICT {
		var err error
		if r, err = s.store.Request(ctx, r.ID); err != nil {
			return domain.SupportRequest{}, err
		}
		if r.Closure == nil {
			return domain.SupportRequest{}, domain.Errorf(domain.EUNAVAILABLE, "", "the request's closure cannot be read yet; try again")
		}
		closure = *r.Closure
		if closure.Reason != reason {
			conflict = domain.Errorf(domain.EALREADYCLOSED, "R25", "this request was already closed as %s", strings.ToLower(string(closure.Reason)))
		}
	} else if err != nil {
		return domain.SupportRequest{}, err
	}
	refunded, err := s.refundIfDue(ctx, r, closure)
	if err != nil {
		return domain.SupportRequest{}, err
	}
	// Off the provider's queue, with the closure and, once recorded, the refund noted on
	// the request: hints for listing, which the closure and the refund decide. After the
	// refund, so that the note never says refunded before it is.
	if err := s.store.MarkRequestClosed(ctx, closure, refunded); err != nil {
		s.log.WarnContext(ctx, "marking a closed request failed; the queue will", "request", r.ID, "err", err)
	}
	if conflict != nil {
		return domain.SupportRequest{}, conflict
	}
	return s.store.Request(ctx, r.ID)
}

// refunds gives a closed request's incident back when R16 says so: for a close, and for
// the repair that completes one a crash cut short.
type refunds struct {
	*core
	*recorder
	*states
	store refundStore
}

// refundStore is what a refund writes, and the product that names a pay-per-incident plan.
type refundStore interface {
	domain.RequestStore
	domain.ClaimStore
	domain.CatalogStore
}

// refundIfDue gives a closed request's incident back when R16 says so (domain.RefundDue):
// record the refund (at most once, by its key), free the claim, record the ledger event.
// Safe to repeat. It reports whether the request's refund is recorded.
func (s *refunds) refundIfDue(ctx context.Context, r domain.SupportRequest, c domain.Closure) (bool, error) {
	if !domain.RefundDue(r, c.Reason) {
		return false, nil
	}
	err := s.store.InsertRefund(ctx, domain.Refund{RequestID: r.ID, TenantID: r.TenantID, BenefitID: r.BenefitID, Reason: c.Reason, By: c.By, At: c.At})
	if err != nil && domain.ErrorCode(err) != domain.ECONFLICT {
		return false, err
	}
	if err := s.store.ReleaseClaim(ctx, r.ID); err != nil {
		return true, err
	}
	quota, unlimited, name := s.planQuota(ctx, r)
	s.record(ctx, domain.Event{ID: "refund/" + r.ID, TenantID: r.TenantID, Kind: domain.EventRefund, BenefitID: r.BenefitID, PlanName: name, RequestID: r.ID,
		ActorID: c.By, Reason: string(c.Reason), At: c.At, Delta: +1, Quota: quota, Unlimited: unlimited})
	return true, nil
}

// planQuota is the quota and name of a request's benefit (for the ledger event).
func (s *refunds) planQuota(ctx context.Context, r domain.SupportRequest) (quota int, unlimited bool, name string) {
	if r.PlanKind == domain.PlanPayPerIncident {
		p, err := s.store.Product(ctx, r.ProductID)
		if err != nil {
			p = domain.Product{ID: r.ProductID, Name: r.ProductID}
		}
		return 1, false, domain.PPIPlanName(p)
	}
	b, err := s.benefit(ctx, r.BenefitID)
	if err != nil {
		return 0, false, ""
	}
	return b.Quota, b.Unlimited, b.Name
}

// Requests lists the caller's requests for a portal, newest first, as ListedIn says (R18).
func (s *RequestService) Requests(ctx context.Context, caller domain.Account, portal domain.Portal, first int, after *domain.RequestCursor) (domain.RequestPage, error) {
	if err := s.permit(ctx, caller, domain.ActOwnRequests, ""); err != nil {
		return domain.RequestPage{}, err
	}
	if !portal.Valid() {
		return domain.RequestPage{}, domain.Errorf(domain.EINVALID, "R18", "unknown portal").WithField("portal")
	}
	if err := domain.CheckFirst(first); err != nil {
		return domain.RequestPage{}, err
	}
	filter := portal
	if portal == domain.PortalServicesHub {
		filter = "" // R18: across portals, then ListedIn
	}
	return filteredPage(first, after, func(after *domain.RequestCursor) ([]domain.SupportRequest, error) {
		return s.store.Requests(ctx, caller.ID, filter, after, first+1)
	}, func(r domain.SupportRequest) bool { return domain.ListedIn(portal, r) })
}

// filteredPage reads pages of first+1 requests from the cursor on, in the store's order,
// until first requests that keep accepts are found (HasMore when more follow) or the list
// ends.
func filteredPage(first int, after *domain.RequestCursor, read func(after *domain.RequestCursor) ([]domain.SupportRequest, error), keep func(domain.SupportRequest) bool) (domain.RequestPage, error) {
	var page domain.RequestPage
	for {
		rs, err := read(after)
		if err != nil {
			return domain.RequestPage{}, err
		}
		for _, r := range rs {
			if keep(r) {
				page.Requests = append(page.Requests, r)
			}
		}
		if len(page.Requests) > first {
			page.Requests, page.HasMore = page.Requests[:first], true
			return page, nil
		}
		if len(rs) <= first {
			return page, nil
		}
		last := rs[len(rs)-1]
		after = &domain.RequestCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// ProviderQueue lists the open requests the support provider serves, across tenants,
// oldest first, in a portal and of a plan kind when given (R25). Only the provider's side
// may (Permit). A request closed while its closedAt mark was not yet written is left out
// here and marked now.
func (s *RequestService) ProviderQueue(ctx context.Context, caller domain.Account, portal domain.Portal, kind domain.PlanKind, first int, after *domain.RequestCursor) (domain.RequestPage, error) {
	if err := s.permit(ctx, caller, domain.ActProviderQueue, ""); err != nil {
		return domain.RequestPage{}, err
	}
	if portal != "" && !portal.Valid() {
		return domain.RequestPage{}, domain.Errorf(domain.EINVALID, "", "unknown portal").WithField("portal")
	}
	if kind != "" && !kind.Valid() {
		return domain.RequestPage{}, domain.Errorf(domain.EINVALID, "", "unknown plan kind").WithField("planKind")
	}
	if err := domain.CheckFirst(first); err != nil {
		return domain.RequestPage{}, err
	}
	return filteredPage(first, after, func(after *domain.RequestCursor) ([]domain.SupportRequest, error) {
		return s.store.OpenRequests(ctx, domain.QueueQuery{Portal: portal, PlanKind: kind, After: after, Limit: first + 1})
	}, func(r domain.SupportRequest) bool {
		if r.Closure != nil {
			// The closure decides; the mark only keeps the next page from reading it again.
			if err := s.store.MarkRequestClosed(ctx, *r.Closure, r.Refunded); err != nil {
				s.log.WarnContext(ctx, "marking a closed request failed; the queue skips it meanwhile", "request", r.ID, "err", err)
			}
		}
		return r.Closure == nil
	})
}

// ProviderRequest reads a request for the support provider to resolve it (R25): what it
// is about, never who opened it, and never a tenant's Access ID or Contract ID, which a
// request does not carry.
func (s *RequestService) ProviderRequest(ctx context.Context, caller domain.Account, id string) (domain.SupportRequest, error) {
	if err := s.permit(ctx, caller, domain.ActProviderRead, ""); err != nil {
		return domain.SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.SupportRequest{}, domain.Errorf(domain.ENOTFOUND, "", "there is no support request %q", domain.Clip(id)).WithField("id")
	}
	return r, err
}

// Request is one of the caller's own support requests, as Requests lists them (R18):
// another account's request is NOT_FOUND, as one that does not exist.
func (s *RequestService) Request(ctx context.Context, caller domain.Account, id string) (domain.SupportRequest, error) {
	if err := s.permit(ctx, caller, domain.ActOwnRequests, ""); err != nil {
		return domain.SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if domain.ErrorCode(err) == domain.ENOTFOUND || (err == nil && r.AccountID != caller.ID) {
		return domain.SupportRequest{}, domain.Errorf(domain.ENOTFOUND, "", "there is no support request %q", domain.Clip(id))
	}
	return r, err
}
