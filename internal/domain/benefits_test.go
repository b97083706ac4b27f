package domain

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

var spdCut = date(2025, 6, 23)

// spd is an SPD-like offer: 50 cloud incidents capped from 2025-06-23 (R2), 20 on-premises.
var spd = Offer{ID: "SPD", Name: "Solutions Partner designation", Grants: []Grant{
	{Kind: BenefitCloudSupport, Incidents: 50, UnlimitedIfPeriodStartsBefore: &spdCut, Name: "Partner Cloud Support"},
	{Kind: BenefitOnPremisesSupport, Incidents: 20, Name: "Partner On-premises Support 20"},
}}

func TestR1_EntitleGrantsWhatTheCatalogSays(t *testing.T) {
	isv := Offer{ID: "ISV", Grants: []Grant{
		{Kind: BenefitISVConsultation, Incidents: 1, Consultation: "Architecture design session"},
		{Kind: BenefitISVConsultation, Incidents: 1, Consultation: "Deployment review"},
	}}
	gold := Offer{ID: "GOLD", Legacy: true, Grants: []Grant{{Kind: BenefitCloudSupport, Unlimited: true, Name: "Partner Cloud Support", LegacyName: "Signature"}}}
	launch := Offer{ID: "LAUNCH"}
	start, end := date(2026, 1, 15), date(2027, 1, 15)
	for _, c := range []struct {
		o    Offer
		want []string // id suffix, quota, unlimited
	}{
		{spd, []string{"t.spd.20260115.cloud_support 50 false", "t.spd.20260115.on_premises_support 20 false"}},
		{isv, []string{"t.isv.20260115.isv_consultation 1 false", "t.isv.20260115.isv_consultation-2 1 false"}},
		{gold, []string{"t.gold.20260115.cloud_support 0 true"}},
		{launch, nil}, // Partner Launch grants no incidents
	} {
		hid := HeldOfferID("t", c.o.ID, start)
		got := Entitle(c.o, "t", hid, start, end)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d benefits, want %d", c.o.ID, len(got), len(c.want))
		}
		for i, b := range got {
			s := strings.Join([]string{b.ID, itoa(b.Quota), map[bool]string{true: "true", false: "false"}[b.Unlimited]}, " ")
			if s != c.want[i] || b.TenantID != "t" || b.HeldOfferID != hid || !b.StartsAt.Equal(start) || !b.EndsAt.Equal(end) {
				t.Errorf("%s: benefit %d = %s %+v, want %s", c.o.ID, i, s, b, c.want[i])
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// R2: an SPD year that starts before 2025-06-23 is unlimited; one that starts on or after
// it is capped at 50. R24: the first capped year is marked Capped (its unlimited balance
// becomes 50 at the anniversary), and the cap lands on the ledger from its first day.
func TestR2_R24_TheSPDCapByTheYearsStart(t *testing.T) {
	for _, c := range []struct {
		start             time.Time
		unlimited, capped bool
	}{
		{date(2025, 6, 22), true, false},
		{date(2025, 6, 23), false, true},  // the cut-over day is capped
		{date(2026, 6, 22), false, true},  // the first year renewed on or after it
		{date(2026, 6, 23), false, false}, // a later year was never unlimited
		{date(2024, 1, 1), true, false},
	} {
		b := Entitle(spd, "t", "h", c.start, c.start.AddDate(1, 0, 0))[0]
		if b.Unlimited != c.unlimited || b.Capped != c.capped || (!b.Unlimited && b.Quota != 50) {
			t.Errorf("a year from %s: unlimited %v capped %v quota %d", c.start.Format("2006-01-02"), b.Unlimited, b.Capped, b.Quota)
		}
		if onPrem := Entitle(spd, "t", "h", c.start, c.start.AddDate(1, 0, 0))[1]; onPrem.Unlimited || onPrem.Capped {
			t.Errorf("the on-premises grant has no cut-over: %+v", onPrem)
		}
	}
}

func TestR24_CapDueFromTheAnniversary(t *testing.T) {
	b := Entitle(spd, "t", "h", date(2025, 9, 1), date(2026, 9, 1))[0]
	for _, c := range []struct {
		now  time.Time
		want bool
	}{{date(2025, 8, 31), false}, {date(2025, 9, 1), true}, {date(2026, 3, 1), true}} {
		if got := CapDue(b, c.now); got != c.want {
			t.Errorf("CapDue at %s = %v", c.now.Format("2006-01-02"), got)
		}
	}
	b.Capped = false
	if CapDue(b, date(2026, 3, 1)) {
		t.Error("a year that was never unlimited is never capped")
	}
}

func TestR20_EnrollmentYear(t *testing.T) {
	for _, c := range []struct {
		anniversary, at, start, end time.Time
	}{
		{date(2020, 9, 1), date(2026, 8, 31), date(2025, 9, 1), date(2026, 9, 1)},
		{date(2020, 9, 1), date(2026, 9, 1), date(2026, 9, 1), date(2027, 9, 1)}, // the anniversary starts a year
		{date(2020, 2, 29), date(2027, 2, 28), date(2027, 2, 28), date(2028, 2, 29)},
		{date(2020, 2, 29), date(2027, 2, 27), date(2026, 2, 28), date(2027, 2, 28)},
		{date(2020, 1, 1), time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), date(2026, 1, 1), date(2027, 1, 1)},
	} {
		s, e := EnrollmentYear(c.anniversary, c.at)
		if !s.Equal(c.start) || !e.Equal(c.end) {
			t.Errorf("EnrollmentYear(%s, %s) = [%s, %s), want [%s, %s)", c.anniversary.Format("01-02"), c.at, s, e, c.start, c.end)
		}
	}
	// One held offer per offer and year: the store's unique key is this ID.
	a, b := HeldOfferID("t", "SPD", date(2026, 9, 1)), HeldOfferID("t", "spd", date(2026, 9, 1))
	if a != b || a == HeldOfferID("t", "SPD", date(2027, 9, 1)) || a == HeldOfferID("t", "CORE", date(2026, 9, 1)) {
		t.Errorf("held offer IDs: %s %s", a, b)
	}
}

func TestR20_RetiredFromItsRetirementDay(t *testing.T) {
	retired := date(2025, 1, 22)
	ap := Offer{ID: "AP", RetiredAt: &retired}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{date(2025, 1, 21), false}, {retired, true}, {date(2026, 1, 1), true}} {
		if got := ap.Retired(c.at); got != c.want {
			t.Errorf("Retired(%s) = %v", c.at.Format("2006-01-02"), got)
		}
	}
	if (Offer{}).Retired(date(2030, 1, 1)) {
		t.Error("an offer with no retirement date is never retired")
	}
}

func TestR5_ActiveOffer(t *testing.T) {
	h := HeldOffer{PeriodStart: date(2025, 9, 1), PeriodEnd: date(2026, 9, 1)}
	for _, c := range []struct {
		held []HeldOffer
		now  time.Time
		want bool
	}{
		{nil, planNow, false},
		{[]HeldOffer{h}, date(2025, 9, 1), true},
		{[]HeldOffer{h}, date(2026, 8, 31), true},
		{[]HeldOffer{h}, date(2026, 9, 1), false}, // its year has ended
		{[]HeldOffer{h}, date(2025, 8, 31), false},
		{[]HeldOffer{h, {PeriodStart: date(2026, 9, 1), PeriodEnd: date(2027, 9, 1)}}, date(2026, 9, 1), true}, // renewed
	} {
		if got := ActiveOffer(c.held, c.now); got != c.want {
			t.Errorf("ActiveOffer(%d held, %s) = %v", len(c.held), c.now.Format("2006-01-02"), got)
		}
	}
}

func TestR5_BenefitsNoticeOnlyWithoutAnActiveOffer(t *testing.T) {
	h := HeldOffer{PeriodStart: date(2025, 9, 1), PeriodEnd: date(2026, 9, 1)}
	if n := BenefitsNotice([]HeldOffer{h}, planNow); n != nil {
		t.Errorf("an active offer: %q", *n)
	}
	for _, held := range [][]HeldOffer{nil, {{PeriodStart: date(2024, 9, 1), PeriodEnd: date(2025, 9, 1)}}} {
		if n := BenefitsNotice(held, planNow); n == nil || *n != NoBenefitsNotice {
			t.Errorf("no active offer among %d: %v", len(held), n)
		}
	}
}

func TestR7_RenewalIsTheNextYearWithNewIDs(t *testing.T) {
	tn := Tenant{ID: "t", EnrollmentAnniversary: date(2020, 9, 1)}
	now := date(2026, 8, 1)
	prev := NewHeldOffer(tn, spd, date(2025, 10, 1), date(2025, 10, 1), nil)
	next := Renewal(tn, spd, prev, now)
	if !next.PeriodStart.Equal(prev.PeriodEnd) || next.RenewalOf != prev.ID || next.RenewedAt == nil || !next.RenewedAt.Equal(now) {
		t.Fatalf("renewal %+v of %+v", next, prev)
	}
	for i := range next.Benefits {
		if next.Benefits[i].ID == prev.Benefits[i].ID {
			t.Errorf("benefit %d keeps its ID %s: its contract would too", i, next.ID)
		}
	}
	// Renewed across the cut-over (R2, R24): the new year is capped.
	old := NewHeldOffer(tn, spd, date(2024, 10, 1), date(2024, 10, 1), nil)
	if r := Renewal(tn, spd, old, date(2025, 8, 1)); r.Benefits[0].Unlimited || !r.Benefits[0].Capped {
		t.Errorf("a renewal from 2025-09-01 is capped: %+v", r.Benefits[0])
	}
}

// Status: R4 (activation completes after the delay), R19 (expired from the end date),
// R22 (a consultation benefit is active once its request is submitted), R23 (exhausted).
func TestR4_R19_R22_BenefitStatus(t *testing.T) {
	end := date(2026, 9, 1)
	cloud := Benefit{Kind: BenefitCloudSupport, Quota: 2, EndsAt: end}
	isv := Benefit{Kind: BenefitISVConsultation, Quota: 1, EndsAt: end}
	ready := &Contract{ActivatedAt: planNow.Add(-time.Minute), ReadyAt: planNow}
	pending := &Contract{ActivatedAt: planNow, ReadyAt: planNow.Add(time.Millisecond)}
	for _, c := range []struct {
		name      string
		b         Benefit
		now       time.Time
		contract  *Contract
		consulted bool
		used      int
		want      BenefitStatus
	}{
		{"never activated", cloud, planNow, nil, false, 0, StatusNotActivated},
		{"R4 activating", cloud, planNow, pending, false, 0, StatusActivating},
		{"R4 ready at ReadyAt", cloud, planNow, ready, false, 0, StatusActive},
		{"R23 exhausted", cloud, planNow, ready, false, 2, StatusExhausted},
		{"R19 expired at its end", cloud, end, ready, false, 0, StatusExpired},
		{"R19 unactivated and expired", cloud, end, nil, false, 0, StatusExpired},
		{"unlimited never exhausts", Benefit{Kind: BenefitCloudSupport, Unlimited: true, EndsAt: end}, planNow, ready, false, 500, StatusActive},
		{"R22 consultation submitted", isv, planNow, nil, true, 0, StatusActive},
		{"R22 consultation not submitted", isv, planNow, nil, false, 0, StatusNotActivated},
	} {
		if got := c.b.Status(c.now, c.contract, c.consulted, c.used); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// R4: the IDs are shown to the tenant's members only (withContract), and only once the
// activation has completed.
func TestR4_ViewShowsTheIDsToMembersOnceReady(t *testing.T) {
	b := Benefit{ID: "b", Kind: BenefitCloudSupport, Quota: 5, EndsAt: date(2026, 9, 1)}
	c := Contract{BenefitID: "b", AccessID: "A", ContractID: "C", ActivatedAt: planNow, ReadyAt: planNow.Add(time.Minute)}
	st := &TenantState{Contracts: map[string]Contract{"b": c}, Used: map[string]int{"b": 1}}
	if v := st.View(planNow, b, true); v.Contract != nil || v.Status != StatusActivating {
		t.Errorf("before ReadyAt: %+v", v)
	}
	if v := st.View(c.ReadyAt, b, false); v.Contract != nil {
		t.Error("a caller outside the tenant never sees the IDs")
	}
	v := st.View(c.ReadyAt, b, true)
	if v.Contract == nil || v.Contract.AccessID != "A" || v.Incidents.Remaining != 4 || v.ActivatedAt == nil {
		t.Errorf("a member once ready: %+v", v)
	}
}
