package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"

	"github.com/partnersupport/api/internal/testenv"
	"github.com/partnersupport/api/internal/testenv/storeproxy"
)

// A restart does not load again a fixture it loaded into the same database (issue 13:
// start to first answer must not grow with the fixture): no tenant, account, membership
// or held offer is written, no grant recorded, and the data is there.
func TestSeed_ARestartSkipsAnUnchangedFixture(t *testing.T) {
	proxy := startProxy(t)
	first := testenv.New(t, testenv.WithStoreURI(proxy.URI()))
	assert.Contains(t, first.LogText(), "demo data loaded")

	before := proxy.Counts()
	again := testenv.New(t, testenv.WithStoreURI(proxy.URI()), testenv.WithDatabase(first.App.Config.Database))
	writes := storeproxy.Delta(before, proxy.Counts())
	assert.Contains(t, again.LogText(), "fixture unchanged since it was loaded")
	assert.NotContains(t, again.LogText(), "demo data loaded")
	for _, col := range []string{"tenants", "accounts", "memberships", "heldOffers", "offers", "products", "outbox"} {
		for _, name := range []string{"insert", "update"} {
			assert.Zero(t, writes[storeproxy.Command{Name: name, Collection: col}], "%s %s on a restart", name, col)
		}
	}
	var v struct{ Viewer struct{ Email string } }
	again.Do(again.Token("lee@contoso.com"), `{ viewer { email } }`, nil).MustData(t, &v)
	assert.Equal(t, "lee@contoso.com", v.Viewer.Email)
}

// A first start that stopped after storing part of its fixture (killed before recording
// its grants and saving its marker) is completed by the next start before it answers:
// the held offers it did not store are stored, and every held offer's grants are in its
// tenant's ledger, once each and dense (R15), a held offer that was stored as it is
// stored (R20: it is left as it is), not as the fixture says.
func TestSeed_R15_R20_AFirstStartCutShortIsCompletedByTheNext(t *testing.T) {
	ctx := t.Context()
	proxy, db := startProxy(t), testenv.NewDatabaseName() // through the proxy: a start that loads the fixture itself
	st, err := mongodb.Open(ctx, proxy.URI(), db, mongodb.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	stats, err := seed.Load(ctx, st, fixture.Demo(), config.DevIssuer)
	require.NoError(t, err)
	require.Greater(t, len(stats.Held), 3)
	// What the cut-short start left: every other held offer not stored yet, and one that
	// was stored changed since.
	var lost []string
	for i, h := range stats.Held {
		if i%2 == 0 {
			lost = append(lost, h.ID)
		}
	}
	_, err = st.Database().Collection("heldOffers").DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: lost}}}})
	require.NoError(t, err)
	changed := stats.Held[1]
	_, err = st.Database().Collection("heldOffers").UpdateOne(ctx, bson.D{{Key: "_id", Value: changed.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "benefits.0.quota", Value: changed.Benefits[0].Quota + 3}}}})
	require.NoError(t, err)

	e := testenv.New(t, testenv.WithStoreURI(proxy.URI()), testenv.WithDatabase(db))
	assert.Contains(t, e.LogText(), "demo data loaded")
	held, err := st.HeldOffersOfTenants(ctx, stats.TenantIDs)
	require.NoError(t, err)
	require.Len(t, held, len(stats.Held), "the held offers the first start did not store are stored")
	for _, tid := range stats.TenantIDs {
		es, err := st.Events(ctx, tid, 0, 0, 1000, false)
		require.NoError(t, err)
		grants := map[string]domain.Event{}
		for i, ev := range es {
			require.EqualValues(t, i+1, ev.Seq, "%s: dense", tid)
			if ev.Kind == domain.EventGrant {
				require.NotContains(t, grants, ev.BenefitID, "%s: one grant per benefit", tid)
				grants[ev.BenefitID] = ev
			}
		}
		for _, h := range held {
			if h.TenantID != tid {
				continue
			}
			for _, b := range h.Benefits {
				require.Contains(t, grants, b.ID, "%s: the grant of %s is in the ledger", tid, b.ID)
				assert.Equal(t, b.Quota, grants[b.ID].Quota, "%s: granted as stored", b.ID)
			}
		}
	}
	hs, err := st.HeldOffersOfTenants(ctx, []string{changed.TenantID})
	require.NoError(t, err)
	for _, h := range hs {
		if h.ID == changed.ID {
			assert.Equal(t, changed.Benefits[0].Quota+3, h.Benefits[0].Quota, "the stored held offer is left as it is")
		}
	}
}
