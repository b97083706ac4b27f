package domain

import "strings"

// The API answers null, never "", for a value that is absent: a client must not have to
// know that an empty string means "none", and an empty enum is no value of its enum.
// gqlgen.yml binds each nullable field whose Go value is a string to one of these (a
// reference to another object is a resolver instead: graph.globalIDOrNil).

func orNil[T ~string](v T) *T {
	if v == "" {
		return nil
	}
	return &v
}

// ProductIDOrNil is the request's product, nil for a request of the partner centre (R17).
func (r SupportRequest) ProductIDOrNil() *string { return orNil(r.ProductID) }

// PlanKindOrNil is the kind of the request's plan; nil when it has none.
func (r SupportRequest) PlanKindOrNil() *PlanKind { return orNil(r.PlanKind) }

// VersionOrNil is the product version; nil when none was given.
func (r SupportRequest) VersionOrNil() *string { return orNil(r.Version) }

// CustomerIDOrNil is the CSP customer (R14); nil when the request is for none.
func (r SupportRequest) CustomerIDOrNil() *string { return orNil(r.CustomerID) }

// PlanNameOrNil is the plan's name; nil when not recorded.
func (e Event) PlanNameOrNil() *string { return orNil(e.PlanName) }

// ActorIDOrNil is the account that caused the event; nil when none did, or when the
// subscriber may not see it (LedgerDetailVisible).
func (e Event) ActorIDOrNil() *string { return orNil(e.ActorID) }

// ReasonOrNil is why the event happened; nil when not recorded.
func (e Event) ReasonOrNil() *string { return orNil(e.Reason) }

// RuleOrNil is the rule that refused; nil when no single rule did.
func (r Reason) RuleOrNil() *string { return orNil(r.Rule) }

// RuleOrNil is the rule that refused; nil when no single rule did.
func (e Error) RuleOrNil() *string { return orNil(e.Rule) }

// FamilyOrNil is the product family; nil when it has none.
func (p Product) FamilyOrNil() *string { return orNil(p.Family) }

// LifecyclePolicyOrNil is the product's lifecycle policy (R21); nil when none applies.
func (p Product) LifecyclePolicyOrNil() *string { return orNil(p.LifecyclePolicy) }

// DescriptionOrNil is the request's description, nil when it has none.
func (r SupportRequest) DescriptionOrNil() *string { return orNil(r.Description) }

// TenantOrNil is the tenant whose plan the request is on, as the support provider sees it
// (R25): nil for a request on no tenant's plan (the partner centre's, R17) and for a
// pay-per-incident one, whose ledger scope names the account.
func (r SupportRequest) TenantOrNil() *string {
	if strings.HasPrefix(r.TenantID, PPIScope("")) {
		return nil
	}
	return orNil(r.TenantID)
}
