package domain

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Action is something a principal asks the API to do, as the R25 sides see it.
type Action string

// Actions. Reading the catalog and one's own identity are open to everyone signed in and
// need no entry here.
const (
	ActTenantRead     Action = "read a tenant, its benefits or its Access and Contract IDs"
	ActActivate       Action = "activate a benefit"
	ActLink           Action = "link a support plan"
	ActPurchase       Action = "buy an offer"
	ActRenew          Action = "renew an offer"
	ActBuyPPI         Action = "buy pay per incident"
	ActSupportPlans   Action = "choose a support plan"
	ActCreateRequest  Action = "open a support request"
	ActOwnRequests    Action = "list its own support requests"
	ActWithdraw       Action = "withdraw a support request"
	ActLedger         Action = "read a tenant's incident ledger"
	ActAuditTrail     Action = "read a tenant's audit trail"
	ActBalances       Action = "follow a tenant's balances"
	ActProviderQueue  Action = "list the support provider's queue"
	ActProviderRead   Action = "read a request to resolve it"
	ActResolve        Action = "record the resolution of a support request"
	ActLedgerWhoWhich Action = "see who and which request changed a balance"
)

// providerActions are what the support provider's side may do (R25): work its queue,
// read a request to resolve it, record the resolution, and follow balances without who
// or which. Everything else is the partner side's.
var providerActions = map[Action]bool{ActProviderQueue: true, ActProviderRead: true, ActResolve: true, ActBalances: true}

// providerOnly are what only the support provider's side may do (R25).
var providerOnly = map[Action]bool{ActProviderQueue: true, ActProviderRead: true, ActResolve: true}

// Permit decides whether a principal of this kind may take the action at all (R25). The
// outcome that decides a refund (duplicate, bug) is the support provider's finding, so a
// partner principal never records a resolution (it withdraws instead), and a provider
// principal, nobody's tenant member, never activates, links, buys, reads a tenant's
// secrets, opens or withdraws a partner's request, or sees the ledger's who and which.
// The tenant roles (R3) and membership (R4) are checked after this, by the action.
func Permit(kind AccountKind, act Action) error {
	if kind == KindSupportProvider {
		if providerActions[act] {
			return nil
		}
		e := Errorf(EPARTNERONLY, "R25", "a support provider cannot %s: that is the partner's side", act)
		e.Meta = map[string]any{"action": string(act)}
		return e
	}
	if providerOnly[act] {
		msg := "only the support provider can %s"
		if act == ActResolve {
			msg += "; the partner side withdraws a request instead (withdrawSupportRequest)"
		}
		e := Errorf(EPROVIDERONLY, "R25", msg, act)
		e.Meta = map[string]any{"action": string(act)}
		return e
	}
	return nil
}

// MayWithdraw decides who on the partner side may withdraw a request (R25): the account
// that opened it, or a PARTNER_ADMIN or GLOBAL_ADMIN of the tenant whose plan it is on,
// for that tenant's requests. roles are the caller's roles in r.TenantID (none when it is
// not a member).
func MayWithdraw(callerID string, roles []Role, r SupportRequest) bool {
	if r.AccountID == callerID {
		return true
	}
	return r.TenantID != "" && Membership{Roles: roles}.Has(ActivatorRoles...)
}

// Resolution says whether an outcome is one the support provider records (R25): every
// close reason but a withdrawal, which is the partner side's.
func (r CloseReason) Resolution() bool { return r.Valid() && r != CloseWithdrawn }

// Identity is who a validated token says the caller is.
type Identity struct {
	Issuer  string
	Subject string
	Email   string
	Kind    AccountKind
}

// AccountID derives an account's ID from its issuer and subject, so that the first
// sign-in creates it exactly once, whichever server instance sees it first.
func AccountID(issuer, subject string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + subject))
	return "acc_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// RequireRole refuses a member who lacks every one of the roles, saying which are needed (R3).
func RequireRole(m Membership, rule string, roles ...Role) error {
	if m.Has(roles...) {
		return nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	e := Errorf(EROLEREQUIRED, rule, "this needs the %s role in the tenant; ask one of the tenant's admins", strings.Join(names, " or "))
	e.Meta = map[string]any{"requiredRoles": names}
	return e
}

// TenantUser is an account with its roles in a tenant.
type TenantUser struct {
	TenantID string
	Account  Account
	Roles    []Role
}
