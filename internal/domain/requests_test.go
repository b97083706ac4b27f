package domain

import (
	"slices"
	"testing"
)

func TestR15_ConsumesIncident(t *testing.T) {
	for _, c := range []struct {
		kind PlanKind
		typ  RequestType
		want bool
	}{
		{PlanPartnerCloud, RequestTechnical, true},
		{PlanPartnerCloud, RequestBilling, true}, // refunded after closing (R16), taken at creation
		{PlanPartnerOnPremise, RequestTechnical, true},
		{PlanPayPerIncident, RequestTechnical, true},
		{PlanPartnerCloud, RequestPartnerProgram, false}, // R17
		{PlanPartnerOnPremise, RequestFrontLine, false},  // R17
		{PlanCSP, RequestTechnical, false},               // R14: the partner's own CSP plan
		{"", RequestTechnical, false},
	} {
		if got := ConsumesIncident(c.kind, c.typ); got != c.want {
			t.Errorf("ConsumesIncident(%s, %s) = %v, want %v", c.kind, c.typ, got, c.want)
		}
	}
}

// Of two requests racing for the last incident exactly one wins: the slots are the
// unique keys, and with every slot taken the claim is refused with NO_INCIDENTS_LEFT.
func TestR15_FreeSlots(t *testing.T) {
	taken := func(slots ...int) map[string]bool {
		m := map[string]bool{}
		for _, s := range slots {
			m[IncidentSlot(s)] = true
		}
		return m
	}
	for _, c := range []struct {
		name  string
		quota int
		taken map[string]bool
		want  []string
	}{
		{"none taken", 3, taken(), []string{"1", "2", "3"}},
		{"the last one left", 3, taken(1, 3), []string{"2"}},
		{"an unlimited plan's slot does not count", 2, map[string]bool{UnlimitedSlot("r"): true}, []string{"1", "2"}},
	} {
		got, err := FreeSlots(c.quota, c.taken)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: FreeSlots = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	for _, c := range []struct {
		name  string
		quota int
		taken map[string]bool
	}{{"all taken", 2, taken(1, 2)}, {"a plan of none", 0, taken()}} {
		if _, err := FreeSlots(c.quota, c.taken); ErrorCode(err) != EEXHAUSTED {
			t.Errorf("%s: want NO_INCIDENTS_LEFT, got %v", c.name, err)
		} else if e, _ := AsError(err); e.Rule != "R15" {
			t.Errorf("%s: the refusal cites %q", c.name, e.Rule)
		}
	}
	if UnlimitedSlot("a") == UnlimitedSlot("b") || UnlimitedSlot("1") == IncidentSlot(1) {
		t.Error("an unlimited plan's slot is the request's own")
	}
}

// TestR25_PlanTenantID: the support provider sees the tenant of a request's plan, and
// none for a pay-per-incident plan (its scope names an account) or no plan (R17).
func TestR25_PlanTenantID(t *testing.T) {
	for _, c := range []struct{ scope, want string }{
		{"contoso", "contoso"},
		{PPIScope("acct-1"), ""},
		{"", ""},
	} {
		if got := (SupportRequest{TenantID: c.scope}).PlanTenantID(); got != c.want {
			t.Errorf("PlanTenantID of scope %q = %q, want %q", c.scope, got, c.want)
		}
	}
}
