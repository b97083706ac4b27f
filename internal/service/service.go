// Package service implements the use cases (domain/services.go): activate, link,
// purchase, choose a plan, create, close, sweep, repair. Each method authorizes the
// caller, reads what it needs through the store port, decides through the pure rule
// functions of internal/domain, and writes; it decides no rule itself.
//
// One type per resource, each in the file of its name, holding only the parts of the
// store port (domain/store.go) it uses, so the compiler checks what each may touch:
//
//	TenantService   tenants.go   AccountStore, TenantStore; OfferService (R5's held offers)
//	OfferService    offers.go    CatalogStore, HeldOfferStore, TenantStore
//	BenefitService  benefits.go  ContractStore, ConsultationStore; OfferService
//	LinkService     links.go     ContractStore, LinkStore
//	PlanService     plans.go     CatalogStore, TenantStore, HeldOfferStore, LinkStore,
//	                             PPIPlanStore, ClaimStore
//	RequestService  requests.go  RequestStore, ClaimStore, CatalogStore, TenantStore;
//	                             PlanService (a create chooses among its plans, R23)
//	LedgerService   ledger.go    LedgerStore, TenantStore, LinkStore
//	AuditService    audit.go     AuditStore
//	SweepService    sweep.go     HeldOfferStore, ClaimStore, LedgerStore, RepairStore
//
// Beside its own store, a service embeds the shared parts it needs, each as narrow:
//
//	core      audit.go     the clock, the logger, and audit recording (AuditStore): the
//	                       permission check (R25) and the audited refusals every use case has
//	access    tenants.go   a caller's membership of a tenant and its roles (TenantStore;
//	                       R3, R4): tenants, offers, benefits, ledger, audit
//	recorder  ledger.go    the ledger's outbox and its sequencer (LedgerStore): offers,
//	                       benefits, plans, requests, sweep
//	states    benefits.go  a tenant's benefits, contracts and counts (HeldOfferStore,
//	                       ContractStore, ConsultationStore, ClaimStore): benefits,
//	                       links, plans, requests, sweep
//	refunds   requests.go  R16's refund of a closed request (RequestStore, ClaimStore,
//	                       CatalogStore): requests, and the repair that finishes one
//
// The parts' methods are promoted (s.permit, s.member, s.record, s.benefit), and s.store
// in a method is always its own type's store. A part's store is used only by the part's
// own methods: a convention, as one package cannot hide s.access.store from a service.
//
// Service bundles them: what New returns, every use case (domain.Services).
//
// Each resource's lookup of one object by its key (for node(id:), graph/globalid.go)
// answers with the same authorization as the field that lists the object, and a caller
// who may not see it gets the same refusal as for a key that names nothing.
package service

import (
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Service is every use case: the per-resource services, and the shared core and
// recorder (Now, Audit, Sequence, Record). Its zero value is not usable: use New.
type Service struct {
	*core
	*recorder
	*TenantService
	*OfferService
	*BenefitService
	*LinkService
	*PlanService
	*RequestService
	*LedgerService
	*AuditService
	*SweepService
}

// Options configure a Service.
type Options struct {
	// Now is the clock; every rule is evaluated against it at request time (R23).
	Now func() time.Time
	// ActivationDelay is how long activation takes before the IDs show (R4).
	ActivationDelay time.Duration
	Reminders       domain.ReminderPolicy
	// Logger receives warnings about work left to the repair; nil discards them.
	Logger *slog.Logger
	// OnEvent is called for every event this process sequences.
	OnEvent Sequenced
	// OnAudit is called for every audit event (for metrics); may be nil.
	OnAudit func(domain.AuditEvent)
	// SequencingRounds bounds the scopes this process sequences at once; 0 is
	// SequencingRounds.
	SequencingRounds int
}

// New returns the services over the store, each given only its part of it.
func New(s domain.Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	// Milliseconds, what the store keeps (BSON dates): a time a mutation answers is the
	// time a later read gives back.
	clock := o.Now
	o.Now = func() time.Time { return clock().Truncate(time.Millisecond) }
	if o.Logger == nil {
		o.Logger = discardLogger
	}
	c := &core{now: o.Now, log: o.Logger, audits: s, onAudit: o.OnAudit}
	acc := &access{core: c, store: s}
	rec := &recorder{core: c, store: s, reminders: o.Reminders, onEvent: o.OnEvent, seq: newSequencer(o.SequencingRounds)}
	st := &states{store: s}
	offers := &OfferService{core: c, access: acc, recorder: rec, store: s}
	plans := &PlanService{core: c, recorder: rec, states: st, store: s, newSecret: newSecret}
	ref := &refunds{core: c, recorder: rec, states: st, store: s}
	return &Service{core: c, recorder: rec,
		TenantService: &TenantService{core: c, access: acc, store: s, offers: offers},
		OfferService:  offers,
		BenefitService: &BenefitService{core: c, access: acc, recorder: rec, states: st, store: s, offers: offers,
			newSecret: newSecret, activationDelay: o.ActivationDelay, reminders: o.Reminders},
		LinkService:    &LinkService{core: c, states: st, store: s},
		PlanService:    plans,
		RequestService: &RequestService{core: c, recorder: rec, states: st, refunds: ref, store: s, plans: plans},
		LedgerService:  &LedgerService{core: c, access: acc, store: s},
		AuditService:   &AuditService{core: c, access: acc, store: s},
		SweepService:   &SweepService{core: c, recorder: rec, states: st, refunds: ref, store: s, reminders: o.Reminders},
	}
}

// Now is the services' clock.
func (s *core) Now() time.Time { return s.now().UTC() }

// newSecret returns 26 characters of base32 from the operating system's cryptographic
// source: 130 bits, so guessing a pair is hopeless (R4, R9).
func newSecret() string { return rand.Text() }

// discardLogger is the default logger.
var discardLogger = slog.New(slog.DiscardHandler)

// Each service implements its resource's use cases; Service, all of them.
var (
	_ domain.TenantService   = (*TenantService)(nil)
	_ domain.OfferService    = (*OfferService)(nil)
	_ domain.BenefitService  = (*BenefitService)(nil)
	_ domain.LinkService     = (*LinkService)(nil)
	_ domain.PlanService     = (*PlanService)(nil)
	_ domain.RequestService  = (*RequestService)(nil)
	_ domain.ProviderService = (*RequestService)(nil)
	_ domain.LedgerService   = (*LedgerService)(nil)
	_ domain.AuditService    = (*AuditService)(nil)
	_ domain.Services        = (*Service)(nil)
)
