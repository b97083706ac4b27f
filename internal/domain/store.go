package domain

import (
	"context"
	"time"
)

// The store port, one small interface per resource; Store is all of them. Every method
// returns *Error values for expected outcomes: ENOTFOUND when a lookup finds nothing,
// ECONFLICT when an insert collides with a unique key. Any other error is internal.
//
// Guarantees that must hold under concurrency (one contract per benefit, one link per
// account and benefit, one held offer per offer and year, one claim per incident slot)
// rest on the unique keys of the Insert methods, never on read-then-write: the embedded
// store's updates are not atomic (docs/store.md).

// Store is the persistence the services need: every resource's port.
type Store interface {
	Ping(ctx context.Context) error

	AccountStore
	TenantStore
	CatalogStore
	HeldOfferStore
	PPIPlanStore
	ContractStore
	ConsultationStore
	LinkStore
	ClaimStore
	RequestStore
	AuditStore
	LedgerStore
	RepairStore
}

// AccountStore keeps the accounts that signed in (or that fixtures made).
type AccountStore interface {
	// EnsureAccount inserts a if no account has its ID, and returns the stored account.
	EnsureAccount(ctx context.Context, a Account) (Account, error)
	// PutAccount inserts or replaces an account (fixtures).
	PutAccount(ctx context.Context, a Account) error
	Account(ctx context.Context, id string) (Account, error)
	Accounts(ctx context.Context, ids []string) ([]Account, error)
}

// TenantStore keeps tenants, their members' roles (R1, R2, R3) and their CSP customers
// (R14).
type TenantStore interface {
	PutTenant(ctx context.Context, t Tenant) error
	Tenant(ctx context.Context, id string) (Tenant, error)
	PutMembership(ctx context.Context, m Membership) error
	Membership(ctx context.Context, tenantID, accountID string) (Membership, error)
	MembershipsOfAccount(ctx context.Context, accountID string) ([]Membership, error)
	MembershipsOfTenant(ctx context.Context, tenantID string) ([]Membership, error)
	PutCustomer(ctx context.Context, c Customer) error
	Customer(ctx context.Context, id string) (Customer, error)
}

// CatalogStore keeps the offer catalog and the product catalog (R5, R8).
type CatalogStore interface {
	PutOffer(ctx context.Context, o Offer) error
	Offer(ctx context.Context, id string) (Offer, error)
	Offers(ctx context.Context) ([]Offer, error)
	PutProduct(ctx context.Context, p Product) error
	Product(ctx context.Context, id string) (Product, error)
	Products(ctx context.Context) ([]Product, error)
}

// HeldOfferStore keeps the offers tenants hold, each with its benefits (R20, R24).
type HeldOfferStore interface {
	// InsertHeldOffer fails with ECONFLICT when the tenant already holds the offer for
	// that year (R20).
	InsertHeldOffer(ctx context.Context, h HeldOffer) error
	HeldOffer(ctx context.Context, id string) (HeldOffer, error)
	HeldOffers(ctx context.Context, tenantID string) ([]HeldOffer, error)
	// HeldOffersOfTenants lists the held offers of the given tenants (many at once: a
	// fixture's grants).
	HeldOffersOfTenants(ctx context.Context, tenantIDs []string) ([]HeldOffer, error)
	// HeldOffersStartingOrEnding lists the held offers of every tenant whose year starts or
	// ends within [from, to] (for the sweep).
	HeldOffersStartingOrEnding(ctx context.Context, from, to time.Time) ([]HeldOffer, error)
}

// PPIPlanStore keeps the pay-per-incident plans accounts bought (R21).
type PPIPlanStore interface {
	InsertPPIPlan(ctx context.Context, p PPIPlan) error
	PPIPlans(ctx context.Context, accountID string) ([]PPIPlan, error)
}

// ContractStore keeps the contracts activation creates: a benefit's Access ID and
// Contract ID (R4, R6).
type ContractStore interface {
	// InsertContract fails with ECONFLICT when the benefit already has a contract (R4).
	InsertContract(ctx context.Context, c Contract) error
	// Contract finds a benefit's contract; ENOTFOUND when it was never activated.
	Contract(ctx context.Context, benefitID string) (Contract, error)
	Contracts(ctx context.Context, tenantID string) ([]Contract, error)
	// ContractByContractID finds a contract by its Contract ID, in any tenant (R6).
	ContractByContractID(ctx context.Context, contractID string) (Contract, error)
}

// ConsultationStore keeps ISV consultation requests (R22).
type ConsultationStore interface {
	// InsertConsultation fails with ECONFLICT when the benefit already submitted one (R22).
	InsertConsultation(ctx context.Context, c Consultation) error
	Consultations(ctx context.Context, tenantID string) ([]Consultation, error)
}

// LinkStore keeps the plans accounts linked (R6, R9).
type LinkStore interface {
	// InsertLink fails with ECONFLICT when the account already links the benefit (R6, R9).
	InsertLink(ctx context.Context, l Link) error
	// Link finds an account's link to a benefit; ENOTFOUND when it has none.
	Link(ctx context.Context, accountID, benefitID string) (Link, error)
	LinksOfAccount(ctx context.Context, accountID string) ([]Link, error)
}

// ClaimStore keeps the incidents requests took (R15, R16).
type ClaimStore interface {
	// UsedIncidents counts the incidents claimed and not refunded, per benefit of the
	// tenant (R15, R16).
	UsedIncidents(ctx context.Context, tenantID string) (map[string]int, error)
	// ClaimIncident takes a free slot of the benefit for c.RequestID (R15). A claim already
	// under that request ID is returned as it is (a retry of the same request); EEXHAUSTED
	// when no slot is free. Slots are claimed by inserts under a unique key, so concurrent
	// claims, in one process or many, never overdraw. used, the benefit's claims as the
	// caller last counted them, only helps choose a slot: any value is safe.
	ClaimIncident(ctx context.Context, c Claim, quota int, unlimited bool, used int) (Claim, error)
	Claim(ctx context.Context, requestID string) (Claim, error)
	// ReleaseClaim frees a claim (after its refund is recorded, or for an orphan).
	ReleaseClaim(ctx context.Context, requestID string) error
}

// RequestStore keeps support requests with their closures and refunds, and the support
// provider's queue of open ones (R15–R18, R25).
type RequestStore interface {
	// InsertRequest fails with ECONFLICT when the ID exists.
	InsertRequest(ctx context.Context, r SupportRequest) error
	// Request finds a request, with its closure and refund.
	Request(ctx context.Context, id string) (SupportRequest, error)
	// Requests lists an account's requests, newest first, in a portal ("" for every
	// portal), before the (createdAt, id) cursor when given.
	Requests(ctx context.Context, accountID string, portal Portal, before *RequestCursor, limit int) ([]SupportRequest, error)
	// InsertClosure fails with ECONFLICT when the request was closed already.
	InsertClosure(ctx context.Context, c Closure) error
	// InsertRefund fails with ECONFLICT when the request was refunded already (R16).
	InsertRefund(ctx context.Context, r Refund) error
	// MarkRequestClosed notes on the request the closure that won, which takes it off
	// the support provider's queue (R25), and, when refunded, that its refund is
	// recorded (R16): only once it is. The closures and refunds decide; the note is the
	// queue's index, and spares reads of them (Request, Requests, OpenRequests return a
	// noted closure and refund as they are). Marking again is harmless.
	MarkRequestClosed(ctx context.Context, c Closure, refunded bool) error
	// OpenRequests lists the requests not marked closed, across tenants, oldest first,
	// after the cursor when given (R25).
	OpenRequests(ctx context.Context, q QueueQuery) ([]SupportRequest, error)
}

// AuditStore keeps each tenant's audit trail.
type AuditStore interface {
	// InsertAuditEvent stores an event of a tenant's audit trail.
	InsertAuditEvent(ctx context.Context, e AuditEvent) error
	// AuditEvents lists a tenant's audit trail, newest first, before the event ID when
	// given.
	AuditEvents(ctx context.Context, tenantID, before string, limit int) ([]AuditEvent, error)
	// AuditEvent finds one event of any tenant's trail by its ID (ENOTFOUND when none).
	AuditEvent(ctx context.Context, id string) (AuditEvent, error)
}

// LedgerStore keeps the event outbox and each scope's sequenced incident ledger (R15,
// R16, R19).
type LedgerStore interface {
	// RecordEvent puts an event in the outbox; recording the same ID again is a no-op.
	RecordEvent(ctx context.Context, e Event) error
	// PendingEvents lists a scope's unsequenced events, oldest first.
	PendingEvents(ctx context.Context, scope string, limit int) ([]Event, error)
	// HasPendingEvents reports whether a scope has unsequenced events.
	HasPendingEvents(ctx context.Context, scope string) (bool, error)
	// ScopesWithPendingEvents lists the scopes that have unsequenced events.
	ScopesWithPendingEvents(ctx context.Context) ([]string, error)
	// AppendEvents stores sequenced events (of one scope or several) in order, stopping at
	// the first it cannot store: it returns how many it stored, and for the next one
	// ErrSeqTaken when its Seq is used, ErrAlreadySequenced when its ID was sequenced
	// before, or another error.
	AppendEvents(ctx context.Context, events []Event) (int, error)
	// EventSequenced reports whether the scope's ledger has the event with this ID.
	EventSequenced(ctx context.Context, scope, id string) (bool, error)
	// SequencedEvents reports, for each event (its TenantID and ID), whether its scope's
	// ledger has it, in a few round trips for many events.
	SequencedEvents(ctx context.Context, events []Event) ([]bool, error)
	// DropPending removes events from the outbox.
	DropPending(ctx context.Context, scope string, ids ...string) error
	// LastEvent is the scope's highest-sequenced event; ENOTFOUND when none.
	LastEvent(ctx context.Context, scope string) (Event, error)
	// LedgerHead reads the scope's saved ledger head; ENOTFOUND when none was saved.
	LedgerHead(ctx context.Context, scope string) (LedgerHead, error)
	// SaveLedgerHead saves a scope's ledger head, replacing the saved one. Concurrent saves
	// may leave an older head saved than the newest: a saved head is a hint (see LedgerHead).
	SaveLedgerHead(ctx context.Context, h LedgerHead) error
	// LedgerHeads reads the saved heads of many scopes; a scope with none is not in the map.
	LedgerHeads(ctx context.Context, scopes []string) (map[string]LedgerHead, error)
	// SaveLedgerHeads saves many scopes' heads, as SaveLedgerHead does each.
	SaveLedgerHeads(ctx context.Context, heads []LedgerHead) error
	// FoldLedger reads a scope's whole ledger into its head: the last sequence number and
	// each benefit's used count after it. It reads every event of the scope.
	FoldLedger(ctx context.Context, scope string) (LedgerHead, error)
	// FoldLedgerAfter brings a head that is right for its Seq up to the ledger's end,
	// reading only the events after its Seq.
	FoldLedgerAfter(ctx context.Context, h LedgerHead) (LedgerHead, error)
	// Events lists a scope's sequenced events with after < seq < before (0: no bound),
	// ascending or descending.
	Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]Event, error)
}

// RepairStore answers the crash-recovery queries and keeps the periodic jobs'
// checkpoints. Each query is bounded by time on an index of that time, so that a start-up
// reads what happened since the last repair, not the whole store.
type RepairStore interface {
	// RefundsWithClaims lists the refunds recorded since a time whose claim is still held.
	RefundsWithClaims(ctx context.Context, since time.Time) ([]Refund, error)
	// ClaimsWithoutRequests lists the claims made in [since, before) that no request followed.
	ClaimsWithoutRequests(ctx context.Context, since, before time.Time) ([]Claim, error)
	RequestsSince(ctx context.Context, since time.Time) ([]SupportRequest, error)
	// RequestsClosedSince lists the requests closed since a time, with their closures.
	RequestsClosedSince(ctx context.Context, since time.Time) ([]SupportRequest, error)
	// Checkpoint is when the last run of a periodic job ("repair", "sweep") that completed
	// started; zero when none did.
	Checkpoint(ctx context.Context, job string) (time.Time, error)
	// SaveCheckpoint saves it. Concurrent runs may save an older one than the newest,
	// which only makes the next run look further back.
	SaveCheckpoint(ctx context.Context, job string, startedAt time.Time) error
}

// QueueQuery selects a page of the support provider's queue (R25): a portal and a plan
// kind when given ("" for any).
type QueueQuery struct {
	Portal   Portal
	PlanKind PlanKind
	After    *RequestCursor
	Limit    int
}

// RequestCursor is a position in a request list.
type RequestCursor struct {
	CreatedAt time.Time
	ID        string
}

// LedgerHead is a scope's ledger as of its event Seq: each benefit's used count then (a
// benefit with no event has used none). Sequencing a scope needs it, and a saved head
// spares reading the scope's ledger: sequencing appends at Seq+1, and if a saved head is
// stale (a crash between an append and the save, or two saves racing) that append
// collides on the unique sequence number and sequencing reads the ledger again. A head
// is only ever written by the process that appended its Seq, from a head that was right
// at Seq-1, so a saved head is always right for its own Seq, if not the newest.
type LedgerHead struct {
	Scope string
	Seq   int64
	Used  map[string]int
}

// Sentinel results of AppendEvent.
var (
	ErrSeqTaken         = &Error{Code: ECONFLICT, Message: "sequence number taken"}
	ErrAlreadySequenced = &Error{Code: ECONFLICT, Message: "event already sequenced"}
)
