package service

import (
	"context"
	"crypto/subtle"
	"strings"

	"github.com/partnersupport/api/internal/domain"
)

// LinkService links plans to accounts with a benefit's Access ID and Contract ID (R6,
// R9, R11).
type LinkService struct {
	*core
	*states
	store linkStore
}

// linkStore is what linking reads and writes.
type linkStore interface {
	domain.ContractStore
	domain.LinkStore
}

// Link links a support plan to the caller's account with the Access ID and Contract ID
// (R6). Any signed-in account may, member of the tenant or not. A wrong pair is refused
// without saying which half is wrong; an expired or empty contract is refused (R9); the
// same pair again answers "already linked" and changes nothing (R9). The Azure portal
// takes links only outside the request flow (R11).
func (s *LinkService) Link(ctx context.Context, caller domain.Account, in domain.LinkInput) (plan domain.LinkedPlan, already bool, err error) {
	if err := s.permit(ctx, caller, domain.ActLink, ""); err != nil {
		return domain.LinkedPlan{}, false, err
	}
	// Every attempt is audited, a wrong pair too (a brute force of Access IDs leaves a
	// trace); the pair itself never is. The tenant is known only once the pair matched.
	defer func() {
		s.audited(ctx, caller, domain.AuditLink, plan.Link.TenantID, plan.Benefit.ID, err)
	}()
	if err := domain.LinkPlace(in.Portal, in.InRequestFlow); err != nil {
		return domain.LinkedPlan{}, false, err
	}
	access, contractID := strings.TrimSpace(in.AccessID), strings.TrimSpace(in.ContractID)
	if access == "" || contractID == "" || len(access) > domain.MaxIDLen || len(contractID) > domain.MaxIDLen {
		return domain.LinkedPlan{}, false, domain.BadPair()
	}
	c, err := s.store.ContractByContractID(ctx, contractID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.LinkedPlan{}, false, domain.BadPair()
	} else if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	now := s.Now()
	if subtle.ConstantTimeCompare([]byte(c.AccessID), []byte(access)) != 1 || !c.Ready(now) {
		return domain.LinkedPlan{}, false, domain.BadPair()
	}
	b, err := s.benefit(ctx, c.BenefitID)
	if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	st, err := s.loadTenantState(ctx, c.TenantID)
	if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	link := domain.Link{AccountID: caller.ID, TenantID: c.TenantID, BenefitID: b.ID, Portal: in.Portal, CreatedAt: now}
	view := st.View(now, b, false)
	// The same pair again is "already linked" even once the plan has run out (R9).
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	for _, l := range links {
		if l.BenefitID == b.ID {
			return domain.LinkedPlan{Link: l, Benefit: view}, true, nil
		}
	}
	if err := domain.LinkRefusal(view.Status); err != nil {
		return domain.LinkedPlan{}, false, err
	}
	if err := s.store.InsertLink(ctx, link); domain.ErrorCode(err) == domain.ECONFLICT {
		// A concurrent request linked it first; the unique key kept one link (R6).
		return s.existingLink(ctx, caller, view)
	} else if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	return domain.LinkedPlan{Link: link, Benefit: view}, false, nil
}

func (s *LinkService) existingLink(ctx context.Context, caller domain.Account, view domain.BenefitView) (domain.LinkedPlan, bool, error) {
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return domain.LinkedPlan{}, false, err
	}
	for _, l := range links {
		if l.BenefitID == view.Benefit.ID {
			return domain.LinkedPlan{Link: l, Benefit: view}, true, nil
		}
	}
	return domain.LinkedPlan{}, false, domain.Errorf(domain.EINTERNAL, "", "link collided but cannot be read")
}

// LinkedPlans lists the plans linked to the caller's account, with their state now.
func (s *LinkService) LinkedPlans(ctx context.Context, caller domain.Account) ([]domain.LinkedPlan, error) {
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	states := map[string]*domain.TenantState{}
	out := make([]domain.LinkedPlan, 0, len(links))
	for _, l := range links {
		st, ok := states[l.TenantID]
		if !ok {
			if st, err = s.loadTenantState(ctx, l.TenantID); err != nil {
				return nil, err
			}
			states[l.TenantID] = st
		}
		b, ok := st.Benefit(l.BenefitID)
		if !ok {
			continue
		}
		out = append(out, domain.LinkedPlan{Link: l, Benefit: st.View(now, b, false)})
	}
	return out, nil
}
