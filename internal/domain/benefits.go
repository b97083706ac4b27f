package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeldOffer is an offer a tenant holds for one enrollment year (R20). Its benefits are
// fixed when it is bought or renewed, so a later catalog change never rewrites a year
// already paid for.
type HeldOffer struct {
	ID          string
	TenantID    string
	OfferID     string
	PeriodStart time.Time
	PeriodEnd   time.Time
	PurchasedAt time.Time
	RenewedAt   *time.Time
	// RenewalOf is the held offer of the year before, for a renewal (R7).
	RenewalOf string
	Benefits  []Benefit
}

// Benefit is what one held offer grants for its year. IDs are derived from the held
// offer, so the benefit needs no document of its own.
type Benefit struct {
	ID           string
	TenantID     string
	HeldOfferID  string
	OfferID      string
	Kind         BenefitKind
	Name         string
	LegacyName   string
	Consultation string
	Quota        int // incidents (or consultations) for the year; ignored when Unlimited
	Unlimited    bool
	StartsAt     time.Time
	EndsAt       time.Time // R19: when the offer's enrollment year ends
	// Capped: an SPD year renewed on or after the cut-over, whose balance was unlimited
	// before (R24).
	Capped bool
}

// BenefitStatus is the state of a benefit at read time (R19).
type BenefitStatus string

// Benefit states.
const (
	StatusNotActivated BenefitStatus = "NOT_ACTIVATED"
	StatusActivating   BenefitStatus = "ACTIVATING"
	StatusActive       BenefitStatus = "ACTIVE"
	StatusExpired      BenefitStatus = "EXPIRED"
	StatusExhausted    BenefitStatus = "EXHAUSTED"
)

// Contract is the Access ID and Contract ID of an activated benefit (R4): one per benefit,
// shared by every user of the tenant.
type Contract struct {
	BenefitID   string
	TenantID    string
	AccessID    string
	ContractID  string
	ActivatedBy string
	ActivatedAt time.Time
	// ReadyAt is when the asynchronous activation completes (R4): the IDs exist from
	// ActivatedAt but are shown, and usable, from ReadyAt.
	ReadyAt time.Time
}

// Ready reports whether the activation has completed at now (R4).
func (c Contract) Ready(now time.Time) bool { return !now.Before(c.ReadyAt) }

// Consultation is the request an ISV Success consultation benefit submits on activation (R22).
type Consultation struct {
	BenefitID   string
	TenantID    string
	Topic       string
	RequestedBy string
	RequestedAt time.Time
}

// Link binds an account to a contract, once, for every portal (R6).
type Link struct {
	AccountID string
	TenantID  string
	BenefitID string
	Portal    Portal // where it was entered; it serves every portal
	CreatedAt time.Time
}

// Incidents is a benefit's balance (R19).
type Incidents struct {
	Total     int
	Used      int
	Remaining int
	Unlimited bool
}

// Balance computes a benefit's incidents from the number used.
func (b Benefit) Balance(used int) Incidents {
	if b.Unlimited {
		return Incidents{Used: used, Unlimited: true}
	}
	rem := b.Quota - used
	if rem < 0 {
		rem = 0 // never shown negative; the claims design makes it impossible anyway (R15)
	}
	return Incidents{Total: b.Quota, Used: used, Remaining: rem}
}

// Expired reports whether the benefit's year has ended at now (R19, R23).
func (b Benefit) Expired(now time.Time) bool { return !now.Before(b.EndsAt) }

// Status decides the state of a benefit at now: expired from its end date (R19, R23);
// activating until the asynchronous activation completes (R4); exhausted with no incident
// left (R23). contract is nil when the benefit was never activated; an ISV consultation
// benefit is active once its consultation request was submitted (R22, activated).
func (b Benefit) Status(now time.Time, contract *Contract, activated bool, used int) BenefitStatus {
	switch {
	case b.Expired(now):
		return StatusExpired
	case b.Kind == BenefitISVConsultation:
		if activated {
			return StatusActive
		}
		return StatusNotActivated
	case contract == nil:
		return StatusNotActivated
	case !contract.Ready(now):
		return StatusActivating
	case !b.Unlimited && used >= b.Quota:
		return StatusExhausted
	}
	return StatusActive
}

// EnrollmentYear returns the tenant's enrollment year that contains t: it starts on the
// anniversary's month and day (R20). A 29 February anniversary falls on 28 February in
// common years.
func EnrollmentYear(anniversary, t time.Time) (start, end time.Time) {
	t = t.UTC()
	start = anniversaryIn(anniversary, t.Year())
	if start.After(t) {
		start = anniversaryIn(anniversary, t.Year()-1)
	}
	return start, anniversaryIn(anniversary, start.Year()+1)
}

func anniversaryIn(anniversary time.Time, year int) time.Time {
	a := anniversary.UTC()
	m, d := a.Month(), a.Day()
	if last := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	return time.Date(year, m, d, 0, 0, 0, 0, time.UTC)
}

// HeldOfferID is the ID of a tenant's offer for the year starting at start: one per offer
// per year (R20), which the store enforces with a unique index.
func HeldOfferID(tenantID, offerID string, start time.Time) string {
	return fmt.Sprintf("%s.%s.%s", tenantID, strings.ToLower(offerID), start.UTC().Format("20060102"))
}

// BenefitID is the ID of the benefit of a held offer for one kind; the n-th grant of the
// same kind in one offer (n > 1) gets "-n" after it.
func BenefitID(heldOfferID string, kind BenefitKind, n int) string {
	id := heldOfferID + "." + strings.ToLower(string(kind))
	if n > 1 {
		id += "-" + strconv.Itoa(n)
	}
	return id
}

// Entitle computes the benefits an offer grants for the year [start, end) (R1, R2, R24,
// R13). An SPD year that starts before the cut-over is unlimited; one that starts on or
// after it is capped at the grant's count, from that renewal anniversary.
func Entitle(o Offer, tenantID, heldOfferID string, start, end time.Time) []Benefit {
	out := make([]Benefit, 0, len(o.Grants))
	seen := map[BenefitKind]int{}
	for _, g := range o.Grants {
		seen[g.Kind]++
		unlimited, capped := g.Unlimited, false
		if cut := g.UnlimitedIfPeriodStartsBefore; cut != nil {
			if start.Before(*cut) {
				unlimited = true // R2
			} else {
				// R24: the first year renewed on or after the cut-over is where the cap lands.
				capped = start.Before(cut.AddDate(1, 0, 0))
			}
		}
		out = append(out, Benefit{
			ID:           BenefitID(heldOfferID, g.Kind, seen[g.Kind]),
			TenantID:     tenantID,
			HeldOfferID:  heldOfferID,
			OfferID:      o.ID,
			Kind:         g.Kind,
			Name:         g.Name,
			LegacyName:   g.LegacyName,
			Consultation: g.Consultation,
			Quota:        g.Incidents,
			Unlimited:    unlimited,
			StartsAt:     start,
			EndsAt:       end,
			Capped:       capped,
		})
	}
	return out
}

// NewHeldOffer builds the held offer of o for the tenant's enrollment year containing at.
func NewHeldOffer(t Tenant, o Offer, at, purchasedAt time.Time, renewedAt *time.Time) HeldOffer {
	start, end := EnrollmentYear(t.EnrollmentAnniversary, at)
	id := HeldOfferID(t.ID, o.ID, start)
	return HeldOffer{
		ID:          id,
		TenantID:    t.ID,
		OfferID:     o.ID,
		PeriodStart: start,
		PeriodEnd:   end,
		PurchasedAt: purchasedAt,
		RenewedAt:   renewedAt,
		Benefits:    Entitle(o, t.ID, id, start, end),
	}
}

// ActiveOffer decides R5: whether the tenant holds an offer whose enrollment year
// includes now (from its first day, to the day its year ends, exclusive). A tenant with
// none has no benefits, which the API says plainly.
func ActiveOffer(held []HeldOffer, now time.Time) bool {
	for _, h := range held {
		if !now.Before(h.PeriodStart) && now.Before(h.PeriodEnd) {
			return true
		}
	}
	return false
}

// BenefitsNotice is what R5 tells a tenant about its benefits at now: NoBenefitsNotice
// when it holds no active offer (ActiveOffer), nil when it does. Plainly, not an error.
func BenefitsNotice(held []HeldOffer, now time.Time) *string {
	if ActiveOffer(held, now) {
		return nil
	}
	n := NoBenefitsNotice
	return &n
}

// Renewal decides R7 (with R2, R24): the renewal of prev, bought at now, is the offer's
// next enrollment year, from the day prev's ends, with benefits of their own (new IDs, so
// new Access and Contract IDs once activated: an account linked to the old ones links
// again), entitled as the catalog says for a year starting then.
func Renewal(t Tenant, o Offer, prev HeldOffer, now time.Time) HeldOffer {
	h := NewHeldOffer(t, o, prev.PeriodEnd, now, &now)
	h.RenewalOf = prev.ID
	return h
}

// CapDue decides when R24's cap lands on the ledger: a capped SPD year (Entitle) is
// capped from its renewal anniversary, the first day of the year, on.
func CapDue(b Benefit, now time.Time) bool { return b.Capped && !now.Before(b.StartsAt) }

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

// TenantState is everything needed to compute a tenant's benefits: its held offers, its
// contracts and consultations by benefit ID, and its used incidents by benefit ID.
type TenantState struct {
	Held          []HeldOffer
	Contracts     map[string]Contract
	Consultations map[string]Consultation
	Used          map[string]int
}

// View computes one benefit's state at now. Contract IDs are included only when
// withContract is set, which only member-scoped callers do (R4).
func (st *TenantState) View(now time.Time, b Benefit, withContract bool) BenefitView {
	v := BenefitView{Benefit: b}
	var contract *Contract
	if c, ok := st.Contracts[b.ID]; ok {
		contract = &c
		at := c.ActivatedAt
		v.ActivatedAt = &at
	}
	cons, consulted := st.Consultations[b.ID]
	if consulted {
		at := cons.RequestedAt
		v.ActivatedAt = &at
		v.Consultation = &cons
	}
	used := st.Used[b.ID]
	v.Incidents = b.Balance(used)
	v.Status = b.Status(now, contract, consulted, used)
	if withContract && contract != nil && contract.Ready(now) {
		v.Contract = contract
	}
	return v
}

// Benefit finds one of the tenant's benefits by its ID.
func (st *TenantState) Benefit(id string) (Benefit, bool) {
	for _, h := range st.Held {
		for _, b := range h.Benefits {
			if b.ID == id {
				return b, true
			}
		}
	}
	return Benefit{}, false
}

// NoBenefitsNotice is what a tenant without an active offer is told (R5).
const NoBenefitsNotice = "This tenant holds no active membership offer, so it has no support benefits. An admin can buy an offer to get them."
