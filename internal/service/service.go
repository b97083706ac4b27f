// Package service implements the use cases (domain/services.go): activate, link,
// purchase, choose a plan, create, close, sweep, repair. Each method authorizes the
// caller, reads what it needs through the store port (domain.Store), decides through the
// pure rule functions of internal/domain, and writes; it decides no rule itself. Files
// are by resource: tenants, offers, benefits, links, plans, requests, ledger, sweep (and
// repair), audit.
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

// Service applies the business rules. Its zero values are not usable: use New.
type Service struct {
	store           domain.Store
	now             func() time.Time
	activationDelay time.Duration
	reminders       domain.ReminderPolicy
	newSecret       func() string
	log             *slog.Logger
	seq             sequencer
	onEvent         Sequenced
	onAudit         func(domain.AuditEvent)
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

// New returns a Service over the store.
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
	return &Service{store: s, now: o.Now, activationDelay: o.ActivationDelay, reminders: o.Reminders, newSecret: newSecret, log: o.Logger, onEvent: o.OnEvent, onAudit: o.OnAudit,
		seq: newSequencer(o.SequencingRounds)}
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// newSecret returns 26 characters of base32 from the operating system's cryptographic
// source: 130 bits, so guessing a pair is hopeless (R4, R9).
func newSecret() string { return rand.Text() }

// discardLogger is the default logger.
var discardLogger = slog.New(slog.DiscardHandler)

// Service implements every use-case interface of the domain.
var (
	_ domain.TenantService   = (*Service)(nil)
	_ domain.OfferService    = (*Service)(nil)
	_ domain.BenefitService  = (*Service)(nil)
	_ domain.PlanService     = (*Service)(nil)
	_ domain.RequestService  = (*Service)(nil)
	_ domain.ProviderService = (*Service)(nil)
	_ domain.LedgerService   = (*Service)(nil)
	_ domain.AuditService    = (*Service)(nil)
	_ domain.Services        = (*Service)(nil)
)
