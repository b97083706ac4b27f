package app_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
