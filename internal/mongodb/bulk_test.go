package mongodb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// A fixture of many tenants loads in a few commands per collection (issue 13: a first
// start), and loading it again, changed, ends as the single-document writes would: every
// tenant, account and membership replaced, an account's creation time kept, a held offer
// the tenant holds already left as it is (R20).
func TestSeed_AFixtureLoadsInBulkAndReloadsAsSingleWritesWould(t *testing.T) {
	ctx := t.Context()
	st, cmds := openStore(t)
	const n = 1500
	f, admins, _ := testenv.ManyTenants(n)
	stats, err := seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(t, err)
	assert.Equal(t, n, stats.Tenants)
	assert.Equal(t, n, stats.HeldOffers)
	assert.Equal(t, n, stats.Accounts)
	for _, col := range []string{"tenants", "heldOffers", "accounts", "memberships"} {
		assert.LessOrEqual(t, cmds.get("insert:"+col), 2, "%s: %d documents in one insert per thousand", col, n)
		assert.Zero(t, cmds.get("update:"+col), "%s: nothing to replace on a first load", col)
		count, err := st.Database().Collection(col).CountDocuments(ctx, bson.D{})
		require.NoError(t, err)
		assert.EqualValues(t, n, count, col)
	}

	// An account created before the reload (say, by a sign-in) keeps its creation time.
	id := domain.AccountID(config.DevIssuer, admins[7])
	created := testenv.DemoNow.Add(-time.Hour).Truncate(time.Millisecond)
	a, err := st.Account(ctx, id)
	require.NoError(t, err)
	a.CreatedAt = created
	require.NoError(t, st.PutAccount(ctx, a))

	f2 := *f
	f2.Tenants = append([]fixture.Tenant(nil), f.Tenants...)
	f2.Accounts = append([]fixture.Account(nil), f.Accounts...)
	f2.Tenants[3].Name = "Renamed"
	f2.Accounts[7].PremierLinked = true
	f2.Accounts[9].Memberships = []fixture.Membership{{Tenant: f.Tenants[9].ID, Roles: []string{"PARTNER_ADMIN", "PARTNER_USER"}}}
	stats, err = seed.Load(ctx, st, &f2, config.DevIssuer)
	require.NoError(t, err)
	assert.Zero(t, stats.HeldOffers, "every held offer was there")
	tn, err := st.Tenant(ctx, f.Tenants[3].ID)
	require.NoError(t, err)
	assert.Equal(t, "Renamed", tn.Name)
	a, err = st.Account(ctx, id)
	require.NoError(t, err)
	assert.True(t, a.PremierLinked, "the account is replaced")
	assert.True(t, a.CreatedAt.Equal(created), "the account keeps its creation time: %v", a.CreatedAt)
	m, err := st.Membership(ctx, f.Tenants[9].ID, domain.AccountID(config.DevIssuer, admins[9]))
	require.NoError(t, err)
	assert.Equal(t, []domain.Role{"PARTNER_ADMIN", "PARTNER_USER"}, m.Roles)
	for _, col := range []string{"tenants", "heldOffers", "accounts", "memberships"} {
		count, err := st.Database().Collection(col).CountDocuments(ctx, bson.D{})
		require.NoError(t, err)
		assert.EqualValues(t, n, count, "%s: a reload adds nothing", col)
	}
	hs, err := st.HeldOffersOfTenants(ctx, []string{f.Tenants[0].ID, f.Tenants[n-1].ID, "nobody"})
	require.NoError(t, err)
	assert.Len(t, hs, 2)
}

// The repair looks up whether recent requests' events are in the ledger in a few queries,
// not one per request (issue 13: its cost per request of the window), and still records
// what is missing (R15) and completes a refund whose event is missing (R16).
func TestRepair_R15_R16_LooksUpTheWindowsEventsInBulk(t *testing.T) {
	ctx := t.Context()
	st, cmds := openStore(t)
	clock := testenv.NewClock(testenv.DemoNow)
	svc := service.New(st, service.Options{Now: clock.Now})
	_, err := seed.Load(ctx, st, fixture.Demo(), config.DevIssuer)
	require.NoError(t, err)
	require.NoError(t, svc.RecordGrants(ctx, "contoso"))
	const plan = "contoso.solutions_partner_designation.20260901.cloud_support"
	admin, err := st.Account(ctx, domain.AccountID(config.DevIssuer, "megan@contoso.com"))
	require.NoError(t, err)
	_, err = svc.Activate(ctx, admin, plan)
	require.NoError(t, err)
	clock.Advance(time.Minute)
	provider := domain.Account{ID: "provider:acme-support", Kind: domain.KindSupportProvider}
	const requests = 30
	var ids []string
	for i := range requests {
		r, err := svc.CreateRequest(ctx, admin, domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("repair-bulk-%07d", i), PlanID: plan,
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "repair"})
		require.NoError(t, err)
		if i%3 == 0 {
			_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
			require.NoError(t, err)
		}
		ids = append(ids, r.ID)
	}
	// A crash lost one consumption's event and one refund's event.
	_, err = st.Database().Collection("events").DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: []string{
		"contoso/consume/" + ids[1], "contoso/refund/" + ids[3]}}}}})
	require.NoError(t, err)
	// The repair ends with a sweep, whose lookups do not depend on the requests: one
	// sweep before it leaves its own to the expiries and reminders of the next days.
	require.NoError(t, svc.Sweep(ctx))
	finds := cmds.get("find:events")
	require.NoError(t, svc.Sweep(ctx))
	sweep := cmds.get("find:events") - finds
	finds = cmds.get("find:events")
	require.NoError(t, svc.Repair(ctx))
	repair := cmds.get("find:events") - finds
	t.Logf("the repair of %d requests read the ledger in %d finds, a sweep in %d", requests, repair, sweep)
	assert.LessOrEqual(t, repair-sweep, 3, "the window's events are looked up in bulk")
	for _, id := range []string{"consume/" + ids[1], "refund/" + ids[3]} {
		ok, err := st.EventSequenced(ctx, "contoso", id)
		require.NoError(t, err)
		assert.True(t, ok, "the repair put %s back in the ledger", id)
	}
	used, err := st.UsedIncidents(ctx, "contoso")
	require.NoError(t, err)
	assert.Equal(t, requests-requests/3, used[plan], "every refunded claim is free")
}
