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
	"github.com/partnersupport/api/internal/mongodb"
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
	// 150 tenants in inserts of 100 documents: each kind takes two inserts, as 1,500 do
	// in inserts of the server's 1,000.
	mongodb.SetMaxBulkForTest(t, 100)
	const n = 150
	f, admins, _ := testenv.ManyTenants(n)
	stats, err := seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(t, err)
	assert.Equal(t, n, stats.Tenants)
	assert.Equal(t, n, stats.HeldOffers)
	assert.Equal(t, n, stats.Accounts)
	// The held offers a load returns, whose grants a start records, are those stored:
	// on a first load, what it inserted, with nothing read back.
	stored, err := st.HeldOffersOfTenants(ctx, stats.TenantIDs)
	require.NoError(t, err)
	assert.ElementsMatch(t, stored, stats.Held, "the held offers as stored")
	for _, col := range []string{"tenants", "heldOffers", "accounts", "memberships"} {
		assert.LessOrEqual(t, cmds.get("insert:"+col), 2, "%s: %d documents in inserts of a hundred", col, n)
		assert.Zero(t, cmds.get("update:"+col), "%s: nothing to replace on a first load", col)
		count, err := st.Database().Collection(col).CountDocuments(ctx, bson.D{})
		require.NoError(t, err)
		assert.EqualValues(t, n, count, col)
	}

	// Loaded again unchanged, nothing is written.
	writes := cmds.get("insert:tenants") + cmds.get("update:tenants") + cmds.get("insert:accounts") + cmds.get("update:accounts") +
		cmds.get("insert:memberships") + cmds.get("update:memberships") + cmds.get("insert:heldOffers")
	_, err = seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(t, err)
	assert.Equal(t, writes, cmds.get("insert:tenants")+cmds.get("update:tenants")+cmds.get("insert:accounts")+cmds.get("update:accounts")+
		cmds.get("insert:memberships")+cmds.get("update:memberships")+cmds.get("insert:heldOffers"), "an unchanged reload writes nothing")

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
	// A held offer that exists is left as it is (R20), and returned as it is stored.
	_, err = st.Database().Collection("heldOffers").UpdateOne(ctx, bson.D{{Key: "_id", Value: stored[11].ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "benefits.0.quota", Value: 7}}}})
	require.NoError(t, err)
	stats, err = seed.Load(ctx, st, &f2, config.DevIssuer)
	require.NoError(t, err)
	assert.Zero(t, stats.HeldOffers, "every held offer was there")
	require.Len(t, stats.Held, n)
	for _, h := range stats.Held {
		if h.ID == stored[11].ID {
			assert.Equal(t, 7, h.Benefits[0].Quota, "the held offer as stored, not as the fixture says")
		}
	}
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
	st, cmds, clock, svc, admin := contosoCloudPlan(t)
	const plan = contosoCloud
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
	_, err := st.Database().Collection("events").DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: []string{
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

// A fixture's grants are appended to many tenants' ledgers per command (issue 13: a
// first start), and each ledger is still dense and in the outbox's order (R15): a
// tenant whose ledger another instance had started collides on its sequence number and
// is sequenced after what it holds, and recording the grants again appends nothing.
func TestRecordGrants_R15_ManyTenantsInBulkEachLedgerDense(t *testing.T) {
	ctx := t.Context()
	st, cmds := openStore(t)
	const n = 300
	f, _, _ := testenv.ManyTenants(n)
	stats, err := seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(t, err)
	now := func() time.Time { return testenv.DemoNow }
	// Another instance sequenced an event of tenants 5 and 6 before, and tenant 6's saved
	// head was lost: its append collides.
	other := service.New(st, service.Options{Now: now})
	for _, k := range []int{5, 6} {
		require.NoError(t, st.RecordEvent(ctx, domain.Event{ID: "note/1", TenantID: f.Tenants[k].ID, Kind: domain.EventConsume, At: testenv.DemoNow.Add(-48 * time.Hour)}))
		require.NoError(t, other.Sequence(ctx, f.Tenants[k].ID))
	}
	_, err = st.Database().Collection("ledgerHeads").DeleteOne(ctx, bson.D{{Key: "_id", Value: f.Tenants[6].ID}})
	require.NoError(t, err)

	svc := service.New(st, service.Options{Now: now})
	inserts := cmds.get("insert:events")
	require.NoError(t, svc.RecordGrants(ctx, stats.TenantIDs...))
	t.Logf("grants of %d tenants in %d inserts of events", n, cmds.get("insert:events")-inserts)
	assert.LessOrEqual(t, cmds.get("insert:events")-inserts, 10, "grants appended in bulk")

	held, err := st.HeldOffersOfTenants(ctx, stats.TenantIDs)
	require.NoError(t, err)
	require.Len(t, held, n)
	for _, h := range held {
		es, err := st.Events(ctx, h.TenantID, 0, 0, 1000, false)
		require.NoError(t, err)
		var grants []string
		for i, e := range es {
			require.EqualValues(t, i+1, e.Seq, "%s: dense", h.TenantID)
			if e.Kind == domain.EventGrant {
				grants = append(grants, e.BenefitID)
				assert.Equal(t, e.Quota, e.Remaining, "%s: a grant leaves the quota", h.TenantID)
			}
			if i > 0 && h.TenantID != f.Tenants[5].ID && h.TenantID != f.Tenants[6].ID {
				assert.False(t, e.At.Before(es[i-1].At), "%s: in the outbox's order", h.TenantID)
			}
		}
		want := make([]string, len(h.Benefits))
		for i, b := range h.Benefits {
			want[i] = b.ID
		}
		assert.ElementsMatch(t, want, grants, "%s: one grant per benefit", h.TenantID)
		if h.TenantID == f.Tenants[5].ID || h.TenantID == f.Tenants[6].ID {
			assert.Equal(t, "note/1", es[0].ID, "what another instance sequenced stays first")
		}
		saved, err := st.LedgerHead(ctx, h.TenantID)
		require.NoError(t, err)
		assert.EqualValues(t, len(es), saved.Seq, "%s: the saved head is the ledger's last", h.TenantID)
		pending, err := st.PendingEvents(ctx, h.TenantID, 10)
		require.NoError(t, err)
		assert.Empty(t, pending, h.TenantID)
	}
	count, err := st.Database().Collection("events").CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.NoError(t, service.New(st, service.Options{Now: now}).RecordGrants(ctx, stats.TenantIDs...))
	again, err := st.Database().Collection("events").CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	assert.Equal(t, count, again, "recording the grants again appends nothing")
}

// When many tenants' ledgers were started by another instance whose saved heads are lost,
// the bulk append gives up after a few collisions and each tenant's grants are sequenced
// through the outbox: every ledger is still dense, with its grants after what it held.
func TestRecordGrants_R15_StaleHeadsFallBackToTheOutbox(t *testing.T) {
	ctx := t.Context()
	st, _ := openStore(t)
	const n = 40
	f, _, _ := testenv.ManyTenants(n)
	stats, err := seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(t, err)
	now := func() time.Time { return testenv.DemoNow }
	other := service.New(st, service.Options{Now: now})
	for _, tid := range stats.TenantIDs[:20] {
		require.NoError(t, st.RecordEvent(ctx, domain.Event{ID: "note/1", TenantID: tid, Kind: domain.EventConsume, BenefitID: tid + ".note", At: testenv.DemoNow, Delta: -1, Quota: 1000}))
		require.NoError(t, other.Sequence(ctx, tid))
	}
	_, err = st.Database().Collection("ledgerHeads").DeleteMany(ctx, bson.D{})
	require.NoError(t, err)
	require.NoError(t, service.New(st, service.Options{Now: now}).RecordGrants(ctx, stats.TenantIDs...))
	held, err := st.HeldOffersOfTenants(ctx, stats.TenantIDs)
	require.NoError(t, err)
	for i, h := range held {
		es, err := st.Events(ctx, h.TenantID, 0, 0, 1000, false)
		require.NoError(t, err)
		want := len(h.Benefits)
		if i < 20 {
			want++
			assert.Equal(t, "note/1", es[0].ID, h.TenantID)
		}
		require.Len(t, es, want, h.TenantID)
		for j, e := range es {
			require.EqualValues(t, j+1, e.Seq, "%s: dense", h.TenantID)
		}
	}
}
