package domain

import "time"

// CSPReasons decides R14 for a CSP tenant's own support plan, as one member sees it for
// one product: an indirect reseller goes through its indirect provider (named); the plan
// serves Azure cloud requests only; and opening one for a customer needs the ADMIN_AGENT
// role. No reason: the plan is available (the customer's GDAP is checked at creation).
func CSPReasons(t Tenant, providerName string, product Product, m Membership) []Reason {
	var out []Reason
	add := func(code ReasonCode, msg string) { out = append(out, Reason{Code: code, Rule: "R14", Message: msg}) }
	if t.CSP == CSPIndirectReseller {
		add(ReasonCSPReseller, "an indirect reseller opens Azure requests for its customers through its indirect provider, "+providerName)
	}
	if product.Deployment != DeploymentCloud || product.Portal != PortalAzure {
		add(ReasonCSPNotAzure, "the CSP support plan serves Azure requests only")
	}
	if !m.Has(RoleAdminAgent) {
		add(ReasonCSPNoRole, "opening a request for a customer needs the ADMIN_AGENT role over an active GDAP relationship")
	}
	return out
}

// GDAPAllows decides whether a CSP partner may open a request for a customer at now
// (R14): the customer must be named and known (nil: it is not), bought from the partner
// or related to it by GDAP, over a relationship of the partner's that is active, not
// expired (its expiry instant is out) and grants GDAPSupportRole.
func GDAPAllows(cu *Customer, partner string, now time.Time) error {
	if cu == nil {
		return Errorf(ECSPREFUSED, "R14", "no GDAP relationship with this customer").WithField("customerId")
	}
	related := cu.Partner == partner
	for _, g := range cu.GDAP {
		if g.Partner != partner {
			continue
		}
		related = true
		if !g.Active || !now.Before(g.ExpiresAt) {
			continue
		}
		for _, r := range g.Roles {
			if r == GDAPSupportRole {
				return nil
			}
		}
	}
	if !related {
		return Errorf(ECSPREFUSED, "R14", "no GDAP relationship with this customer").WithField("customerId")
	}
	return Errorf(ECSPREFUSED, "R14", "opening a request for %s needs an active GDAP relationship granting %q", cu.Name, GDAPSupportRole).WithField("customerId")
}
