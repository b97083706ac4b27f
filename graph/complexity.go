package graph

import (
	"github.com/partnersupport/api/graph/model"
	"github.com/partnersupport/api/internal/domain"
)

// The cost model of the query complexity limit (internal/httpapi, limits.go). A field costs
// 1 plus what it selects, except:
//   - a field whose resolver reads the store costs storeRead more (supportPlans several
//     times that), so that many aliases of one cheap-looking field add up;
//   - a list costs what one element selects times the length it is expected to have;
//   - a connection costs what one edge selects times the page asked for (`first`, whose
//     default is 20).
const (
	storeRead     = 10
	catalogLength = 10 // offers, products, a product's versions
	shortLength   = 5  // an offer's grants, a viewer's memberships, an unavailable plan's reasons, a payload's benefits
	tenantLength  = 20 // a tenant's benefits, held offers, reminders, admins, consultations; plans; linked plans
	defaultPage   = 20 // first's default in the schema
)

// CostArguments are the only arguments whose values the cost model reads (page's first):
// an operation whose cost arguments use no variable costs the same whatever the request,
// so the HTTP layer computes its cost once (httpapi.Limits.CostArguments).
// TestCostModelReadsOnlyCostArguments holds the cost model to it.
var CostArguments = []string{"first"}

// Complexity returns the schema's cost model, for graph.Config.Complexity.
func Complexity() ComplexityRoot {
	var c ComplexityRoot
	// Query.
	c.Query.Tenant = func(child int, _ string) int { return read(child) }
	c.Query.Offers = readList(catalogLength)
	c.Query.Products = readList(catalogLength)
	c.Query.SupportPlans = func(child int, _ string, _ *string, _ domain.Portal) int { return 5*storeRead + child }
	c.Query.SupportRequests = func(child int, _ domain.Portal, first *int, _ *string) int { return storeRead + page(first)*child }
	c.Query.IncidentLedger = func(child int, _ string, first *int, _ *string) int { return storeRead + page(first)*child }
	c.Query.AuditTrail = func(child int, _ string, first *int, _ *string) int { return storeRead + page(first)*child }
	c.Query.ProviderQueue = func(child int, _ *domain.Portal, _ *domain.PlanKind, first *int, _ *string) int {
		return storeRead + page(first)*child
	}
	c.Query.ProviderRequest = func(child int, _ string) int { return read(child) }
	// node reads one object; nodes as many as it may be given (MaxNodes), whatever the
	// list's length, as only cost arguments may change a cost (CostArguments).
	c.Query.Node = func(child int, _ string) int { return read(child) }
	c.Query.Nodes = func(child int, _ []string) int { return MaxNodes * read(child) }
	// Objects whose fields read the store.
	c.Viewer.Memberships = readList(shortLength)
	c.Viewer.LinkedPlans = readList(tenantLength)
	c.Membership.Tenant = read
	c.Tenant.HasActiveOffer = read
	c.Tenant.BenefitsNotice = read
	c.Tenant.Offers = readList(tenantLength)
	c.Tenant.Benefits = readList(tenantLength)
	c.Tenant.Admins = readList(tenantLength)
	c.Tenant.Reminders = readList(tenantLength)
	c.Tenant.Consultations = readList(tenantLength)
	c.HeldOffer.Offer = read
	// Lists computed without reading the store.
	c.Offer.Grants = list(shortLength)
	c.Product.Versions = list(catalogLength)
	c.SupportPlans.Available = list(tenantLength)
	c.SupportPlans.UnavailablePlans = list(tenantLength)
	c.UnavailablePlan.Reasons = list(shortLength)
	c.PurchaseOfferPayload.Benefits = list(shortLength)
	c.RenewOfferPayload.Benefits = list(shortLength)
	// Mutations.
	c.Mutation.ActivateBenefit = func(child int, _ string) int { return read(child) }
	c.Mutation.LinkSupportPlan = func(child int, _ model.LinkSupportPlanInput) int { return read(child) }
	c.Mutation.PurchaseOffer = func(child int, _, _ string) int { return read(child) }
	c.Mutation.RenewOffer = func(child int, _ string) int { return read(child) }
	c.Mutation.CreateSupportRequest = func(child int, _ model.CreateSupportRequestInput) int { return 5*storeRead + child }
	c.Mutation.CloseSupportRequest = func(child int, _ string, _ domain.CloseReason) int { return read(child) }
	c.Mutation.WithdrawSupportRequest = func(child int, _ string) int { return read(child) }
	c.Mutation.ResolveSupportRequest = func(child int, _ string, _ domain.CloseReason) int { return read(child) }
	c.Mutation.PurchasePayPerIncident = func(child int, _, _ string) int { return read(child) }
	// Subscription.
	c.Subscription.IncidentBalanceChanged = func(child int, _ string, _ *string) int { return read(child) }
	return c
}

func read(child int) int { return storeRead + child }

func readList(n int) func(int) int {
	return func(child int) int { return storeRead + n*child }
}

func list(n int) func(int) int {
	return func(child int) int { return 1 + n*child }
}

// page is the page size a connection asks for. An out-of-range first is refused before
// the cost matters (1..domain.MaxPage); it is clamped here only so that the arithmetic
// cannot overflow.
func page(first *int) int {
	if first == nil {
		return defaultPage
	}
	return min(max(*first, 1), 1_000_000)
}
