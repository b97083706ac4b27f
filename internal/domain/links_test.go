package domain

import (
	"slices"
	"testing"
)

func TestR11_LinkPlace(t *testing.T) {
	for _, c := range []struct {
		portal Portal
		inFlow bool
		code   Code
		rule   string
	}{
		{PortalAzure, false, "", ""},
		{PortalAzure, true, ELINKPLACE, "R11"}, // only from Support plans > Link support benefits
		{PortalDynamics, true, "", ""},
		{PortalDynamicsFinanceOperations, true, "", ""},
		{PortalServicesHub, true, "", ""},
		{PortalServicesHub, false, "", ""},
		{PortalMicrosoft365, true, ELINKPLACE, "R11"},
		{PortalPartnerCenter, false, ELINKPLACE, "R17"},
		{"NOWHERE", false, EINVALID, ""},
	} {
		err := LinkPlace(c.portal, c.inFlow)
		e, _ := AsError(err)
		if ErrorCode(err) != c.code || (e != nil && e.Rule != c.rule) {
			t.Errorf("LinkPlace(%s, %v) = %v, want %s %s", c.portal, c.inFlow, err, c.code, c.rule)
		}
	}
}

// R11: a product's requests are opened in its portal (any on-premises product also in
// the on-premises portal); elsewhere every plan is unavailable with the hint where to go.
func TestR11_PortalHint(t *testing.T) {
	for _, c := range []struct {
		product Product
		portal  Portal
		hint    Portal
	}{
		{azure, PortalAzure, ""},
		{azure, PortalServicesHub, PortalAzure},
		{windowsServer, PortalServicesHub, ""},
		{windowsServer, PortalAzure, PortalServicesHub},
		{Product{Name: "SQL", Deployment: DeploymentOnPremises, Portal: PortalDynamics}, PortalServicesHub, ""},
	} {
		h := PortalHintFor(c.product, c.portal)
		if (h == nil) != (c.hint == "") || (h != nil && h.Portal != c.hint) {
			t.Errorf("PortalHintFor(%s, %s) = %+v, want %s", c.product.Name, c.portal, h, c.hint)
			continue
		}
		plans := []Plan{{ID: "p"}}
		h.Apply(plans)
		if wrong := len(plans[0].Reasons) == 1 && plans[0].Reasons[0].Code == ReasonWrongPortal; wrong != (h != nil) {
			t.Errorf("PortalHintFor(%s, %s): reasons %+v", c.product.Name, c.portal, plans[0].Reasons)
		}
	}
}

func TestR9_LinkRefusal(t *testing.T) {
	for _, c := range []struct {
		status BenefitStatus
		code   Code
	}{
		{StatusExpired, EEXPIRED},
		{StatusExhausted, EEXHAUSTED},
		{StatusActive, ""},
		{StatusActivating, ""}, // the pair does not match until ready (BadPair)
	} {
		err := LinkRefusal(c.status)
		if ErrorCode(err) != c.code {
			t.Errorf("LinkRefusal(%s) = %v, want %s", c.status, err, c.code)
		} else if e, ok := AsError(err); ok && e.Rule != "R9" {
			t.Errorf("LinkRefusal(%s) cites %s", c.status, e.Rule)
		}
	}
	// A wrong pair is refused without saying which half is wrong: one answer.
	if e, _ := AsError(BadPair()); e.Code != EBADPAIR || e.Rule != "R9" || len(e.Field) != 0 {
		t.Errorf("BadPair: %+v", e)
	}
}

func TestR10_NeedsLink(t *testing.T) {
	m365 := Product{Name: "Microsoft 365", Deployment: DeploymentCloud, NeedsLink: false}
	for _, c := range []struct {
		p      Product
		member bool
		want   bool
	}{
		{m365, true, false}, // a member's Microsoft 365 cloud support needs no linked IDs
		{m365, false, true}, // an outside user uses what it linked
		{azure, true, true},
		{azure, false, true},
	} {
		if got := NeedsLink(c.p, c.member); got != c.want {
			t.Errorf("NeedsLink(%s, member %v) = %v", c.p.Name, c.member, got)
		}
	}
}

func TestR3_RequireRole(t *testing.T) {
	for _, c := range []struct {
		roles []Role
		ok    bool
	}{
		{[]Role{RolePartnerAdmin}, true},
		{[]Role{RoleUser, RoleGlobalAdmin}, true},
		{[]Role{RoleAdminAgent}, false},
		{[]Role{RoleUser}, false},
		{nil, false},
	} {
		err := RequireRole(Membership{Roles: c.roles}, "R3", ActivatorRoles...)
		if (err == nil) != c.ok {
			t.Errorf("roles %v: %v", c.roles, err)
			continue
		}
		if err != nil {
			e, _ := AsError(err)
			if e.Code != EROLEREQUIRED || e.Rule != "R3" || !slices.Equal(e.Meta["requiredRoles"].([]string), []string{"PARTNER_ADMIN", "GLOBAL_ADMIN"}) {
				t.Errorf("roles %v: the refusal names the roles needed: %+v", c.roles, e)
			}
		}
	}
}

func TestR13_ActionPack(t *testing.T) {
	ap := HeldOffer{Benefits: []Benefit{{ID: "o", Kind: BenefitOnPremisesSupport}}}
	spdHeld := HeldOffer{Benefits: []Benefit{{ID: "c", Kind: BenefitCloudSupport}, {ID: "o", Kind: BenefitOnPremisesSupport}}}
	for _, c := range []struct {
		name string
		h    HeldOffer
		b    Benefit
		want bool
	}{
		{"an offer of on-premises support only", ap, ap.Benefits[0], true},
		{"on-premises support beside cloud support", spdHeld, spdHeld.Benefits[1], false},
		{"cloud support", spdHeld, spdHeld.Benefits[0], false},
	} {
		if got := ActionPack(c.h, c.b); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
