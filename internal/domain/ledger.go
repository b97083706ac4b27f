package domain

// ApplyBalance computes the balance after e from the benefit's used count before it (0
// when the benefit has no event yet).
func ApplyBalance(e *Event, used int) {
	used -= e.Delta
	if used < 0 {
		used = 0
	}
	e.Used = used
	if !e.Unlimited {
		e.Remaining = e.Quota - used
		if e.Remaining < 0 {
			e.Remaining = 0
		}
	}
}

// LedgerDetailVisible decides who sees the who and which of a tenant's ledger: the
// account that caused a change, the request it concerns, and a request's type or outcome
// as its cause. Only the tenant's admins do (PARTNER_ADMIN, GLOBAL_ADMIN: the ledger is
// theirs), on every path; a member who is not an admin, an outside user who linked a
// plan, and the support provider (R25) see balances change, never another account's
// identity or requests (R18). roles are the principal's roles in the tenant.
func LedgerDetailVisible(kind AccountKind, roles []Role) bool {
	return kind != KindSupportProvider && Membership{Roles: roles}.Has(ActivatorRoles...)
}

// WithoutWhoOrWhich is the event as one who may not see the ledger's who and which sees
// it (LedgerDetailVisible): its balance, kind, plan and time, without the actor, the
// request, or a request's type or outcome.
func (e Event) WithoutWhoOrWhich() Event {
	e.ActorID, e.RequestID = "", ""
	if e.Kind == EventConsume || e.Kind == EventRefund {
		e.Reason = ""
	}
	return e
}

// LedgerPage is a page of a tenant's ledger.
type LedgerPage struct {
	Events  []Event
	HasMore bool
}
