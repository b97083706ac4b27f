package service

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// states reads a tenant's state (its held offers with their benefits, contracts,
// consultations and incident counts) for the views every resource answers with.
type states struct {
	store stateStore
}

// stateStore is what a tenant's state is read from.
type stateStore interface {
	domain.HeldOfferStore
	domain.ContractStore
	domain.ConsultationStore
	domain.ClaimStore
}

// BenefitService reads a tenant's benefits and reminders, and activates benefits (R4,
// R19, R22).
type BenefitService struct {
	*core
	*access
	*recorder
	*states
	store           benefitStore
	offers          *OfferService
	newSecret       func() string
	activationDelay time.Duration
	reminders       domain.ReminderPolicy
}

// benefitStore is what activation writes: a contract, or a consultation request (R22).
type benefitStore interface {
	domain.ContractStore
	domain.ConsultationStore
}

func (s *states) loadTenantState(ctx context.Context, tenantID string) (*domain.TenantState, error) {
	return s.tenantStateOf(ctx, tenantID, true)
}

// tenantStateOf reads a tenant's state; consultations (R22) only when asked, as support
// plans never need them: one store round trip less on the hot path.
func (s *states) tenantStateOf(ctx context.Context, tenantID string, consultations bool) (*domain.TenantState, error) {
	held, err := s.store.HeldOffers(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	cs, err := s.store.Contracts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var cons []domain.Consultation
	if consultations {
		if cons, err = s.store.Consultations(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	used, err := s.store.UsedIncidents(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	st := &domain.TenantState{Held: held, Contracts: map[string]domain.Contract{}, Consultations: map[string]domain.Consultation{}, Used: used}
	for _, c := range cs {
		st.Contracts[c.BenefitID] = c
	}
	for _, c := range cons {
		st.Consultations[c.BenefitID] = c
	}
	return st, nil
}

// TenantBenefits lists the benefits of every offer the tenant holds, newest year first.
// A tenant with no offer has none (R5): an empty list, not an error.
func (s *BenefitService) TenantBenefits(ctx context.Context, caller domain.Account, tenantID string) ([]domain.BenefitView, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	st, err := s.loadTenantState(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []domain.BenefitView
	for _, h := range st.Held {
		for _, b := range h.Benefits {
			out = append(out, st.View(now, b, true))
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

// Reminders lists the tenant's due reminders (R19): benefits ending within the window,
// and balances at or below the threshold.
func (s *BenefitService) Reminders(ctx context.Context, caller domain.Account, tenantID string) ([]domain.Reminder, error) {
	views, err := s.TenantBenefits(ctx, caller, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []domain.Reminder
	for _, v := range views {
		out = append(out, s.reminders.Reminders(now, v.Benefit, v.Status, v.Incidents)...)
	}
	return out, nil
}

// benefit finds a benefit by ID: its held offer is one read.
func (s *states) benefit(ctx context.Context, benefitID string) (domain.Benefit, error) {
	i := strings.LastIndexByte(benefitID, '.')
	if i <= 0 {
		return domain.Benefit{}, domain.Forbidden()
	}
	h, err := s.store.HeldOffer(ctx, benefitID[:i])
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Benefit{}, domain.Forbidden()
	} else if err != nil {
		return domain.Benefit{}, err
	}
	for _, b := range h.Benefits {
		if b.ID == benefitID {
			return b, nil
		}
	}
	return domain.Benefit{}, domain.Forbidden()
}

// Activate activates a benefit (R3, R4, R22). Only a PARTNER_ADMIN or GLOBAL_ADMIN of the
// tenant may. It creates one Access ID and one Contract ID, shown once the activation
// delay has passed; a second activation, concurrent or later, returns the same contract.
// Activating an ISV consultation benefit submits its consultation request instead (R22).
func (s *BenefitService) Activate(ctx context.Context, caller domain.Account, benefitID string) (v domain.BenefitView, err error) {
	if err := s.permit(ctx, caller, domain.ActActivate, ""); err != nil {
		return domain.BenefitView{}, err
	}
	b, err := s.benefit(ctx, benefitID)
	if domain.ErrorCode(err) == domain.EFORBIDDEN {
		return domain.BenefitView{}, s.refused(ctx, caller, "", err)
	} else if err != nil {
		return domain.BenefitView{}, err
	}
	m, err := s.member(ctx, caller, b.TenantID)
	if err != nil {
		return domain.BenefitView{}, err
	}
	if err := s.requireRole(ctx, caller, m, "R3", domain.ActivatorRoles...); err != nil {
		return domain.BenefitView{}, err
	}
	defer func() { s.audited(ctx, caller, domain.AuditActivate, b.TenantID, b.ID, err) }()
	now := s.Now()
	if b.Expired(now) {
		return domain.BenefitView{}, domain.Errorf(domain.EEXPIRED, "R19", "this benefit ended on %s and can no longer be activated", b.EndsAt.Format("2006-01-02"))
	}
	// What this activation wrote is the benefit's whole state when it succeeds: a
	// benefit's incidents are claimed only once it is activated (R4, R23), so it has none
	// yet, and the view is the one as of the insert, without reading the tenant again.
	st := &domain.TenantState{Contracts: map[string]domain.Contract{}, Consultations: map[string]domain.Consultation{}}
	if b.Kind == domain.BenefitISVConsultation {
		c := domain.Consultation{BenefitID: b.ID, TenantID: b.TenantID, Topic: b.Consultation, RequestedBy: caller.ID, RequestedAt: now}
		err = s.store.InsertConsultation(ctx, c)
		st.Consultations[b.ID] = c
	} else {
		c := domain.Contract{
			BenefitID: b.ID, TenantID: b.TenantID,
			AccessID: s.newSecret(), ContractID: s.newSecret(),
			ActivatedBy: caller.ID, ActivatedAt: now, ReadyAt: now.Add(s.activationDelay),
		}
		err = s.store.InsertContract(ctx, c)
		st.Contracts[b.ID] = c
	}
	switch {
	case domain.ErrorCode(err) == domain.ECONFLICT:
		// Another admin activated it first; the unique key kept one contract (R4): the
		// view is of that one, read now with the benefit's balance.
		if st, err = s.loadTenantState(ctx, b.TenantID); err != nil {
			return domain.BenefitView{}, err
		}
	case err != nil:
		return domain.BenefitView{}, err
	default:
		s.recordNow(ctx, domain.Event{ID: "activate/" + b.ID, TenantID: b.TenantID, Kind: domain.EventActivate, BenefitID: b.ID, PlanName: b.Name,
			ActorID: caller.ID, Reason: "activated", At: now, Quota: b.Quota, Unlimited: b.Unlimited})
	}
	return st.View(now, b, true), nil
}

// HeldOfferBenefits returns the benefits of one held offer as the caller sees them now.
func (s *BenefitService) HeldOfferBenefits(ctx context.Context, caller domain.Account, h domain.HeldOffer) ([]domain.BenefitView, error) {
	if _, err := s.member(ctx, caller, h.TenantID); err != nil {
		return nil, err
	}
	st, err := s.loadTenantState(ctx, h.TenantID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := make([]domain.BenefitView, 0, len(h.Benefits))
	for _, b := range h.Benefits {
		out = append(out, st.View(now, b, true))
	}
	return out, nil
}

// Consultations lists a tenant's ISV consultation requests (R22).
func (s *BenefitService) Consultations(ctx context.Context, caller domain.Account, tenantID string) ([]domain.Consultation, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return nil, err
	}
	cs, err := s.store.Consultations(ctx, tenantID)
	sort.Slice(cs, func(i, j int) bool { return cs[i].RequestedAt.After(cs[j].RequestedAt) })
	return cs, err
}

// Benefit is one benefit as TenantBenefits shows it to a member of its tenant (R4, R19).
func (s *BenefitService) Benefit(ctx context.Context, caller domain.Account, id string) (domain.BenefitView, error) {
	b, err := s.benefit(ctx, id)
	if err != nil {
		return domain.BenefitView{}, err
	}
	h, err := s.offers.HeldOffer(ctx, caller, b.HeldOfferID)
	if err != nil {
		return domain.BenefitView{}, err
	}
	views, err := s.HeldOfferBenefits(ctx, caller, h)
	if err != nil {
		return domain.BenefitView{}, err
	}
	if i := slices.IndexFunc(views, func(v domain.BenefitView) bool { return v.ID == id }); i >= 0 {
		return views[i], nil
	}
	return domain.BenefitView{}, domain.Forbidden()
}
