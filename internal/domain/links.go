package domain

// LinkPlace decides where a link may be entered (R11): in a known portal other than the
// partner centre, whose requests need no plan (R17); in the Azure portal only from
// "Support plans > Link support benefits", never inside the create-request flow; in the
// Dynamics portals and the on-premises portal also in the flow ("Add contract").
func LinkPlace(portal Portal, inRequestFlow bool) error {
	if portal == PortalPartnerCenter {
		return Errorf(ELINKPLACE, "R17", "the partner centre's requests need no support plan; link a plan from another portal").WithField("portal")
	}
	if !portal.Valid() {
		return Errorf(EINVALID, "", "unknown portal").WithField("portal")
	}
	if inRequestFlow && !portal.LinksInRequestFlow() {
		return Errorf(ELINKPLACE, "R11",
			"the %s portal links a plan only from Support plans > Link support benefits, not while creating a request", portal)
	}
	return nil
}

// LinkRefusal decides which contracts cannot be linked (R9): an expired one, and an empty
// one (no incidents left); a new plan must be bought. It is asked only once the pair
// matched and the account has not linked it already ("already linked" is no refusal).
func LinkRefusal(status BenefitStatus) error {
	switch status {
	case StatusExpired:
		return Errorf(EEXPIRED, "R9", "this support plan has expired; a new plan must be bought")
	case StatusExhausted:
		return Errorf(EEXHAUSTED, "R9", "this support plan has no incidents left; a new plan must be bought")
	}
	return nil
}

// NeedsLink decides whether choosing a tenant's plan for a product asks for a link (R6,
// R10): always for an account outside the tenant; for a member, unless the product needs
// no linked IDs (Microsoft 365's cloud support).
func NeedsLink(p Product, member bool) bool { return p.NeedsLink || !member }

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

// MaxIDLen bounds the IDs a client may send; real ones are 26 characters.
const MaxIDLen = 64

// BadPair is the one refusal of an Access ID and Contract ID that match no linkable plan,
// which never says which half is wrong (R9).
func BadPair() error {
	return Errorf(EBADPAIR, "R9", "no support plan matches this Access ID and Contract ID")
}
