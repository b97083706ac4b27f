package domain

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// RefundDue reports whether closing r with this outcome refunds an incident (R16): r
// took one, and Refundable says its outcome gives it back. The close and the repair
// record a refund only when this holds, after the closure, and a listing looks a refund
// up only when it holds, so both decide by this one function.
func RefundDue(r SupportRequest, reason CloseReason) bool {
	return r.Consumed && Refundable(r.PlanKind, r.Type, reason)
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

// PlanTenantID is the tenant whose plan the request is on, as the support provider sees
// it (R25): "" for a request on no tenant's plan (the partner centre's, R17) and for a
// pay-per-incident one, whose ledger scope names the account.
func (r SupportRequest) PlanTenantID() string {
	if IsPPIScope(r.TenantID) {
		return ""
	}
	return r.TenantID
}

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

// CreateRequestInput is a new support request.
type CreateRequestInput struct {
	IdempotencyKey string
	PlanID         string // required unless the type is free (R17)
	ProductID      string
	Version        string
	Portal         Portal
	Type           RequestType
	Title          string
	Description    string
	CustomerID     string // R14: for a CSP request
}

var idemKey = regexp.MustCompile(`^[A-Za-z0-9._:\-]{8,128}$`)

// ValidIdempotencyKey reports whether a client's idempotency key is acceptable: 8 to 128
// characters of letters, digits and . _ : -
func ValidIdempotencyKey(k string) bool { return idemKey.MatchString(k) }

// Validate refuses a create whose input is malformed or does not fit its type and place,
// with a coded error naming the field (R15, R17, R18); it reads nothing.
func (in CreateRequestInput) Validate() error {
	if !ValidIdempotencyKey(in.IdempotencyKey) {
		return Errorf(EINVALID, "", "the idempotency key must be 8 to 128 letters, digits or . _ : -").WithField("idempotencyKey")
	}
	if !in.Type.Valid() {
		return Errorf(EINVALID, "", "unknown request type").WithField("type")
	}
	if !in.Portal.Valid() {
		return Errorf(EINVALID, "", "unknown portal").WithField("portal")
	}
	if err := in.checkRequestText(); err != nil {
		return err
	}
	if t := strings.TrimSpace(in.Title); t == "" || utf8.RuneCountInString(t) > 200 {
		return Errorf(EINVALID, "", "the title must be 1 to 200 characters").WithField("title")
	}
	if utf8.RuneCountInString(in.Description) > 10000 {
		return Errorf(EINVALID, "", "the description must be at most 10,000 characters").WithField("description")
	}
	if len(in.PlanID) > 200 || len(in.CustomerID) > 200 || len(in.ProductID) > 200 || len(in.Version) > 100 {
		return Errorf(EINVALID, "", "an identifier is too long")
	}
	if err := CheckRequestPlace(in); err != nil {
		return err
	}
	if !in.Type.Free() && in.PlanID == "" {
		return Errorf(EINVALID, "R15", "a %s request needs a support plan", strings.ToLower(string(in.Type))).WithField("planId")
	}
	return nil
}

// Fingerprint digests what a create asks for, so that a retry with the same idempotency
// key and other content is told apart from a true retry.
func (in CreateRequestInput) Fingerprint() string {
	b, _ := json.Marshal([]string{in.PlanID, in.ProductID, in.Version, string(in.Portal), string(in.Type), strings.TrimSpace(in.Title), in.Description, in.CustomerID})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RequestID derives a request's ID from the account and its idempotency key: every write
// of a create is keyed by it, so a retry finds and completes what an earlier attempt did.
func RequestID(accountID, key string) string {
	sum := sha256.Sum256([]byte(accountID + "\x00" + key))
	return "req_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// RequestPage is a page of requests.
type RequestPage struct {
	Requests []SupportRequest
	HasMore  bool
}

// MaxPage bounds every list's page size.
const MaxPage = 100

// CheckFirst validates a connection's page size: 1 to 100.
func CheckFirst(first int) error {
	if first < 1 || first > MaxPage {
		return Errorf(EINVALID, "", "a page holds 1 to %d items", MaxPage).WithField("first")
	}
	return nil
}

// ListedIn decides whether a portal's list of an account's requests shows one of them
// (R18): each portal lists the requests the account created there; the on-premises portal
// (Services Hub, "Support for business") lists every one of the account's requests tied
// to its plans, whichever portal they were opened in, and its front-line requests of the
// partner centre too. The partner centre lists its own (front-line and partner-program,
// R17).
func ListedIn(portal Portal, r SupportRequest) bool {
	if portal == PortalServicesHub {
		return r.PlanID != "" || r.Type == RequestFrontLine || r.Portal == PortalServicesHub
	}
	return r.Portal == portal
}
