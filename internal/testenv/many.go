package testenv

import (
	"fmt"
	"time"

	"github.com/partnersupport/api/internal/fixture"
)

// ManyTenants is the demo's catalog with n tenants of its own in place of the demo's:
// tenant benchNNNN holds the demo's 2026 Solutions Partner Designation year and has one
// admin, admin@benchNNNN.example. It returns the fixture and, per tenant, the admin's
// email and the tenant's cloud plan (to activate before use): the setup of the
// benchmarks of creates across many plans.
func ManyTenants(n int) (f *fixture.File, admins, plans []string) {
	f = fixture.Demo()
	var spd fixture.HeldOffer
	for _, h := range f.Tenants[0].Offers {
		if h.Offer == "SOLUTIONS_PARTNER_DESIGNATION" && h.RenewedAt != nil && h.RenewedAt.Year() == 2026 {
			spd = h
		}
	}
	f.Tenants, f.Accounts, f.Customers = nil, nil, nil
	for i := range n {
		id := fmt.Sprintf("bench%04d", i)
		f.Tenants = append(f.Tenants, fixture.Tenant{ID: id, Name: "Bench " + id, EnrollmentAnniversary: time.Date(2023, 9, 1, 0, 0, 0, 0, time.UTC), Offers: []fixture.HeldOffer{spd}})
		email := "admin@" + id + ".example"
		f.Accounts = append(f.Accounts, fixture.Account{Email: email, Subject: email, Kind: "ENTRA_ID", Memberships: []fixture.Membership{{Tenant: id, Roles: []string{"PARTNER_ADMIN"}}}})
		admins = append(admins, email)
		plans = append(plans, id+".solutions_partner_designation.20260901.cloud_support")
	}
	return f, admins, plans
}
