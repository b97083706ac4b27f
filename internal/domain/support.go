package domain

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Products lists the product catalog (R8).
func (s *Service) Products(ctx context.Context) ([]Product, error) { return s.store.Products(ctx) }

// Covered tells whether partner on-premises support covers a product version now (R8).
func (s *Service) Covered(p Product, version string) (bool, string) {
	return Coverage(p, version, s.Now())
}

// productVersion validates a product and version of a request.
func (s *Service) productVersion(ctx context.Context, productID, version string) (Product, *Version, error) {
	p, err := s.store.Product(ctx, productID)
	if ErrorCode(err) == ENOTFOUND {
		return Product{}, nil, Errorf(EINVALID, "R8", "there is no product %q in the catalog", clip(productID)).WithField("productId")
	} else if err != nil {
		return Product{}, nil, err
	}
	if p.Deployment != DeploymentOnPremises {
		return p, nil, nil
	}
	for i := range p.Versions {
		if p.Versions[i].Name == version {
			return p, &p.Versions[i], nil
		}
	}
	return Product{}, nil, Errorf(EINVALID, "R8", "%s has no version %q; give one of its catalog versions", p.Name, clip(version)).WithField("version")
}

// SupportPlans splits the plans the caller may consider for a product, version and portal
// into available and unavailable ones, each unavailable one with its reasons (R8, R10,
// R12, R13, R14, R21, R23). Everything is evaluated now: a plan available yesterday may not
// be today.
func (s *Service) SupportPlans(ctx context.Context, caller Account, productID, version string, portal Portal) (Plans, error) {
	if err := s.permit(ctx, caller, ActSupportPlans, ""); err != nil {
		return Plans{}, err
	}
	return s.supportPlans(ctx, caller, productID, version, portal)
}

// supportPlans is SupportPlans without the permission check: what the query lists, and
// the only list a create chooses its plan from (R23).
func (s *Service) supportPlans(ctx context.Context, caller Account, productID, version string, portal Portal) (Plans, error) {
	if !portal.Valid() {
		return Plans{}, Errorf(EINVALID, "R11", "unknown portal").WithField("portal")
	}
	if portal == PortalPartnerCenter {
		return Plans{}, Errorf(EINVALID, "R17", "the partner centre takes front-line and partner-program requests, which need no support plan").WithField("portal")
	}
	product, ver, err := s.productVersion(ctx, productID, version)
	if err != nil {
		return Plans{}, err
	}
	now := s.Now()
	c := planContext{now: now, account: caller, product: product, version: version, portal: portal}
	out := Plans{Product: product, Version: ver, Portal: portal}

	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return Plans{}, err
	}
	memberships, err := s.store.MembershipsOfAccount(ctx, caller.ID)
	if err != nil {
		return Plans{}, err
	}
	linked := map[string]bool{}
	tenants := []string{}
	seen := map[string]bool{}
	for _, l := range links {
		linked[l.BenefitID] = true
		if !seen[l.TenantID] {
			seen[l.TenantID] = true
			tenants = append(tenants, l.TenantID)
		}
	}
	member := map[string]Membership{}
	for _, m := range memberships {
		member[m.TenantID] = m
		if !seen[m.TenantID] {
			seen[m.TenantID] = true
			tenants = append(tenants, m.TenantID)
		}
	}
	var plans []Plan
	for _, tid := range tenants {
		st, err := s.tenantStateOf(ctx, tid, false)
		if err != nil {
			return Plans{}, err
		}
		_, isMember := member[tid]
		for _, h := range st.held {
			for _, b := range h.Benefits {
				if p, ok := c.benefitPlan(st, tid, h, b, linked[b.ID], isMember); ok {
					plans = append(plans, p)
				}
			}
		}
	}
	if portal == PortalAzure {
		plans = append(plans, s.cspPlans(ctx, c, memberships)...)
	}
	ppi, err := s.ppiPlans(ctx, c)
	if err != nil {
		return Plans{}, err
	}
	plans = append(plans, ppi...)

	out.Hint = portalHint(product, portal)
	out.Hint.apply(plans)
	for _, p := range plans {
		if p.Available() {
			out.Available = append(out.Available, p)
		} else {
			out.Unavailable = append(out.Unavailable, p)
		}
	}
	return out, nil
}

// benefitPlan is how SupportPlans lists benefit b of held offer h of tenant tid, and
// whether it lists it at all: a member sees the tenant's activated, current plans; anyone
// sees what they linked.
func (c planContext) benefitPlan(st *tenantState, tid string, h HeldOffer, b Benefit, linked, isMember bool) (Plan, bool) {
	if !b.Kind.Incidental() {
		return Plan{}, false
	}
	if _, activated := st.contracts[b.ID]; !Listed(linked, isMember, activated, b.Expired(c.now)) {
		return Plan{}, false
	}
	v := st.view(c.now, b, false)
	end := b.EndsAt
	p := Plan{ID: b.ID, Name: b.Name, TenantID: tid, Benefit: &b, Incidents: v.Incidents, EndsAt: &end,
		Linked: linked, ActionPack: ActionPack(h, b),
		quota: b.Quota, unlim: b.Unlimited}
	p.Kind = PlanPartnerCloud
	if b.Kind == BenefitOnPremisesSupport {
		p.Kind = PlanPartnerOnPremise
	}
	// R10: Microsoft 365 needs no linked IDs for the tenant's own members.
	c.evaluate(&p, v.Status, NeedsLink(c.product, isMember))
	return p, true
}

// portalHint says where requests for the product are opened when it is not in portal
// (R11); nil when it is.
func portalHint(product Product, portal Portal) *PortalHint {
	if product.Portal == portal || (portal == PortalServicesHub && product.Deployment == DeploymentOnPremises) {
		return nil
	}
	return &PortalHint{Portal: product.Portal, Message: "requests for " + product.Name + " are opened in the " + portalName(product.Portal) + " portal"}
}

// apply gives every plan the hint as a reason it is unavailable here (R11).
func (h *PortalHint) apply(plans []Plan) {
	if h == nil {
		return
	}
	for i := range plans {
		plans[i].Reasons = append(plans[i].Reasons, Reason{Code: ReasonWrongPortal, Rule: "R11", Message: h.Message})
	}
}

func portalName(p Portal) string {
	switch p {
	case PortalAzure:
		return "Azure"
	case PortalDynamics:
		return "Dynamics 365 (Power Platform)"
	case PortalDynamicsFinanceOperations:
		return "Dynamics 365 Finance & Operations"
	case PortalServicesHub:
		return "on-premises (Services Hub)"
	case PortalMicrosoft365:
		return "Microsoft 365 admin center"
	}
	return string(p)
}

// cspPlans are the CSP support plans of the caller's CSP tenants, for Azure (R14).
func (s *Service) cspPlans(ctx context.Context, c planContext, ms []Membership) []Plan {
	var out []Plan
	for _, m := range ms {
		t, err := s.store.Tenant(ctx, m.TenantID)
		if err != nil || t.CSP == CSPNone {
			continue
		}
		provider := t.IndirectProvider
		if t.CSP == CSPIndirectReseller {
			if pt, err := s.store.Tenant(ctx, t.IndirectProvider); err == nil {
				provider = pt.Name
			}
		}
		out = append(out, Plan{ID: cspPlanPrefix + t.ID, Kind: PlanCSP, Name: t.Name + " CSP support plan", TenantID: t.ID,
			Incidents: Incidents{Unlimited: true}, Reasons: CSPReasons(t, provider, c.product, m)})
	}
	return out
}

// ppiPlans are the caller's pay-per-incident plans (R21). Only an MSA can buy them, so a
// work account has none and costs no read.
func (s *Service) ppiPlans(ctx context.Context, c planContext) ([]Plan, error) {
	if PPIRefusal(c.account.Kind, nil) != nil {
		return nil, nil
	}
	ps, err := s.store.PPIPlans(ctx, c.account.ID)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	used, err := s.store.UsedIncidents(ctx, PPIScope(c.account.ID))
	if err != nil {
		return nil, err
	}
	out := make([]Plan, 0, len(ps))
	for _, pp := range ps {
		product := c.product
		if pp.ProductID != product.ID {
			if product, err = s.store.Product(ctx, pp.ProductID); err != nil {
				product = Product{ID: pp.ProductID, Name: pp.ProductID} // a product gone from the catalog
			}
		}
		b := ppiBenefit(pp, product)
		p := Plan{ID: pp.ID, Kind: PlanPayPerIncident, Name: b.Name, TenantID: b.TenantID, Benefit: &b, Incidents: b.Balance(used[pp.ID]), EndsAt: &b.EndsAt, Linked: true, quota: 1}
		if r, ok := Lapsed(ppiStatus(b, c.now, used[pp.ID]), b.EndsAt); ok { // R23
			p.Reasons = append(p.Reasons, r)
		}
		if pp.ProductID != c.product.ID {
			p.Reasons = append(p.Reasons, Reason{Code: ReasonPPIProduct, Rule: "R21", Message: "a pay-per-incident plan serves the product it was bought for"})
		}
		out = append(out, p)
	}
	return out, nil
}

// CreateRequestInput is a new support request.
type CreateRequestInput struct {
	IdempotencyKey string
	PlanID         string // required unless the type is free (R17)
	ProductID      string
	Version        string
	Portal         Portal
	Type           RequestType
	Title          string
	Description    string
	CustomerID     string // R14: for a CSP request
}

var idemKey = regexp.MustCompile(`^[A-Za-z0-9._:\-]{8,128}$`)

// ValidIdempotencyKey reports whether a client's idempotency key is acceptable: 8 to 128
// characters of letters, digits and . _ : -
func ValidIdempotencyKey(k string) bool { return idemKey.MatchString(k) }

func (in CreateRequestInput) validate() error {
	if !ValidIdempotencyKey(in.IdempotencyKey) {
		return Errorf(EINVALID, "", "the idempotency key must be 8 to 128 letters, digits or . _ : -").WithField("idempotencyKey")
	}
	if !in.Type.Valid() {
		return Errorf(EINVALID, "", "unknown request type").WithField("type")
	}
	if !in.Portal.Valid() {
		return Errorf(EINVALID, "", "unknown portal").WithField("portal")
	}
	if err := in.checkRequestText(); err != nil {
		return err
	}
	if t := strings.TrimSpace(in.Title); t == "" || utf8.RuneCountInString(t) > 200 {
		return Errorf(EINVALID, "", "the title must be 1 to 200 characters").WithField("title")
	}
	if utf8.RuneCountInString(in.Description) > 10000 {
		return Errorf(EINVALID, "", "the description must be at most 10,000 characters").WithField("description")
	}
	if len(in.PlanID) > 200 || len(in.CustomerID) > 200 || len(in.ProductID) > 200 || len(in.Version) > 100 {
		return Errorf(EINVALID, "", "an identifier is too long")
	}
	if err := CheckRequestPlace(in); err != nil {
		return err
	}
	if !in.Type.Free() && in.PlanID == "" {
		return Errorf(EINVALID, "R15", "a %s request needs a support plan", strings.ToLower(string(in.Type))).WithField("planId")
	}
	return nil
}

func (in CreateRequestInput) fingerprint() string {
	b, _ := json.Marshal([]string{in.PlanID, in.ProductID, in.Version, string(in.Portal), string(in.Type), strings.TrimSpace(in.Title), in.Description, in.CustomerID})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RequestID derives a request's ID from the account and its idempotency key: every write
// of a create is keyed by it, so a retry finds and completes what an earlier attempt did.
func RequestID(accountID, key string) string {
	sum := sha256.Sum256([]byte(accountID + "\x00" + key))
	return "req_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
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
func (s *Service) CreateRequest(ctx context.Context, caller Account, in CreateRequestInput) (SupportRequest, error) {
	if err := s.permit(ctx, caller, ActCreateRequest, ""); err != nil {
		return SupportRequest{}, err
	}
	if err := in.validate(); err != nil {
		return SupportRequest{}, err
	}
	in.Title = strings.TrimSpace(in.Title)
	fp := in.fingerprint()
	id := RequestID(caller.ID, in.IdempotencyKey)
	if r, err := s.store.Request(ctx, id); err == nil {
		return sameRequest(r, fp)
	} else if ErrorCode(err) != ENOTFOUND {
		return SupportRequest{}, err
	}
	now := s.Now()
	req := SupportRequest{ID: id, AccountID: caller.ID, PlanID: in.PlanID, Portal: in.Portal, ProductID: in.ProductID, Version: in.Version,
		Type: in.Type, Title: in.Title, Description: in.Description, CustomerID: in.CustomerID, IdempotencyKey: in.IdempotencyKey, Fingerprint: fp, CreatedAt: now}
	if in.Type.Free() {
		// R17: in the partner centre, free, no plan, no incident. An earlier attempt of
		// this key that claimed an incident was another request: the key's reuse.
		if _, err := s.store.Claim(ctx, id); err == nil {
			return SupportRequest{}, keyReused()
		} else if ErrorCode(err) != ENOTFOUND {
			return SupportRequest{}, err
		}
		return s.insertRequest(ctx, req, fp)
	}
	if in.Version != "" {
		if p, err := s.store.Product(ctx, in.ProductID); err == nil {
			if err := checkVersionApplies(p, in.Version); err != nil {
				return SupportRequest{}, err
			}
		} // an unknown product is refused with the plans below (R8)
	}
	// R23: the plan is chosen among exactly what supportPlans lists to the caller now; the
	// claim below still decides whether an incident is left (R15).
	plans, err := s.supportPlans(ctx, caller, in.ProductID, in.Version, in.Portal)
	if err != nil {
		return SupportRequest{}, err
	}
	plan, refusal := choosePlan(plans, in.PlanID)
	if refusal != nil || !ConsumesIncident(plan.Kind, in.Type) {
		// An earlier attempt of this request may have claimed an incident (when the plan
		// was available; then it crashed, or it is racing with this one): its claim
		// completes this create, whatever the plan's state is now, with no second claim.
		// A create that claims below meets that claim on its insert, whose key is the
		// request's ID; any other looks it up here.
		prior, err := s.store.Claim(ctx, id)
		switch {
		case err == nil:
			p, found := findPlan(plans, in.PlanID)
			if !found || p.Benefit == nil || prior.BenefitID != p.Benefit.ID {
				return SupportRequest{}, keyReused()
			}
			plan, refusal = p, nil
		case ErrorCode(err) != ENOTFOUND:
			return SupportRequest{}, err
		}
		if refusal != nil {
			return SupportRequest{}, refusal
		}
	}
	req.PlanKind, req.TenantID = plan.Kind, plan.TenantID
	if plan.Kind == PlanCSP {
		if err := s.checkGDAP(ctx, plan.TenantID, in.CustomerID, now); err != nil {
			return SupportRequest{}, err
		}
	}
	consume := ConsumesIncident(plan.Kind, in.Type) // R15, R17
	if consume {
		req.BenefitID, req.Consumed = plan.Benefit.ID, true
		// A claim an earlier attempt of this request made is under the same ID: the
		// insert collides on it and ClaimIncident returns it, so no read looks for it first.
		c, err := s.store.ClaimIncident(ctx, Claim{RequestID: id, TenantID: plan.TenantID, BenefitID: plan.Benefit.ID, AccountID: caller.ID, At: now}, plan.quota, plan.unlim)
		if ErrorCode(err) == EEXHAUSTED {
			return SupportRequest{}, s.exhausted(ctx, caller, in, plan)
		} else if err != nil {
			return SupportRequest{}, err
		}
		if c.BenefitID != plan.Benefit.ID {
			return SupportRequest{}, keyReused() // the key's earlier attempt claimed on another plan
		}
	}
	r, err := s.insertRequest(ctx, req, fp)
	if err != nil {
		return r, err
	}
	if consume {
		s.record(ctx, Event{ID: "consume/" + id, TenantID: plan.TenantID, Kind: EventConsume, BenefitID: plan.Benefit.ID, PlanName: plan.Name,
			RequestID: id, ActorID: caller.ID, Reason: string(in.Type), At: now, Delta: -1, Quota: plan.quota, Unlimited: plan.unlim})
	}
	return r, nil
}

// exhausted is the answer to a create whose claim found no incident left (R15) although
// the plans it chose from counted one: the plan's refusal with its reasons, as choosePlan
// gives it once the counts show none left, or, if they still show one (another request
// took the last one and is not yet counted), that.
func (s *Service) exhausted(ctx context.Context, caller Account, in CreateRequestInput, plan Plan) error {
	if plans, err := s.SupportPlans(ctx, caller, in.ProductID, in.Version, in.Portal); err == nil {
		if _, err := choosePlan(plans, in.PlanID); ErrorCode(err) == EEXHAUSTED {
			return err
		}
	}
	return NoIncidentsLeft(plan.Name, "another request took the last one")
}

func (s *Service) insertRequest(ctx context.Context, req SupportRequest, fp string) (SupportRequest, error) {
	if err := s.store.InsertRequest(ctx, req); ErrorCode(err) == ECONFLICT {
		r, err := s.store.Request(ctx, req.ID) // a concurrent retry of the same key won
		if err != nil {
			return SupportRequest{}, err
		}
		return sameRequest(r, fp)
	} else if err != nil {
		return SupportRequest{}, err
	}
	return req, nil
}

func sameRequest(r SupportRequest, fp string) (SupportRequest, error) {
	if r.Fingerprint != fp {
		return SupportRequest{}, keyReused()
	}
	return r, nil
}

func keyReused() error {
	return Errorf(EKEYREUSED, "", "this idempotency key was already used for a different request; use a new key").WithField("idempotencyKey")
}

// findPlan finds a plan by ID, available or not.
func findPlan(ps Plans, id string) (Plan, bool) {
	for _, l := range [][]Plan{ps.Available, ps.Unavailable} {
		for _, p := range l {
			if p.ID == id {
				return p, true
			}
		}
	}
	return Plan{}, false
}

// choosePlan finds the chosen plan; an unavailable one is refused with its reasons (R23).
func choosePlan(ps Plans, id string) (Plan, error) {
	for _, p := range ps.Available {
		if p.ID == id {
			return p, nil
		}
	}
	for _, p := range ps.Unavailable {
		if p.ID == id {
			r := p.Reasons[0]
			e := Errorf(EPLANUNAVAILABLE, r.Rule, "%s cannot be used for this request: %s", p.Name, r.Message)
			codes := make([]string, len(p.Reasons))
			for i, r := range p.Reasons {
				codes[i] = string(r.Code)
			}
			e.Meta = map[string]any{"reasons": codes}
			if r.Code == ReasonNoIncidentsLeft {
				e.Code = EEXHAUSTED
			}
			return Plan{}, e.WithField("planId")
		}
	}
	return Plan{}, Errorf(EINVALID, "", "this account has no support plan %q for this product", clip(id)).WithField("planId")
}

// checkGDAP allows a CSP request for a customer only as GDAPAllows says (R14).
func (s *Service) checkGDAP(ctx context.Context, partner, customerID string, now time.Time) error {
	if customerID == "" {
		return Errorf(EINVALID, "R14", "a CSP request names the customer it is for").WithField("customerId")
	}
	cu, err := s.store.Customer(ctx, customerID)
	if ErrorCode(err) == ENOTFOUND {
		return GDAPAllows(nil, partner, now)
	} else if err != nil {
		return err
	}
	return GDAPAllows(&cu, partner, now)
}

// WithdrawRequest is the partner side's close (R25): the account that opened the request,
// or an admin of its plan's tenant, withdraws it. A withdrawal refunds only what R16
// refunds by request type (billing, quota, subscription on a Partner Cloud Support plan),
// never as a duplicate or a bug, which are the support provider's findings. Withdrawing a
// withdrawn request again answers it as it is.
func (s *Service) WithdrawRequest(ctx context.Context, caller Account, id string) (SupportRequest, error) {
	if err := s.permit(ctx, caller, ActWithdraw, ""); err != nil {
		return SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return SupportRequest{}, s.refused(ctx, caller, "", Forbidden())
	} else if err != nil {
		return SupportRequest{}, err
	}
	var roles []Role
	if r.AccountID != caller.ID && r.TenantID != "" {
		if m, err := s.store.Membership(ctx, r.TenantID, caller.ID); err == nil {
			roles = m.Roles
		} else if ErrorCode(err) != ENOTFOUND {
			return SupportRequest{}, err
		}
	}
	if !MayWithdraw(caller.ID, roles, r) {
		return SupportRequest{}, s.refused(ctx, caller, r.TenantID, Forbidden())
	}
	out, err := s.closeRequest(ctx, caller, r, CloseWithdrawn)
	s.audited(ctx, caller, AuditWithdraw, r.TenantID, r.ID, err)
	return out, err
}

// ResolveRequest is the support provider's close (R25): it records its finding
// (resolved, duplicate, bug, cancelled) on an open request of any tenant, and the refund
// follows from it by R16, at most once.
func (s *Service) ResolveRequest(ctx context.Context, caller Account, id string, outcome CloseReason) (SupportRequest, error) {
	if err := Permit(caller.Kind, ActResolve); err != nil {
		return SupportRequest{}, s.refused(ctx, caller, s.trailOf(ctx, id), err)
	}
	if !outcome.Resolution() {
		return SupportRequest{}, Errorf(EINVALID, "R25", "a resolution is RESOLVED, DUPLICATE, BUG or CANCELLED; a withdrawal is the partner's").WithField("resolution")
	}
	r, err := s.store.Request(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return SupportRequest{}, Errorf(ENOTFOUND, "", "there is no support request %q", clip(id)).WithField("id")
	} else if err != nil {
		return SupportRequest{}, err
	}
	out, err := s.closeRequest(ctx, caller, r, outcome)
	s.audited(ctx, caller, AuditResolve, r.TenantID, r.ID, err)
	return out, err
}

// CloseRequest is the deprecated closeSupportRequest (R25). For the support provider it
// is ResolveRequest. For a partner principal it is WithdrawRequest: RESOLVED and CANCELLED
// become a withdrawal, and DUPLICATE and BUG, the provider's findings, are refused.
func (s *Service) CloseRequest(ctx context.Context, caller Account, id string, reason CloseReason) (SupportRequest, error) {
	if !reason.Valid() {
		return SupportRequest{}, Errorf(EINVALID, "", "unknown close reason").WithField("reason")
	}
	if caller.Kind == KindSupportProvider {
		return s.ResolveRequest(ctx, caller, id, reason)
	}
	if reason == CloseDuplicate || reason == CloseBug {
		err := Errorf(EPROVIDERONLY, "R25", "a duplicate or a bug is the support provider's finding, which refunds the incident; withdraw the request instead (withdrawSupportRequest)").WithField("reason")
		return SupportRequest{}, s.refused(ctx, caller, s.trailOf(ctx, id), err)
	}
	return s.WithdrawRequest(ctx, caller, id)
}

// trailOf is the tenant whose audit trail a refusal about request id belongs in: the
// tenant of its plan, or "" (the log only) when there is none or it cannot be read. The
// caller's answer does not depend on it.
func (s *Service) trailOf(ctx context.Context, id string) string {
	if r, err := s.store.Request(ctx, id); err == nil && !IsPPIScope(r.TenantID) {
		return r.TenantID
	}
	return ""
}

// closeRequest records a closure with the outcome and refunds the incident when R16 says
// so. The first closure wins and a refund is recorded under the request's ID, so however
// many closes race (a withdrawal and a resolution included), there is at most one refund,
// and it follows the closure that won. Each step is idempotent: a retry completes a close
// that a crash cut short.
func (s *Service) closeRequest(ctx context.Context, caller Account, r SupportRequest, reason CloseReason) (SupportRequest, error) {
	closure := Closure{RequestID: r.ID, TenantID: r.TenantID, Reason: reason, By: caller.ID, At: s.Now()}
	var conflict error
	if err := s.store.InsertClosure(ctx, closure); ErrorCode(err) == ECONFLICT {
		var err error
		if r, err = s.store.Request(ctx, r.ID); err != nil {
			return SupportRequest{}, err
		}
		if r.Closure == nil {
			return SupportRequest{}, Errorf(EUNAVAILABLE, "", "the request's closure cannot be read yet; try again")
		}
		closure = *r.Closure
		if closure.Reason != reason {
			conflict = Errorf(EALREADYCLOSED, "R25", "this request was already closed as %s", strings.ToLower(string(closure.Reason)))
		}
	} else if err != nil {
		return SupportRequest{}, err
	}
	// Off the provider's queue: a hint for listing, which the closure decides.
	if err := s.store.MarkRequestClosed(ctx, r.ID, closure.At); err != nil {
		s.log.WarnContext(ctx, "marking a closed request failed; the repair will", "request", r.ID, "err", err)
	}
	if err := s.refundIfDue(ctx, r, closure); err != nil {
		return SupportRequest{}, err
	}
	if conflict != nil {
		return SupportRequest{}, conflict
	}
	return s.store.Request(ctx, r.ID)
}

// refundIfDue gives a closed request's incident back when R16 says so: record the refund
// (at most once, by its key), free the claim, record the ledger event. Safe to repeat.
func (s *Service) refundIfDue(ctx context.Context, r SupportRequest, c Closure) error {
	if !r.Consumed || !Refundable(r.PlanKind, r.Type, c.Reason) {
		return nil
	}
	err := s.store.InsertRefund(ctx, Refund{RequestID: r.ID, TenantID: r.TenantID, BenefitID: r.BenefitID, Reason: c.Reason, By: c.By, At: c.At})
	if err != nil && ErrorCode(err) != ECONFLICT {
		return err
	}
	if err := s.store.ReleaseClaim(ctx, r.ID); err != nil {
		return err
	}
	quota, unlimited, name := s.planQuota(ctx, r)
	s.record(ctx, Event{ID: "refund/" + r.ID, TenantID: r.TenantID, Kind: EventRefund, BenefitID: r.BenefitID, PlanName: name, RequestID: r.ID,
		ActorID: c.By, Reason: string(c.Reason), At: c.At, Delta: +1, Quota: quota, Unlimited: unlimited})
	return nil
}

// planQuota is the quota and name of a request's benefit (for the ledger event).
func (s *Service) planQuota(ctx context.Context, r SupportRequest) (quota int, unlimited bool, name string) {
	if r.PlanKind == PlanPayPerIncident {
		p, err := s.store.Product(ctx, r.ProductID)
		if err != nil {
			p = Product{ID: r.ProductID, Name: r.ProductID}
		}
		return 1, false, PPIPlanName(p)
	}
	b, err := s.benefit(ctx, r.BenefitID)
	if err != nil {
		return 0, false, ""
	}
	return b.Quota, b.Unlimited, b.Name
}

// RequestPage is a page of requests.
type RequestPage struct {
	Requests []SupportRequest
	HasMore  bool
}

// MaxPage bounds every list's page size.
const MaxPage = 100

// CheckFirst validates a connection's page size: 1 to 100.
func CheckFirst(first int) error {
	if first < 1 || first > MaxPage {
		return Errorf(EINVALID, "", "first must be between 1 and %d", MaxPage).WithField("first")
	}
	return nil
}

// ListedIn decides whether a portal's list of an account's requests shows one of them
// (R18): each portal lists the requests the account created there; the on-premises portal
// (Services Hub, "Support for business") lists every one of the account's requests tied
// to its plans, whichever portal they were opened in, and its front-line requests of the
// partner centre too. The partner centre lists its own (front-line and partner-program,
// R17).
func ListedIn(portal Portal, r SupportRequest) bool {
	if portal == PortalServicesHub {
		return r.PlanID != "" || r.Type == RequestFrontLine || r.Portal == PortalServicesHub
	}
	return r.Portal == portal
}

// Requests lists the caller's requests for a portal, newest first, as ListedIn says (R18).
func (s *Service) Requests(ctx context.Context, caller Account, portal Portal, first int, after *RequestCursor) (RequestPage, error) {
	if err := s.permit(ctx, caller, ActOwnRequests, ""); err != nil {
		return RequestPage{}, err
	}
	if !portal.Valid() {
		return RequestPage{}, Errorf(EINVALID, "R18", "unknown portal").WithField("portal")
	}
	if err := CheckFirst(first); err != nil {
		return RequestPage{}, err
	}
	filter := portal
	if portal == PortalServicesHub {
		filter = "" // R18: across portals, then ListedIn
	}
	return filteredPage(first, after, func(after *RequestCursor) ([]SupportRequest, error) {
		return s.store.Requests(ctx, caller.ID, filter, after, first+1)
	}, func(r SupportRequest) bool { return ListedIn(portal, r) })
}

// filteredPage reads pages of first+1 requests from the cursor on, in the store's order,
// until first requests that keep accepts are found (HasMore when more follow) or the list
// ends.
func filteredPage(first int, after *RequestCursor, read func(after *RequestCursor) ([]SupportRequest, error), keep func(SupportRequest) bool) (RequestPage, error) {
	var page RequestPage
	for {
		rs, err := read(after)
		if err != nil {
			return RequestPage{}, err
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
		after = &RequestCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// ProviderQueue lists the open requests the support provider serves, across tenants,
// oldest first, in a portal and of a plan kind when given (R25). Only the provider's side
// may (Permit). A request closed while its closedAt mark was not yet written is left out
// here and marked now.
func (s *Service) ProviderQueue(ctx context.Context, caller Account, portal Portal, kind PlanKind, first int, after *RequestCursor) (RequestPage, error) {
	if err := s.permit(ctx, caller, ActProviderQueue, ""); err != nil {
		return RequestPage{}, err
	}
	if portal != "" && !portal.Valid() {
		return RequestPage{}, Errorf(EINVALID, "", "unknown portal").WithField("portal")
	}
	if kind != "" && !kind.Valid() {
		return RequestPage{}, Errorf(EINVALID, "", "unknown plan kind").WithField("planKind")
	}
	if err := CheckFirst(first); err != nil {
		return RequestPage{}, err
	}
	return filteredPage(first, after, func(after *RequestCursor) ([]SupportRequest, error) {
		return s.store.OpenRequests(ctx, QueueQuery{Portal: portal, PlanKind: kind, After: after, Limit: first + 1})
	}, func(r SupportRequest) bool {
		if r.Closure != nil {
			// The closure decides; the mark only keeps the next page from reading it again.
			if err := s.store.MarkRequestClosed(ctx, r.ID, r.Closure.At); err != nil {
				s.log.WarnContext(ctx, "marking a closed request failed; the queue skips it meanwhile", "request", r.ID, "err", err)
			}
		}
		return r.Closure == nil
	})
}

// ProviderRequest reads a request for the support provider to resolve it (R25): what it
// is about, never who opened it, and never a tenant's Access ID or Contract ID, which a
// request does not carry.
func (s *Service) ProviderRequest(ctx context.Context, caller Account, id string) (SupportRequest, error) {
	if err := s.permit(ctx, caller, ActProviderRead, ""); err != nil {
		return SupportRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return SupportRequest{}, Errorf(ENOTFOUND, "", "there is no support request %q", clip(id)).WithField("id")
	}
	return r, err
}

// LedgerPage is a page of a tenant's ledger.
type LedgerPage struct {
	Events  []Event
	HasMore bool
}

// Ledger lists a tenant's incident ledger, newest first, for its admins: every grant,
// consumption, refund, expiry and cap, with who, when, which request and why. (The
// article has no such view; this API goes further.)
func (s *Service) Ledger(ctx context.Context, caller Account, tenantID string, first int, before int64) (LedgerPage, error) {
	if err := s.adminPage(ctx, caller, ActLedger, tenantID, first); err != nil {
		return LedgerPage{}, err
	}
	evs, err := s.store.Events(ctx, tenantID, 0, before, first+1, true)
	if err != nil {
		return LedgerPage{}, err
	}
	p := LedgerPage{}
	p.Events, p.HasMore = trimPage(evs, first)
	return p, nil
}

// adminPage authorises a page of a tenant's admin-only list (the ledger, the audit
// trail): the partner side (R25), a member (R4) with an admin role (R3), and a page size
// of 1..100.
func (s *Service) adminPage(ctx context.Context, caller Account, act Action, tenantID string, first int) error {
	if err := s.permit(ctx, caller, act, ""); err != nil {
		return err
	}
	m, err := s.member(ctx, caller, tenantID)
	if err != nil {
		return err
	}
	if err := s.requireRole(ctx, caller, m, "R3", ActivatorRoles...); err != nil {
		return err
	}
	return CheckFirst(first)
}

// trimPage cuts a read of first+1 items to first, and says whether there were more.
func trimPage[T any](xs []T, first int) ([]T, bool) {
	if len(xs) > first {
		return xs[:first], true
	}
	return xs, false
}

// PurchasePayPerIncident buys a one-incident plan for an on-premises product under the
// fixed lifecycle policy (R21). Only an MSA can buy it online.
func (s *Service) PurchasePayPerIncident(ctx context.Context, caller Account, productID, version string) (PPIPlan, error) {
	if err := s.permit(ctx, caller, ActBuyPPI, ""); err != nil {
		return PPIPlan{}, err
	}
	if err := PPIRefusal(caller.Kind, nil); err != nil {
		return PPIPlan{}, err
	}
	p, _, err := s.productVersion(ctx, productID, version)
	if err != nil {
		return PPIPlan{}, err
	}
	if err := PPIRefusal(caller.Kind, &p); err != nil {
		return PPIPlan{}, err
	}
	now := s.Now()
	pp := PPIPlan{ID: "ppi_" + strings.ToLower(s.newSecret()), AccountID: caller.ID, ProductID: p.ID, Version: version, BoughtAt: now, EndsAt: now.AddDate(1, 0, 0)}
	if err := s.store.InsertPPIPlan(ctx, pp); err != nil {
		return PPIPlan{}, err
	}
	s.record(ctx, Event{ID: "grant/" + pp.ID, TenantID: PPIScope(caller.ID), Kind: EventGrant, BenefitID: pp.ID, PlanName: PPIPlanName(p),
		ActorID: caller.ID, Reason: "pay per incident", At: now, Quota: 1})
	return pp, nil
}

// Consultations lists a tenant's ISV consultation requests (R22).
func (s *Service) Consultations(ctx context.Context, caller Account, tenantID string) ([]Consultation, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	cs, err := s.store.Consultations(ctx, tenantID)
	sort.Slice(cs, func(i, j int) bool { return cs[i].RequestedAt.After(cs[j].RequestedAt) })
	return cs, err
}

// EncodeSeq and DecodeSeq make opaque ledger cursors.
func EncodeSeq(seq int64) string { return "s" + strconv.FormatInt(seq, 36) }

// DecodeSeq reads a ledger cursor.
func DecodeSeq(c string) (int64, error) {
	if len(c) < 2 || len(c) > 16 || c[0] != 's' {
		return 0, Errorf(EINVALID, "", "malformed cursor").WithField("after")
	}
	n, err := strconv.ParseInt(c[1:], 36, 64)
	if err != nil || n < 0 {
		return 0, Errorf(EINVALID, "", "malformed cursor").WithField("after")
	}
	return n, nil
}

// VersionCoverage is a product version with its partner support coverage today (R8).
type VersionCoverage struct {
	Version
	PartnerSupportCovered bool
	CoverageNote          *string
}

// VersionCoverage lists a product's versions with their coverage now (R8).
func (s *Service) VersionCoverage(p Product) []VersionCoverage {
	out := make([]VersionCoverage, len(p.Versions))
	for i, v := range p.Versions {
		ok, why := s.Covered(p, v.Name)
		out[i] = VersionCoverage{Version: v, PartnerSupportCovered: ok}
		if !ok {
			out[i].CoverageNote = &why
		}
	}
	return out
}
