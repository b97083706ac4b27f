// Package domain holds the business of partner technical-support benefits: the types,
// the rules of docs/rules.md (cited by ID), the services that apply them, and the
// Store port they need. It imports only the standard library: the database, GraphQL
// and HTTP live in other packages that depend on this one.
package domain

import "time"

// AccountKind is how an account signs in. It comes from the token, never from input.
type AccountKind string

// Account kinds.
const (
	KindEntraID AccountKind = "ENTRA_ID" // work account
	KindMSA     AccountKind = "MSA"      // personal account
	// KindSupportProvider is the support provider's side of R25: a support engineer or the
	// ticketing system's integration, authenticated as such by a configured issuer. It is
	// nobody's tenant member.
	KindSupportProvider AccountKind = "SUPPORT_PROVIDER"
)

// Valid reports whether k is a known kind.
func (k AccountKind) Valid() bool {
	return k == KindEntraID || k == KindMSA || k == KindSupportProvider
}

// Role is a tenant role.
type Role string

// Tenant roles.
const (
	RolePartnerAdmin Role = "PARTNER_ADMIN"
	RoleGlobalAdmin  Role = "GLOBAL_ADMIN"
	RoleAdminAgent   Role = "ADMIN_AGENT"
	RoleUser         Role = "USER"
)

// Roles lists every role, in display order.
var Roles = []Role{RolePartnerAdmin, RoleGlobalAdmin, RoleAdminAgent, RoleUser}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// ActivatorRoles are the roles that may activate a benefit (R3).
var ActivatorRoles = []Role{RolePartnerAdmin, RoleGlobalAdmin}

// Portal is a support portal where plans are linked and requests are opened (R11).
type Portal string

// Portals.
const (
	PortalAzure                     Portal = "AZURE"
	PortalDynamics                  Portal = "DYNAMICS"
	PortalDynamicsFinanceOperations Portal = "DYNAMICS_FINANCE_OPERATIONS"
	PortalServicesHub               Portal = "SERVICES_HUB"
	PortalMicrosoft365              Portal = "MICROSOFT_365"
	// PortalPartnerCenter is the partner centre, a portal of its own where front-line and
	// partner-program requests are opened, with no product (R17, R18).
	PortalPartnerCenter Portal = "PARTNER_CENTER"
)

// Portals lists every portal.
var Portals = []Portal{PortalAzure, PortalDynamics, PortalDynamicsFinanceOperations, PortalServicesHub, PortalMicrosoft365, PortalPartnerCenter}

// Valid reports whether p is a known portal.
func (p Portal) Valid() bool {
	for _, k := range Portals {
		if p == k {
			return true
		}
	}
	return false
}

// LinksInRequestFlow reports whether the portal lets an account add a contract while it
// creates a request (R11): the Dynamics portals and the on-premises portal do; the Azure
// portal only links from "Support plans > Link support benefits".
func (p Portal) LinksInRequestFlow() bool {
	switch p {
	case PortalDynamics, PortalDynamicsFinanceOperations, PortalServicesHub:
		return true
	}
	return false
}

// Deployment says where a product runs.
type Deployment string

// Deployments.
const (
	DeploymentCloud      Deployment = "CLOUD"
	DeploymentOnPremises Deployment = "ON_PREMISES"
)

// BenefitKind is what a benefit grants.
type BenefitKind string

// Benefit kinds (R1).
const (
	BenefitCloudSupport      BenefitKind = "CLOUD_SUPPORT"       // Partner Cloud Support incidents
	BenefitOnPremisesSupport BenefitKind = "ON_PREMISES_SUPPORT" // Partner On-premises Support incidents
	BenefitISVConsultation   BenefitKind = "ISV_CONSULTATION"    // ISV Success technical consultations (R22)
)

// Valid reports whether k is a known benefit kind.
func (k BenefitKind) Valid() bool {
	return k == BenefitCloudSupport || k == BenefitOnPremisesSupport || k == BenefitISVConsultation
}

// Incidental reports whether the benefit is a pack of support incidents (R15).
func (k BenefitKind) Incidental() bool {
	return k == BenefitCloudSupport || k == BenefitOnPremisesSupport
}

// CSPRole is a tenant's place in the Cloud Solution Provider program (R14).
type CSPRole string

// CSP roles.
const (
	CSPNone             CSPRole = ""
	CSPDirectBill       CSPRole = "DIRECT_BILL"
	CSPIndirectProvider CSPRole = "INDIRECT_PROVIDER"
	CSPIndirectReseller CSPRole = "INDIRECT_RESELLER"
)

// Account is a person who signs in.
type Account struct {
	ID      string
	Issuer  string
	Subject string
	Email   string
	Kind    AccountKind
	// PremierLinked: the account has Premier or Advanced support for partners linked (R12).
	PremierLinked bool
	CreatedAt     time.Time
}

// Tenant is a partner organisation.
type Tenant struct {
	ID   string
	Name string
	// EnrollmentAnniversary starts the tenant's enrollment years; only month and day matter
	// after the first year.
	EnrollmentAnniversary time.Time
	CSP                   CSPRole
	IndirectProvider      string
}

// Membership is an account's roles in a tenant.
type Membership struct {
	TenantID  string
	AccountID string
	Roles     []Role
}

// Has reports whether the membership holds any of the roles.
func (m Membership) Has(roles ...Role) bool {
	for _, r := range m.Roles {
		for _, want := range roles {
			if r == want {
				return true
			}
		}
	}
	return false
}

// Offer is a membership offer in the catalog (R1). What it grants is data.
type Offer struct {
	ID        string
	Name      string
	Legacy    bool
	RetiredAt *time.Time // R20
	Grants    []Grant
	Source    string
}

// Retired reports whether the offer can no longer be bought at t (R20).
func (o Offer) Retired(t time.Time) bool { return o.RetiredAt != nil && !t.Before(*o.RetiredAt) }

// Grant is one benefit an offer grants per enrollment year (R1).
type Grant struct {
	Kind      BenefitKind
	Incidents int // per year; for ISV_CONSULTATION, consultations
	Unlimited bool
	// UnlimitedIfPeriodStartsBefore: a year that starts (is renewed) before this date is
	// unlimited; one that starts on or after it gets Incidents (R2, R24).
	UnlimitedIfPeriodStartsBefore *time.Time
	Name                          string
	LegacyName                    string
	Consultation                  string
}

// Product is an entry of the product catalog (R8).
type Product struct {
	ID              string
	Name            string
	Deployment      Deployment
	Family          string
	Portal          Portal
	LifecyclePolicy string // FIXED or MODERN (R21)
	NeedsLink       bool   // false for Microsoft 365 (R10)
	Versions        []Version
	Source          string
}

// Version is one release of an on-premises product (R8).
type Version struct {
	Name             string
	ReleasedAt       time.Time
	MainstreamEndsAt time.Time
	Source           string
}
