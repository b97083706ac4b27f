package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/testenv"
)

// The live feed's backpressure, end to end from the ledger to the websocket. The burst is
// written into the store directly: 300 ledger events with 2 KiB of reason each, which
// outgrow a stalled client's socket buffers. No operation of the API writes events that
// large or that many at once, so the test lives here, beside the store, not in graph/.

const balanceSub = `subscription($t: ID!) { incidentBalanceChanged(tenantId: $t) { seq kind benefitId remaining } }`

func TestLive_StalledClientIsDroppedWhileAnotherStillReceives(t *testing.T) {
	t.Parallel()
	e := testenv.NewWithSmallSendBuffers(t, testenv.WithFeed(4, 2*time.Second))
	tok := e.Token("lee@contoso.com")
	stalled, err := testenv.DialWSSmallBuffer(t, e.Server.URL+"/query", testenv.TransportWS)
	require.NoError(t, err)
	stalled.Init(tok)
	stalled.Start("1", balanceSub, map[string]any{"t": "contoso"})
	healthy, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	healthy.Init(tok)
	healthy.Start("1", balanceSub, map[string]any{"t": "contoso"})
	testenv.WaitFor(t, 10*time.Second, "both subscriptions to register", func() bool { return e.App.Feed.Subscribers() == 2 })
	// The healthy client reads as events come; the stalled one reads none of them.
	const n = 300
	received := make(chan error, 1)
	go func() {
		for got := 0; got < n; {
			data, errs, err := healthy.Result(30 * time.Second)
			if err != nil || len(errs) > 0 {
				received <- fmt.Errorf("healthy subscriber: %v %v", err, errs)
				return
			}
			if strings.Contains(string(data), `"benefitId":"`+graph.GlobalID("Benefit", "burst")+`"`) {
				got++
			}
		}
		received <- nil
	}()
	// As soon as the stalled one is dropped it reads again: it drains what was in flight
	// and gets the close frame (the server gives a stalled peer 5 s to take it, then just
	// closes the connection).
	type closeResult struct {
		code coderws.StatusCode
		err  error
	}
	closed := make(chan closeResult, 1)
	go func() {
		deadline := time.Now().Add(60 * time.Second)
		for e.App.Feed.Dropped() == 0 {
			if time.Now().After(deadline) {
				closed <- closeResult{err: fmt.Errorf("the stalled subscriber was never dropped")}
				return
			}
			<-time.After(10 * time.Millisecond)
		}
		closed <- closeResult{code: stalled.CloseStatus(20 * time.Second)}
	}()
	big := strings.Repeat("x", 2<<10) // 300 of these outgrow the capped socket buffers
	for i := range n {
		require.NoError(t, e.App.Store.RecordEvent(t.Context(), domain.Event{ID: fmt.Sprintf("burst/%d", i), TenantID: "contoso",
			Kind: domain.EventGrant, BenefitID: "burst", Reason: big, At: testenv.DemoNow, Quota: 1}))
		if i%20 == 0 {
			require.NoError(t, e.App.Service.Sequence(t.Context(), "contoso"))
		}
	}
	require.NoError(t, e.App.Service.Sequence(t.Context(), "contoso"))
	require.NoError(t, <-received, "the healthy subscriber receives every event")
	status := <-closed
	require.NoError(t, status.err)
	assert.Equal(t, coderws.StatusCode(1013), status.code, "dropped with 'try again later'")
	testenv.WaitFor(t, 10*time.Second, "the stalled subscription to be gone", func() bool { return e.App.Feed.Subscribers() == 1 })
}
