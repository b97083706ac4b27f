package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Identity is who a validated token says the caller is.
type Identity struct {
	Issuer  string
	Subject string
	Email   string
	Kind    AccountKind
}

// AccountID derives an account's ID from its issuer and subject, so that the first
// sign-in creates it exactly once, whichever server instance sees it first.
func AccountID(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "acc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// Service applies the business rules. Its zero values are not usable: use NewService.
type Service struct {
	store           Store
	now             func() time.Time
	activationDelay time.Duration
	reminders       ReminderPolicy
	newSecret       func() string
	log             *slog.Logger
	seq             sequencer
	onEvent         Sequenced
	onAudit         func(AuditEvent)
}

// Options configure a Service.
type Options struct {
	// Now is the clock; every rule is evaluated against it at request time (R23).
	Now func() time.Time
	// ActivationDelay is how long activation takes before the IDs show (R4).
	ActivationDelay time.Duration
	Reminders       ReminderPolicy
	// Logger receives warnings about work left to the repair; nil discards them.
	Logger *slog.Logger
	// OnEvent is called for every event this process sequences.
	OnEvent Sequenced
	// OnAudit is called for every audit event (for metrics); may be nil.
	OnAudit func(AuditEvent)
	// SequencingRounds bounds the scopes this process sequences at once; 0 is
	// SequencingRounds.
	SequencingRounds int
}

// NewService returns a Service over the store.
func NewService(s Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	// Milliseconds, what the store keeps (BSON dates): a time a mutation answers is the
	// time a later read gives back.
	clock := o.Now
	o.Now = func() time.Time { return clock().Truncate(time.Millisecond) }
	if o.Logger == nil {
		o.Logger = discardLogger
	}
	return &Service{store: s, now: o.Now, activationDelay: o.ActivationDelay, reminders: o.Reminders, newSecret: newSecret, log: o.Logger, onEvent: o.OnEvent, onAudit: o.OnAudit,
		seq: newSequencer(o.SequencingRounds)}
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// newSecret returns 26 characters of base32 from the operating system's cryptographic
// source: 130 bits, so guessing a pair is hopeless (R4, R9).
func newSecret() string { return rand.Text() }

// SignIn returns the caller's account, creating it on first sign-in from the token's
// subject, email and kind.
func (s *Service) SignIn(ctx context.Context, id Identity) (Account, error) {
	if id.Subject == "" || !id.Kind.Valid() {
		return Account{}, Errorf(EUNAUTHENTICATED, "", "the token does not identify an account")
	}
	a, err := s.store.EnsureAccount(ctx, Account{
		ID: AccountID(id.Issuer, id.Subject), Issuer: id.Issuer, Subject: id.Subject,
		Email: strings.ToLower(id.Email), Kind: id.Kind, CreatedAt: s.Now(),
	})
	// The kind is the verified token's, whatever was stored at the first sign-in: the
	// side of R25 a principal acts on comes from how it authenticated now.
	a.Kind = id.Kind
	return a, err
}

// Memberships lists the caller's tenants and roles.
func (s *Service) Memberships(ctx context.Context, caller Account) ([]Membership, error) {
	return s.store.MembershipsOfAccount(ctx, caller.ID)
}

// member returns the caller's membership of the tenant, or the one FORBIDDEN answer that
// does not tell whether the tenant exists (R4). A support provider is nobody's member
// and is refused as such (R25). A refusal is audited, in the tenant's trail when the
// tenant exists (the answer does not say).
func (s *Service) member(ctx context.Context, caller Account, tenantID string) (Membership, error) {
	if err := s.permit(ctx, caller, ActTenantRead, ""); err != nil {
		return Membership{}, err
	}
	m, err := s.store.Membership(ctx, tenantID, caller.ID)
	if ErrorCode(err) == ENOTFOUND {
		trail := ""
		if _, terr := s.store.Tenant(ctx, tenantID); terr == nil {
			trail = tenantID
		}
		return Membership{}, s.refused(ctx, caller, trail, Forbidden())
	}
	return m, err
}

// requireRole is requireRole with the refusal audited in the tenant's trail.
func (s *Service) requireRole(ctx context.Context, caller Account, m Membership, rule string, roles ...Role) error {
	if err := requireRole(m, rule, roles...); err != nil {
		return s.refused(ctx, caller, m.TenantID, err)
	}
	return nil
}

// requireRole refuses a member who lacks every one of the roles, saying which are needed (R3).
func requireRole(m Membership, rule string, roles ...Role) error {
	if m.Has(roles...) {
		return nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	e := Errorf(EROLEREQUIRED, rule, "this needs the %s role in the tenant; ask one of the tenant's admins", strings.Join(names, " or "))
	e.Meta = map[string]any{"requiredRoles": names}
	return e
}

// Tenant returns a tenant the caller belongs to.
func (s *Service) Tenant(ctx context.Context, caller Account, id string) (Tenant, error) {
	if _, err := s.member(ctx, caller, id); err != nil {
		return Tenant{}, err
	}
	return s.store.Tenant(ctx, id)
}

// TenantUser is an account with its roles in a tenant.
type TenantUser struct {
	TenantID string
	Account  Account
	Roles    []Role
}

// Admins lists the tenant's users who may activate benefits (R3), for any member.
func (s *Service) Admins(ctx context.Context, caller Account, tenantID string) ([]TenantUser, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	ms, err := s.store.MembershipsOfTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var ids []string
	roles := map[string][]Role{}
	for _, m := range ms {
		if m.Has(ActivatorRoles...) {
			ids = append(ids, m.AccountID)
			roles[m.AccountID] = m.Roles
		}
	}
	accts, err := s.store.Accounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]TenantUser, 0, len(accts))
	for _, a := range accts {
		out = append(out, TenantUser{TenantID: tenantID, Account: a, Roles: roles[a.ID]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account.Email < out[j].Account.Email })
	return out, nil
}

// BenefitView is a benefit as one caller sees it at one moment (R19).
type BenefitView struct {
	Benefit
	Status      BenefitStatus
	Incidents   Incidents
	ActivatedAt *time.Time
	// Contract is set only for members of the benefit's tenant, and only once the
	// activation has completed (R4).
	Contract     *Contract
	Consultation *Consultation
}

// tenantState is everything needed to compute a tenant's benefits: four reads.
type tenantState struct {
	held          []HeldOffer
	contracts     map[string]Contract
	consultations map[string]Consultation
	used          map[string]int
}

func (s *Service) loadTenantState(ctx context.Context, tenantID string) (*tenantState, error) {
	return s.tenantStateOf(ctx, tenantID, true)
}

// tenantStateOf reads a tenant's state; consultations (R22) only when asked, as support
// plans never need them: one store round trip less on the hot path.
func (s *Service) tenantStateOf(ctx context.Context, tenantID string, consultations bool) (*tenantState, error) {
	held, err := s.store.HeldOffers(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	cs, err := s.store.Contracts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var cons []Consultation
	if consultations {
		if cons, err = s.store.Consultations(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	used, err := s.store.UsedIncidents(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	st := &tenantState{held: held, contracts: map[string]Contract{}, consultations: map[string]Consultation{}, used: used}
	for _, c := range cs {
		st.contracts[c.BenefitID] = c
	}
	for _, c := range cons {
		st.consultations[c.BenefitID] = c
	}
	return st, nil
}

// view computes one benefit's state at now. Contract IDs are included only when
// withContract is set, which only member-scoped callers do (R4).
func (st *tenantState) view(now time.Time, b Benefit, withContract bool) BenefitView {
	v := BenefitView{Benefit: b}
	var contract *Contract
	if c, ok := st.contracts[b.ID]; ok {
		contract = &c
		at := c.ActivatedAt
		v.ActivatedAt = &at
	}
	cons, consulted := st.consultations[b.ID]
	if consulted {
		at := cons.RequestedAt
		v.ActivatedAt = &at
		v.Consultation = &cons
	}
	used := st.used[b.ID]
	v.Incidents = b.Balance(used)
	v.Status = b.Status(now, contract, consulted, used)
	if withContract && contract != nil && contract.Ready(now) {
		v.Contract = contract
	}
	return v
}

// TenantBenefits lists the benefits of every offer the tenant holds, newest year first.
// A tenant with no offer has none (R5): an empty list, not an error.
func (s *Service) TenantBenefits(ctx context.Context, caller Account, tenantID string) ([]BenefitView, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	st, err := s.loadTenantState(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []BenefitView
	for _, h := range st.held {
		for _, b := range h.Benefits {
			out = append(out, st.view(now, b, true))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Benefit.StartsAt.Equal(out[j].Benefit.StartsAt) {
			return out[i].Benefit.StartsAt.After(out[j].Benefit.StartsAt)
		}
		return out[i].Benefit.ID < out[j].Benefit.ID
	})
	return out, nil
}

// HeldOffers lists the offers a tenant holds, newest year first.
func (s *Service) HeldOffers(ctx context.Context, caller Account, tenantID string) ([]HeldOffer, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	held, err := s.store.HeldOffers(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(held, func(i, j int) bool { return held[i].PeriodStart.After(held[j].PeriodStart) })
	return held, nil
}

// HasActiveOffer reports whether the tenant holds an offer whose year includes now (R5).
func (s *Service) HasActiveOffer(ctx context.Context, caller Account, tenantID string) (bool, error) {
	held, err := s.HeldOffers(ctx, caller, tenantID)
	if err != nil {
		return false, err
	}
	return ActiveOffer(held, s.Now()), nil
}

// BenefitsNotice is the tenant's R5 notice for a member: nil while it holds an active
// offer.
func (s *Service) BenefitsNotice(ctx context.Context, caller Account, tenantID string) (*string, error) {
	held, err := s.HeldOffers(ctx, caller, tenantID)
	if err != nil {
		return nil, err
	}
	return BenefitsNotice(held, s.Now()), nil
}

// Reminders lists the tenant's due reminders (R19): benefits ending within the window,
// and balances at or below the threshold.
func (s *Service) Reminders(ctx context.Context, caller Account, tenantID string) ([]Reminder, error) {
	views, err := s.TenantBenefits(ctx, caller, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []Reminder
	for _, v := range views {
		out = append(out, s.reminders.Reminders(now, v.Benefit, v.Status, v.Incidents)...)
	}
	return out, nil
}

// benefit finds a benefit by ID: its held offer is one read.
func (s *Service) benefit(ctx context.Context, benefitID string) (Benefit, error) {
	i := strings.LastIndexByte(benefitID, '.')
	if i <= 0 {
		return Benefit{}, Forbidden()
	}
	h, err := s.store.HeldOffer(ctx, benefitID[:i])
	if ErrorCode(err) == ENOTFOUND {
		return Benefit{}, Forbidden()
	} else if err != nil {
		return Benefit{}, err
	}
	for _, b := range h.Benefits {
		if b.ID == benefitID {
			return b, nil
		}
	}
	return Benefit{}, Forbidden()
}

// Activate activates a benefit (R3, R4, R22). Only a PARTNER_ADMIN or GLOBAL_ADMIN of the
// tenant may. It creates one Access ID and one Contract ID, shown once the activation
// delay has passed; a second activation, concurrent or later, returns the same contract.
// Activating an ISV consultation benefit submits its consultation request instead (R22).
func (s *Service) Activate(ctx context.Context, caller Account, benefitID string) (v BenefitView, err error) {
	if err := s.permit(ctx, caller, ActActivate, ""); err != nil {
		return BenefitView{}, err
	}
	b, err := s.benefit(ctx, benefitID)
	if ErrorCode(err) == EFORBIDDEN {
		return BenefitView{}, s.refused(ctx, caller, "", err)
	} else if err != nil {
		return BenefitView{}, err
	}
	m, err := s.member(ctx, caller, b.TenantID)
	if err != nil {
		return BenefitView{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", ActivatorRoles...); err != nil {
		return BenefitView{}, err
	}
	defer func() { s.audited(ctx, caller, AuditActivate, b.TenantID, b.ID, err) }()
	now := s.Now()
	if b.Expired(now) {
		return BenefitView{}, Errorf(EEXPIRED, "R19", "this benefit ended on %s and can no longer be activated", b.EndsAt.Format("2006-01-02"))
	}
	if b.Kind == BenefitISVConsultation {
		err = s.store.InsertConsultation(ctx, Consultation{BenefitID: b.ID, TenantID: b.TenantID, Topic: b.Consultation, RequestedBy: caller.ID, RequestedAt: now})
	} else {
		err = s.store.InsertContract(ctx, Contract{
			BenefitID: b.ID, TenantID: b.TenantID,
			AccessID: s.newSecret(), ContractID: s.newSecret(),
			ActivatedBy: caller.ID, ActivatedAt: now, ReadyAt: now.Add(s.activationDelay),
		})
	}
	// ECONFLICT: another admin activated it first; the unique key kept one contract (R4).
	if err != nil && ErrorCode(err) != ECONFLICT {
		return BenefitView{}, err
	} else if err == nil {
		s.record(ctx, Event{ID: "activate/" + b.ID, TenantID: b.TenantID, Kind: EventActivate, BenefitID: b.ID, PlanName: b.Name,
			ActorID: caller.ID, Reason: "activated", At: now, Quota: b.Quota, Unlimited: b.Unlimited})
	}
	st, err := s.loadTenantState(ctx, b.TenantID)
	if err != nil {
		return BenefitView{}, err
	}
	return st.view(now, b, true), nil
}

// LinkedPlan is a contract linked to the caller's account, as the caller sees it. It
// never carries the IDs: an outside user must not read them back (R4).
type LinkedPlan struct {
	Link    Link
	Benefit BenefitView
}

// LinkInput is what an account enters to link a support plan (R6).
type LinkInput struct {
	AccessID      string
	ContractID    string
	Portal        Portal
	InRequestFlow bool // entered from inside the create-request flow (R11)
}

// maxIDLen bounds the IDs a client may send; real ones are 26 characters.
const maxIDLen = 64

// Link links a support plan to the caller's account with the Access ID and Contract ID
// (R6). Any signed-in account may, member of the tenant or not. A wrong pair is refused
// without saying which half is wrong; an expired or empty contract is refused (R9); the
// same pair again answers "already linked" and changes nothing (R9). The Azure portal
// takes links only outside the request flow (R11).
func (s *Service) Link(ctx context.Context, caller Account, in LinkInput) (plan LinkedPlan, already bool, err error) {
	if err := s.permit(ctx, caller, ActLink, ""); err != nil {
		return LinkedPlan{}, false, err
	}
	// Every attempt is audited, a wrong pair too (a brute force of Access IDs leaves a
	// trace); the pair itself never is. The tenant is known only once the pair matched.
	defer func() {
		s.audited(ctx, caller, AuditLink, plan.Link.TenantID, plan.Benefit.ID, err)
	}()
	if err := LinkPlace(in.Portal, in.InRequestFlow); err != nil {
		return LinkedPlan{}, false, err
	}
	access, contractID := strings.TrimSpace(in.AccessID), strings.TrimSpace(in.ContractID)
	if access == "" || contractID == "" || len(access) > maxIDLen || len(contractID) > maxIDLen {
		return LinkedPlan{}, false, badPair()
	}
	c, err := s.store.ContractByContractID(ctx, contractID)
	if ErrorCode(err) == ENOTFOUND {
		return LinkedPlan{}, false, badPair()
	} else if err != nil {
		return LinkedPlan{}, false, err
	}
	now := s.Now()
	if subtle.ConstantTimeCompare([]byte(c.AccessID), []byte(access)) != 1 || !c.Ready(now) {
		return LinkedPlan{}, false, badPair()
	}
	b, err := s.benefit(ctx, c.BenefitID)
	if err != nil {
		return LinkedPlan{}, false, err
	}
	st, err := s.loadTenantState(ctx, c.TenantID)
	if err != nil {
		return LinkedPlan{}, false, err
	}
	link := Link{AccountID: caller.ID, TenantID: c.TenantID, BenefitID: b.ID, Portal: in.Portal, CreatedAt: now}
	view := st.view(now, b, false)
	// The same pair again is "already linked" even once the plan has run out (R9).
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return LinkedPlan{}, false, err
	}
	for _, l := range links {
		if l.BenefitID == b.ID {
			return LinkedPlan{Link: l, Benefit: view}, true, nil
		}
	}
	if err := LinkRefusal(view.Status); err != nil {
		return LinkedPlan{}, false, err
	}
	if err := s.store.InsertLink(ctx, link); ErrorCode(err) == ECONFLICT {
		// A concurrent request linked it first; the unique key kept one link (R6).
		return s.existingLink(ctx, caller, view)
	} else if err != nil {
		return LinkedPlan{}, false, err
	}
	return LinkedPlan{Link: link, Benefit: view}, false, nil
}

func (s *Service) existingLink(ctx context.Context, caller Account, view BenefitView) (LinkedPlan, bool, error) {
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return LinkedPlan{}, false, err
	}
	for _, l := range links {
		if l.BenefitID == view.Benefit.ID {
			return LinkedPlan{Link: l, Benefit: view}, true, nil
		}
	}
	return LinkedPlan{}, false, Errorf(EINTERNAL, "", "link collided but cannot be read")
}

func badPair() error {
	return Errorf(EBADPAIR, "R9", "no support plan matches this Access ID and Contract ID")
}

// LinkedPlans lists the plans linked to the caller's account, with their state now.
func (s *Service) LinkedPlans(ctx context.Context, caller Account) ([]LinkedPlan, error) {
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	states := map[string]*tenantState{}
	out := make([]LinkedPlan, 0, len(links))
	for _, l := range links {
		st, ok := states[l.TenantID]
		if !ok {
			if st, err = s.loadTenantState(ctx, l.TenantID); err != nil {
				return nil, err
			}
			states[l.TenantID] = st
		}
		b, ok := st.benefit(l.BenefitID)
		if !ok {
			continue
		}
		out = append(out, LinkedPlan{Link: l, Benefit: st.view(now, b, false)})
	}
	return out, nil
}

func (st *tenantState) benefit(id string) (Benefit, bool) {
	for _, h := range st.held {
		for _, b := range h.Benefits {
			if b.ID == id {
				return b, true
			}
		}
	}
	return Benefit{}, false
}

// Purchase buys an offer for the tenant's current enrollment year (R20): at most once per
// offer and year, never a retired offer. Only an admin of the tenant may (R3).
func (s *Service) Purchase(ctx context.Context, caller Account, tenantID, offerID string) (h HeldOffer, err error) {
	if err := s.permit(ctx, caller, ActPurchase, ""); err != nil {
		return HeldOffer{}, err
	}
	m, err := s.member(ctx, caller, tenantID)
	if err != nil {
		return HeldOffer{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", ActivatorRoles...); err != nil {
		return HeldOffer{}, err
	}
	defer func() { s.audited(ctx, caller, AuditPurchase, tenantID, offerID, err) }()
	o, err := s.store.Offer(ctx, offerID)
	if ErrorCode(err) == ENOTFOUND {
		return HeldOffer{}, Errorf(EINVALID, "R1", "there is no offer %q in the catalog", clip(offerID)).WithField("offer")
	} else if err != nil {
		return HeldOffer{}, err
	}
	now := s.Now()
	if o.Retired(now) {
		return HeldOffer{}, Errorf(EOFFERRETIRED, "R20", "%s was retired on %s and can no longer be bought", o.Name, o.RetiredAt.Format("2006-01-02"))
	}
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return HeldOffer{}, err
	}
	h = NewHeldOffer(t, o, now, now, nil)
	if err := s.store.InsertHeldOffer(ctx, h); ErrorCode(err) == ECONFLICT {
		return HeldOffer{}, Errorf(EALREADYBOUGHT, "R20", "the tenant already holds %s for the enrollment year starting %s; buy a different offer", o.Name, h.PeriodStart.Format("2006-01-02"))
	} else if err != nil {
		return HeldOffer{}, err
	}
	s.grantEvents(ctx, h, caller.ID)
	return h, nil
}

// Renew buys the next enrollment year of a held offer (R7, R20, R24). The new year has new
// benefits, which must be activated again and get new IDs (R7); an SPD year that starts on
// or after the cut-over is capped (R2, R24). Only an admin of the tenant may (R3).
func (s *Service) Renew(ctx context.Context, caller Account, heldOfferID string) (h HeldOffer, err error) {
	if err := s.permit(ctx, caller, ActRenew, ""); err != nil {
		return HeldOffer{}, err
	}
	prev, err := s.store.HeldOffer(ctx, heldOfferID)
	if ErrorCode(err) == ENOTFOUND {
		return HeldOffer{}, s.refused(ctx, caller, "", Forbidden())
	} else if err != nil {
		return HeldOffer{}, err
	}
	m, err := s.member(ctx, caller, prev.TenantID)
	if err != nil {
		return HeldOffer{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", ActivatorRoles...); err != nil {
		return HeldOffer{}, err
	}
	defer func() { s.audited(ctx, caller, AuditRenew, prev.TenantID, heldOfferID, err) }()
	o, err := s.store.Offer(ctx, prev.OfferID)
	if err != nil {
		return HeldOffer{}, err
	}
	now := s.Now()
	if o.Retired(now) {
		return HeldOffer{}, Errorf(EOFFERRETIRED, "R20", "%s was retired on %s and cannot be renewed", o.Name, o.RetiredAt.Format("2006-01-02"))
	}
	t, err := s.store.Tenant(ctx, prev.TenantID)
	if err != nil {
		return HeldOffer{}, err
	}
	h = Renewal(t, o, prev, now)
	if err := s.store.InsertHeldOffer(ctx, h); ErrorCode(err) == ECONFLICT {
		return HeldOffer{}, Errorf(EALREADYBOUGHT, "R20", "%s is already held for the enrollment year starting %s", o.Name, h.PeriodStart.Format("2006-01-02"))
	} else if err != nil {
		return HeldOffer{}, err
	}
	s.grantEvents(ctx, h, caller.ID)
	return h, nil
}

// Offers lists the offer catalog (R1).
func (s *Service) Offers(ctx context.Context) ([]Offer, error) { return s.store.Offers(ctx) }

// clip bounds client text echoed in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// NoBenefitsNotice is what a tenant without an active offer is told (R5).
const NoBenefitsNotice = "This tenant holds no active membership offer, so it has no support benefits. An admin can buy an offer to get them."

// Offer finds a catalog offer.
func (s *Service) Offer(ctx context.Context, id string) (Offer, error) { return s.store.Offer(ctx, id) }

// HeldOfferBenefits returns the benefits of one held offer as the caller sees them now.
func (s *Service) HeldOfferBenefits(ctx context.Context, caller Account, h HeldOffer) ([]BenefitView, error) {
	if _, err := s.member(ctx, caller, h.TenantID); err != nil {
		return nil, err
	}
	st, err := s.loadTenantState(ctx, h.TenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := make([]BenefitView, 0, len(h.Benefits))
	for _, b := range h.Benefits {
		out = append(out, st.view(now, b, true))
	}
	return out, nil
}
