package domain

import "context"

// The use cases, one small interface per resource, as the GraphQL layer (and any other
// adapter) depends on them: graph holds these, never *Service, so a resolver can be
// tested with a fake of the one interface it calls. internal/service implements each with
// one type per resource (service.TenantService, ...); each method decides through the
// pure rule functions of this package, in the file of its resource (benefits.go,
// plans.go, requests.go, ...).

// TenantService reads tenants and their members (R1, R2, R3, R5).
type TenantService interface {
	Tenant(ctx context.Context, caller Account, id string) (Tenant, error)
	TenantUser(ctx context.Context, caller Account, tenantID, accountID string) (TenantUser, error)
	Admins(ctx context.Context, caller Account, tenantID string) ([]TenantUser, error)
	Memberships(ctx context.Context, caller Account) ([]Membership, error)
	HasActiveOffer(ctx context.Context, caller Account, tenantID string) (bool, error)
	BenefitsNotice(ctx context.Context, caller Account, tenantID string) (*string, error)
}

// OfferService reads the offer catalog and the offers a tenant holds, and buys and
// renews them (R5, R20, R24).
type OfferService interface {
	Offer(ctx context.Context, id string) (Offer, error)
	Offers(ctx context.Context) ([]Offer, error)
	HeldOffer(ctx context.Context, caller Account, id string) (HeldOffer, error)
	HeldOffers(ctx context.Context, caller Account, tenantID string) ([]HeldOffer, error)
	Purchase(ctx context.Context, caller Account, tenantID, offerID string) (HeldOffer, error)
	Renew(ctx context.Context, caller Account, heldOfferID string) (HeldOffer, error)
}

// BenefitService reads benefits and their reminders and activates them (R4, R19, R22).
type BenefitService interface {
	TenantBenefits(ctx context.Context, caller Account, tenantID string) ([]BenefitView, error)
	Benefit(ctx context.Context, caller Account, id string) (BenefitView, error)
	HeldOfferBenefits(ctx context.Context, caller Account, h HeldOffer) ([]BenefitView, error)
	Activate(ctx context.Context, caller Account, benefitID string) (BenefitView, error)
	Consultations(ctx context.Context, caller Account, tenantID string) ([]Consultation, error)
	Reminders(ctx context.Context, caller Account, tenantID string) ([]Reminder, error)
}

// PlanService reads products and support plans and sells pay-per-incident plans (R8,
// R10–R14, R21, R23).
type PlanService interface {
	Products(ctx context.Context) ([]Product, error)
	Product(ctx context.Context, id string) (Product, error)
	VersionCoverage(p Product) []VersionCoverage
	SupportPlans(ctx context.Context, caller Account, productID, version string, portal Portal) (Plans, error)
	Plan(ctx context.Context, caller Account, id string) (Plan, error)
	PurchasePayPerIncident(ctx context.Context, caller Account, productID, version string) (PPIPlan, error)
}

// LinkService links plans to accounts with an Access ID and Contract ID, and lists them
// (R6, R9, R11).
type LinkService interface {
	Link(ctx context.Context, caller Account, in LinkInput) (plan LinkedPlan, already bool, err error)
	LinkedPlans(ctx context.Context, caller Account) ([]LinkedPlan, error)
}

// RequestService creates, reads, lists and closes a partner's support requests (R15–R18,
// R25).
type RequestService interface {
	CreateRequest(ctx context.Context, caller Account, in CreateRequestInput) (SupportRequest, error)
	Request(ctx context.Context, caller Account, id string) (SupportRequest, error)
	Requests(ctx context.Context, caller Account, portal Portal, first int, after *RequestCursor) (RequestPage, error)
	CloseRequest(ctx context.Context, caller Account, id string, reason CloseReason) (SupportRequest, error)
	WithdrawRequest(ctx context.Context, caller Account, id string) (SupportRequest, error)
}

// ProviderService is the support provider's side of requests: its queue and its
// findings, which decide refunds (R16, R25).
type ProviderService interface {
	ProviderQueue(ctx context.Context, caller Account, portal Portal, kind PlanKind, first int, after *RequestCursor) (RequestPage, error)
	ProviderRequest(ctx context.Context, caller Account, id string) (SupportRequest, error)
	ResolveRequest(ctx context.Context, caller Account, id string, outcome CloseReason) (SupportRequest, error)
}

// LedgerService reads a tenant's incident ledger and filters its live feed (R15, R16,
// R17).
type LedgerService interface {
	Ledger(ctx context.Context, caller Account, tenantID string, first int, before int64) (LedgerPage, error)
	LedgerCursor(ctx context.Context, caller Account, tenantID string) (int64, error)
	FeedView(ctx context.Context, caller Account, scope string) (func(Event) (Event, bool), error)
}

// AuditService reads a tenant's audit trail.
type AuditService interface {
	AuditTrail(ctx context.Context, caller Account, tenantID string, first int, before string) (AuditPage, error)
	AuditEvent(ctx context.Context, caller Account, id string) (AuditEvent, error)
}

// Services is every use case: what one implementation (internal/service) offers and the
// GraphQL layer's root resolver takes apart.
type Services interface {
	TenantService
	OfferService
	BenefitService
	LinkService
	PlanService
	RequestService
	ProviderService
	LedgerService
	AuditService
}
