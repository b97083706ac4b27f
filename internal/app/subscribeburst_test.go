package app_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
	"github.com/partnersupport/api/internal/testenv/storeproxy"
)

// A burst of subscriptions opening at once (a fleet of dashboards connecting, every client
// reconnecting after a deploy) takes turns to authorise against the store (feed.Hub.Admit):
// it neither holds every pooled connection, which would make other requests wait
// --store-wait and be answered UNAVAILABLE, nor gets UNAVAILABLE itself; every one opens
// once the store answers. The store holds the opens' membership reads meanwhile, so the
// burst is as concurrent as it can be.
func TestFeed_BurstOfOpensTakesTurnsAndLeavesThePoolToOtherRequests(t *testing.T) {
	proxy := startProxy(t)
	const wait = 300 * time.Millisecond
	e := testenv.New(t, testenv.WithStoreURI(proxy.URI()), testenv.WithStoreWait(wait))
	tok := e.Token("lee@contoso.com")
	const query = `{ supportRequests(portal: AZURE, first: 5) { edges { node { id } } } }`
	require.Empty(t, e.Do(tok, query, nil).Errors, "answers while the store does")

	n := 2*poolSize(t, proxy.URI()) + 4 // more opens than pooled connections
	wss := make([]*testenv.WS, n)
	for i := range wss {
		ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
		require.NoError(t, err)
		ws.Init(tok)
		wss[i] = ws
	}
	proxy.Hold(func(c storeproxy.Command) bool { return c.Name == "find" && c.Collection == "memberships" })
	t.Cleanup(proxy.Release)
	var refused atomic.Int64
	for _, ws := range wss {
		ws.Start("1", balanceSub, map[string]any{"t": "contoso"})
		go func() { // the first message would be a refusal: no event is recorded
			if _, errs, err := ws.Result(time.Minute); err == nil && len(errs) > 0 {
				t.Logf("open refused: %v", errs)
				refused.Add(1)
			}
		}()
	}
	testenv.WaitFor(t, 30*time.Second, "the burst to reach the store", func() bool { return proxy.Held() > 0 })

	start := time.Now()
	r := e.Do(tok, query, nil)
	assert.Empty(t, r.Errors, "a request made during the burst finds a free connection")
	assert.Less(t, time.Since(start), wait, "without waiting --store-wait for one")
	assert.Less(t, proxy.Held(), poolSize(t, proxy.URI()), "the opens hold fewer connections than the pool has")

	proxy.Release()
	testenv.WaitFor(t, 30*time.Second, "every subscription to open, or one to be refused", func() bool {
		return e.App.Feed.Subscribers() == n || refused.Load() > 0
	})
	assert.Zero(t, refused.Load(), "no open of the burst is refused")
	assert.Equal(t, n, e.App.Feed.Subscribers())
	assert.Empty(t, e.Do(tok, query, nil).Errors, "answers after the burst")
}
