package graph

import (
	"context"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/partnersupport/api/graph/model"
	"github.com/partnersupport/api/internal/domain"
)

// Global object identification (Relay; the Node interface of schema.graphqls). Every id
// field answers a global ID, unique across types and opaque to clients: the unpadded
// base64url of "v1:<GraphQL type>:<key>", where the key is the object's ID in the
// domain (a tenant's slug, a request's req_… ID). This file is the only place that
// encodes or decodes one. ID arguments take a global ID of the type they expect or, for
// clients from before global IDs, the key itself (argKey); docs/migration.md.

// The GraphQL types that implement Node.
const (
	typeAuditEvent      = "AuditEvent"
	typeBenefit         = "Benefit"
	typeHeldOffer       = "HeldOffer"
	typeOffer           = "Offer"
	typeProduct         = "Product"
	typeProviderRequest = "ProviderRequest"
	typeRule            = "Rule"
	typeSupportPlan     = "SupportPlan"
	typeSupportRequest  = "SupportRequest"
	typeTenant          = "Tenant"
	typeTenantUser      = "TenantUser"
	typeViewer          = "Viewer"
)

const (
	globalIDVersion = "v1:"
	// maxGlobalID bounds what is decoded: far above any real ID.
	maxGlobalID = 512
	// MaxNodes is how many IDs nodes(ids:) takes at once; its cost (complexity.go)
	// counts that many reads.
	MaxNodes = 100
)

var idEncoding = base64.RawURLEncoding.Strict()

// globalID is the global ID of the object of GraphQL type typ whose key is key.
func globalID(typ, key string) string {
	return idEncoding.EncodeToString([]byte(globalIDVersion + typ + ":" + key))
}

// GlobalID is the global ID of the object of GraphQL type typ (such as Tenant) whose
// key is key (such as contoso): what its id field answers. For tests and tools; clients
// read IDs from the API and never build them.
func GlobalID(typ, key string) string { return globalID(typ, key) }

// ParseGlobalID is the type and key of a global ID; ok is false for a malformed one.
// For tests and tools, as GlobalID.
func ParseGlobalID(id string) (typ, key string, ok bool) { return parseGlobalID(id) }

// globalIDOrNil is a nullable reference: nil for no key.
func globalIDOrNil(typ, key string) *string {
	if key == "" {
		return nil
	}
	return ptr(globalID(typ, key))
}

// parseGlobalID reads a global ID. ok is false for anything malformed: not base64url,
// another version, a type that is not a Node, an empty key or one with a control
// character.
func parseGlobalID(id string) (typ, key string, ok bool) {
	if len(id) > maxGlobalID {
		return "", "", false
	}
	b, err := idEncoding.DecodeString(id)
	if err != nil {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(string(b), globalIDVersion)
	if !ok {
		return "", "", false
	}
	typ, key, ok = strings.Cut(rest, ":")
	if _, known := nodeTypes[typ]; !ok || !known || key == "" || !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return "", "", false
	}
	return typ, key, true
}

// argKey is the key an ID argument names: the key of a global ID of one of the types
// the argument takes, or else the argument as it is, a legacy key such as contoso. A
// global ID of another type, or a malformed one, is passed on as it is too: it names no
// key, so the service answers exactly as for any key that names nothing.
func argKey(id string, types ...string) string {
	if typ, key, ok := parseGlobalID(id); ok {
		for _, t := range types {
			if t == typ {
				return key
			}
		}
	}
	return id
}

// argKeyOrNil is argKey of an optional argument.
func argKeyOrNil(id *string, types ...string) *string {
	if id == nil {
		return nil
	}
	return ptr(argKey(*id, types...))
}

// tenantUserKey is a tenant admin's key: the account in the tenant, as its roles are
// the tenant's (an account's ID holds no slash).
func tenantUserKey(tenantID, accountID string) string { return tenantID + "/" + accountID }

// nodeType is how node(id:) reads one type: with the same service call, and so the same
// authorization, as the field that lists it. A public type needs no sign-in.
type nodeType struct {
	public bool
	load   func(ctx context.Context, r *Resolver, caller domain.Account, key string) (model.Node, error)
}

// as adapts a typed loader to nodeType.load.
func as[T any](f func(ctx context.Context, r *Resolver, caller domain.Account, key string) (T, error)) func(context.Context, *Resolver, domain.Account, string) (model.Node, error) {
	return func(ctx context.Context, r *Resolver, caller domain.Account, key string) (model.Node, error) {
		v, err := f(ctx, r, caller, key)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// nodeTypes is the one table from a Node type to its loader.
var nodeTypes map[string]nodeType

func init() {
	nodeTypes = map[string]nodeType{
		// The catalog (offers, products, rules): public.
		typeProduct: {public: true, load: as(func(ctx context.Context, r *Resolver, _ domain.Account, key string) (domain.Product, error) {
			return r.PlanService.Product(ctx, key)
		})},
		typeOffer: {public: true, load: as(func(ctx context.Context, r *Resolver, _ domain.Account, key string) (domain.Offer, error) {
			return r.OfferService.Offer(ctx, key)
		})},
		typeRule: {public: true, load: as(func(_ context.Context, _ *Resolver, _ domain.Account, key string) (domain.Rule, error) {
			if rs := domain.Rules(key); len(rs) == 1 {
				return rs[0], nil
			}
			return domain.Rule{}, domain.Errorf(domain.ENOTFOUND, "", "no such rule")
		})},
		// viewer: the caller's own account only.
		typeViewer: {load: as(func(_ context.Context, _ *Resolver, caller domain.Account, key string) (domain.Account, error) {
			if key != caller.ID {
				return domain.Account{}, domain.Errorf(domain.ENOTFOUND, "", "no such account")
			}
			return caller, nil
		})},
		// tenant(id:) and its lists: members of the tenant (R4).
		typeTenant: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.Tenant, error) {
			return r.TenantService.Tenant(ctx, caller, key)
		})},
		typeTenantUser: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.TenantUser, error) {
			i := strings.LastIndexByte(key, '/')
			if i < 0 {
				return domain.TenantUser{}, domain.Errorf(domain.ENOTFOUND, "", "no such admin")
			}
			return r.TenantService.TenantUser(ctx, caller, key[:i], key[i+1:])
		})},
		typeHeldOffer: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.HeldOffer, error) {
			return r.OfferService.HeldOffer(ctx, caller, key)
		})},
		typeBenefit: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.BenefitView, error) {
			return r.BenefitService.Benefit(ctx, caller, key)
		})},
		// supportPlans: the plans the caller may consider (R6, R14, R21, R23).
		typeSupportPlan: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.Plan, error) {
			return r.PlanService.Plan(ctx, caller, key)
		})},
		// supportRequests: the caller's own requests (R18).
		typeSupportRequest: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.SupportRequest, error) {
			return r.RequestService.Request(ctx, caller, key)
		})},
		// providerRequest(id:): the support provider only (R25).
		typeProviderRequest: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (model.ProviderRequest, error) {
			q, err := r.ProviderService.ProviderRequest(ctx, caller, key)
			return model.ProviderRequest{SupportRequest: q}, err
		})},
		// auditTrail: the tenant's admins (R3).
		typeAuditEvent: {load: as(func(ctx context.Context, r *Resolver, caller domain.Account, key string) (domain.AuditEvent, error) {
			return r.AuditService.AuditEvent(ctx, caller, key)
		})},
	}
}

// node reads the object a global ID names, for node(id:) and nodes(ids:). Whatever
// keeps the caller from it (a malformed ID, nothing with that key, a refusal) is the
// same nil: only a sign-in the type needs, and faults (INTERNAL, UNAVAILABLE), are
// errors.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	typ, key, ok := parseGlobalID(id)
	if !ok {
		return nil, nil
	}
	t := nodeTypes[typ]
	a, signedIn := domain.CallerFrom(ctx)
	if !signedIn && !t.public {
		_, err := caller(ctx)
		return nil, err
	}
	n, err := t.load(ctx, r, a, key)
	switch domain.ErrorCode(err) {
	case domain.EINTERNAL, domain.EUNAVAILABLE:
		return nil, err
	}
	if err != nil {
		return nil, nil
	}
	return n, nil
}

// nodes is node for each ID, in order.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > MaxNodes {
		return nil, domain.Errorf(domain.EINVALID, "", "nodes takes at most %d IDs at once", MaxNodes).WithField("ids")
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		n, err := r.node(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
