package app_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
	"github.com/partnersupport/api/internal/testenv/storeproxy"
)

// When the store is saturated (every pooled connection busy with a command that does not
// come back), a request waits --store-wait for a connection and is answered the coded,
// retryable UNAVAILABLE, counted in store_pool_exhausted_total: not a wait of the
// driver's 10 s followed by INTERNAL (issue 13). The commands held meanwhile complete
// once the store answers again.
func TestStoreWait_SaturatedStoreAnswersUnavailableQuickly(t *testing.T) {
	const wait = 300 * time.Millisecond
	proxy, e, tok := proxiedEnv(t, wait)

	// The store stops answering finds of requests: that many requests fill the pool. On a
	// loaded machine one of them can itself wait --store-wait for a connection (another's
	// sign-in read holds it) and be answered UNAVAILABLE before it reaches the store: it
	// asks again, as a client would, until the pool is full. The cleanup releases the
	// store first (cleanups run last-registered first), so that a failure below cannot
	// leave the server's shutdown waiting on held requests.
	proxy.Hold(func(c storeproxy.Command) bool { return c.Name == "find" && c.Collection == "requests" })
	t.Cleanup(proxy.Release)
	pool := poolSize(t, proxy.URI())
	var held sync.WaitGroup
	for range pool {
		held.Add(1)
		go func() {
			defer held.Done()
			for deadline := time.Now().Add(30 * time.Second); ; {
				errs := e.Do(tok, requestsQuery, nil).Errors
				if len(errs) == 1 && errs[0].Code() == "UNAVAILABLE" && proxy.Holding() && time.Now().Before(deadline) {
					continue
				}
				assert.Empty(t, errs, "a request held by the store completes once it answers")
				return
			}
		}()
	}
	testenv.WaitFor(t, 30*time.Second, "every pooled connection to be busy", func() bool { return proxy.Held() == pool })

	before := exhausted(t, e.Server.URL)
	start := time.Now()
	r := e.Do(tok, requestsQuery, nil)
	took := time.Since(start)
	require.Len(t, r.Errors, 1)
	assert.Equal(t, "UNAVAILABLE", r.Errors[0].Code(), "a saturated store is the coded, retryable UNAVAILABLE")
	assert.GreaterOrEqual(t, took, wait, "it waited --store-wait for a connection")
	assert.Less(t, took, wait+2*time.Second, "and no longer (the driver's own wait is 10 s)")
	assert.Greater(t, exhausted(t, e.Server.URL), before, "store_pool_exhausted_total counts it")
	t.Logf("answered %s after %s with --store-wait %s", r.Errors[0].Code(), took.Round(time.Millisecond), wait)

	proxy.Release()
	held.Wait()
	assert.Empty(t, e.Do(tok, requestsQuery, nil).Errors, "answers again")
}

// requestsQuery reads lee's requests: the store's requests and nothing else the tests hold.
const requestsQuery = `{ supportRequests(portal: AZURE, first: 5) { edges { node { id } } } }`

// proxiedEnv starts a server whose store is behind a proxy that can hold commands, with
// --store-wait wait, checks that it answers, and returns lee's token.
func proxiedEnv(t *testing.T, wait time.Duration) (*storeproxy.Proxy, *testenv.Env, string) {
	t.Helper()
	proxy := startProxy(t)
	e := testenv.New(t, testenv.WithStoreURI(proxy.URI()), testenv.WithStoreWait(wait))
	tok := e.Token("lee@contoso.com")
	require.Empty(t, e.Do(tok, requestsQuery, nil).Errors, "answers while the store does")
	return proxy, e, tok
}

// poolSize is the maxPoolSize of a URI (the embedded store's sets it), or the driver's
// default of 100.
func poolSize(t *testing.T, uri string) int {
	u, err := url.Parse(uri)
	require.NoError(t, err)
	if v := u.Query().Get("maxPoolSize"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return n
	}
	return 100
}

var exhaustedRE = regexp.MustCompile(`(?m)^store_pool_exhausted_total (\d+)`)

// exhausted reads store_pool_exhausted_total from /metrics.
func exhausted(t *testing.T, base string) int {
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := exhaustedRE.FindSubmatch(b)
	require.NotNil(t, m, "store_pool_exhausted_total in /metrics")
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n
}

// startProxy starts a store proxy in front of the shared store, closed with the test.
func startProxy(t *testing.T) *storeproxy.Proxy {
	t.Helper()
	proxy, err := storeproxy.Start(testenv.StoreURI(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	return proxy
}

// A burst of subscriptions opening at once (a fleet of dashboards connecting, every client
// reconnecting after a deploy) takes turns to authorise against the store (feed.Hub.Admit):
// it neither holds every pooled connection, which would make other requests wait
// --store-wait and be answered UNAVAILABLE, nor gets UNAVAILABLE itself; every one opens
// once the store answers. The store holds the opens' membership reads meanwhile, so the
// burst is as concurrent as it can be.
func TestFeed_BurstOfOpensTakesTurnsAndLeavesThePoolToOtherRequests(t *testing.T) {
	const wait = 300 * time.Millisecond
	proxy, e, tok := proxiedEnv(t, wait)

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
	r := e.Do(tok, requestsQuery, nil)
	assert.Empty(t, r.Errors, "a request made during the burst finds a free connection")
	assert.Less(t, time.Since(start), wait, "without waiting --store-wait for one")
	assert.Less(t, proxy.Held(), poolSize(t, proxy.URI()), "the opens hold fewer connections than the pool has")

	proxy.Release()
	testenv.WaitFor(t, 30*time.Second, "every subscription to open, or one to be refused", func() bool {
		return e.App.Feed.Subscribers() == n || refused.Load() > 0
	})
	assert.Zero(t, refused.Load(), "no open of the burst is refused")
	assert.Equal(t, n, e.App.Feed.Subscribers())
	assert.Empty(t, e.Do(tok, requestsQuery, nil).Errors, "answers after the burst")
}
