package domain

import (
	"strconv"
	"time"
)

// RequestType is what a support request is about.
type RequestType string

// Request types.
const (
	RequestTechnical      RequestType = "TECHNICAL"
	RequestBilling        RequestType = "BILLING"
	RequestQuota          RequestType = "QUOTA"
	RequestSubscription   RequestType = "SUBSCRIPTION"
	RequestPartnerProgram RequestType = "PARTNER_PROGRAM" // R17: free and unlimited
	RequestFrontLine      RequestType = "FRONT_LINE"      // R17: handled by the program's front line, free
)

// Valid reports whether t is a known type.
func (t RequestType) Valid() bool {
	switch t {
	case RequestTechnical, RequestBilling, RequestQuota, RequestSubscription, RequestPartnerProgram, RequestFrontLine:
		return true
	}
	return false
}

// Free reports whether requests of this type never consume an incident (R17).
func (t RequestType) Free() bool { return t == RequestPartnerProgram || t == RequestFrontLine }

// ConsumesIncident decides R15: a request takes one incident when it is created on a
// Partner Cloud Support, Partner On-premises Support or pay-per-incident plan (R21),
// unless its type is free (R17). A request on a CSP support plan takes none (R14).
func ConsumesIncident(kind PlanKind, t RequestType) bool {
	switch kind {
	case PlanPartnerCloud, PlanPartnerOnPremise, PlanPayPerIncident:
		return !t.Free()
	}
	return false
}

// FreeSlots decides R15's claim of an incident: a capped plan of quota incidents has the
// slots IncidentSlot(1)..IncidentSlot(quota), and a claim takes one that is not taken,
// under a unique key, so that of two requests racing for the last incident exactly one
// wins. With none free it refuses with NO_INCIDENTS_LEFT (R15). The store maps what it
// reads onto this; it never decides itself.
func FreeSlots(quota int, taken map[string]bool) ([]string, error) {
	free := make([]string, 0, quota)
	for i := 1; i <= quota; i++ {
		if s := IncidentSlot(i); !taken[s] {
			free = append(free, s)
		}
	}
	if len(free) == 0 {
		return nil, NoIncidentsLeft("this plan", "")
	}
	return free, nil
}

// IncidentSlot is the claim slot of the n-th incident of a capped plan (R15).
func IncidentSlot(n int) string { return strconv.Itoa(n) }

// UnlimitedSlot is the claim slot of a request on an unlimited plan: its own, so it never
// collides with another request's (R15, R2).
func UnlimitedSlot(requestID string) string { return "u:" + requestID }

// NoIncidentsLeft is R15's refusal of a request on a plan whose incidents are all
// claimed; why says how it came to be (another request took the last one), or is empty.
func NoIncidentsLeft(plan, why string) *Error {
	if why != "" {
		return Errorf(EEXHAUSTED, "R15", "no incidents are left on %s: %s", plan, why)
	}
	return Errorf(EEXHAUSTED, "R15", "no incidents are left on %s", plan)
}

// CloseReason is why a request was closed.
type CloseReason string

// Close reasons.
const (
	CloseResolved  CloseReason = "RESOLVED"
	CloseDuplicate CloseReason = "DUPLICATE" // R16: refunded
	CloseBug       CloseReason = "BUG"       // R16: refunded
	CloseCancelled CloseReason = "CANCELLED"
	// CloseWithdrawn: the partner side withdrew the request (R25). It refunds only what
	// R16 refunds by request type.
	CloseWithdrawn CloseReason = "WITHDRAWN"
)

// Valid reports whether r is a known reason.
func (r CloseReason) Valid() bool {
	switch r {
	case CloseResolved, CloseDuplicate, CloseBug, CloseCancelled, CloseWithdrawn:
		return true
	}
	return false
}

// Refundable reports whether closing a request on a plan of this kind with this outcome
// gives its incident back (R16, R25): a duplicate or a bug, which only the support
// provider finds (R25), always; on a Partner Cloud Support plan, billing, quota and
// subscription requests whatever the outcome, a partner's withdrawal included. A
// withdrawal of any other request refunds nothing. This is the only place that decides.
func Refundable(kind PlanKind, t RequestType, r CloseReason) bool {
	if r == CloseDuplicate || r == CloseBug {
		return true
	}
	return kind == PlanPartnerCloud && (t == RequestBilling || t == RequestQuota || t == RequestSubscription)
}

// SupportRequest is a request an account opened.
type SupportRequest struct {
	ID             string
	AccountID      string
	TenantID       string // the plan's ledger scope: its tenant, or "account:<id>" for PPI
	PlanID         string
	PlanKind       PlanKind
	BenefitID      string // the benefit (or PPI plan) whose incident it took; "" when free
	Portal         Portal
	ProductID      string
	Version        string
	Type           RequestType
	Title          string
	Description    string
	CustomerID     string // R14: the CSP customer it is opened for
	IdempotencyKey string
	Fingerprint    string
	Consumed       bool
	CreatedAt      time.Time

	Closure  *Closure
	Refunded bool
}

// Closure records how a request was closed; the first one wins.
type Closure struct {
	RequestID string
	TenantID  string
	Reason    CloseReason
	By        string
	At        time.Time
}

// Claim is one incident taken from a plan: the unique (tenant, benefit, slot) key makes
// overdraft impossible (R15).
type Claim struct {
	RequestID string
	TenantID  string
	BenefitID string
	Slot      string // IncidentSlot(1..quota) for a capped plan; UnlimitedSlot for an unlimited one
	AccountID string
	At        time.Time
}

// Refund records an incident given back; keyed by the request, so at most once (R16).
type Refund struct {
	RequestID string
	TenantID  string
	BenefitID string
	Reason    CloseReason
	By        string
	At        time.Time
}

// PPIPlan is a one-incident plan an MSA account bought for an on-premises product (R21).
type PPIPlan struct {
	ID        string
	AccountID string
	ProductID string
	Version   string
	BoughtAt  time.Time
	EndsAt    time.Time
}

// PPIScope is the ledger scope of an account's pay-per-incident plans.
func PPIScope(accountID string) string { return "account:" + accountID }

// Customer is a CSP customer of a partner (R14).
type Customer struct {
	ID      string
	Name    string
	Partner string
	GDAP    []GDAP
}

// GDAP is a granular delegated admin relationship between a partner and a customer (R14).
type GDAP struct {
	Partner   string
	Active    bool
	Roles     []string
	ExpiresAt time.Time
}

// GDAPSupportRole is the GDAP role that allows opening Azure support requests (R14).
const GDAPSupportRole = "Azure support request contributor"

// EventKind is what changed a balance; events form the tenant's incident ledger.
type EventKind string

// Event kinds.
const (
	EventGrant    EventKind = "GRANT"                // a benefit granted for a year
	EventActivate EventKind = "ACTIVATE"             // a benefit activated (R4)
	EventConsume  EventKind = "CONSUME"              // an incident taken by a request (R15)
	EventRefund   EventKind = "REFUND"               // an incident given back (R16)
	EventExpire   EventKind = "EXPIRE"               // a benefit's year ended (R19)
	EventCap      EventKind = "CAP"                  // an unlimited SPD balance capped at the renewal anniversary (R24)
	EventEnding   EventKind = "REMINDER_ENDING_SOON" // R19
	EventLow      EventKind = "REMINDER_LOW_BALANCE" // R19
)

// Event is one entry of a tenant's ledger. Writers record it in an outbox under a
// deterministic ID once the change it describes has been written; a sequencer then gives
// it the tenant's next sequence number, and computes the balance after it, in order.
type Event struct {
	ID        string // deterministic, e.g. "consume/<request>": recording twice is harmless
	TenantID  string
	Seq       int64 // 0 until sequenced
	Kind      EventKind
	BenefitID string
	PlanName  string
	RequestID string
	ActorID   string
	Reason    string
	At        time.Time
	// Delta is the change of remaining incidents: -1 consume, +1 refund, 0 otherwise.
	Delta int
	// Quota and Unlimited describe the plan (carried so the sequencer needs no lookup).
	Quota     int
	Unlimited bool
	// Balance after the event, set by the sequencer.
	Used      int
	Remaining int
}

// Balance of the benefit after the event.
func (e Event) Balance() Incidents {
	if e.Unlimited {
		return Incidents{Used: e.Used, Unlimited: true}
	}
	return Incidents{Total: e.Quota, Used: e.Used, Remaining: e.Remaining}
}
