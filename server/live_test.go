package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

const balanceSub = `subscription($t: ID!, $a: String) { incidentBalanceChanged(tenantId: $t, after: $a) { cursor seq kind benefitId remaining requestId } }`

type liveEvent struct {
	Cursor    string
	Seq       int
	Kind      string
	BenefitID *string
	Remaining *int
}

func liveSubscribe(t *testing.T, addr, token string, after *string) (*testenv.WS, func() liveEvent) {
	t.Helper()
	ws, _, err := testenv.DialWS(t, "http://"+addr+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	ws.Init(token)
	vars := map[string]any{"t": "contoso"}
	if after != nil {
		vars["a"] = *after
	}
	ws.Start("1", balanceSub, vars)
	return ws, func() liveEvent {
		t.Helper()
		for {
			data, errs, err := ws.Result(20 * time.Second)
			require.NoError(t, err)
			require.Empty(t, errs)
			var out struct{ IncidentBalanceChanged liveEvent }
			require.NoError(t, json.Unmarshal(data, &out))
			ev := out.IncidentBalanceChanged
			if ev.BenefitID != nil && *ev.BenefitID == graph.GlobalID("Benefit", expanded) && ev.Kind != "REMINDER_LOW_BALANCE" {
				return ev
			}
		}
	}
}

func TestLive_SubscriberOnProcessBSeesAChangeMadeOnProcessA(t *testing.T) {
	c := newCluster(t, 2)
	lee := c.setup(expanded)
	_, next := liveSubscribe(t, c.apis[1].Addr, lee, nil)
	var r createResult
	testenv.Post(t, c.url(0), lee, createMutation, createInput("cross-0001", expanded)).MustData(t, &r)
	require.NotNil(t, r.CreateSupportRequest.Request)
	ev := next()
	assert.Equal(t, "CONSUME", ev.Kind)
	assert.Equal(t, 4, *ev.Remaining)
}

func TestLive_ReconnectAfterRestartReceivesExactlyTheMissedEvents(t *testing.T) {
	c := newCluster(t, 2)
	lee := c.setup(expanded)
	ws, next := liveSubscribe(t, c.apis[0].Addr, lee, nil)
	var r createResult
	testenv.Post(t, c.url(0), lee, createMutation, createInput("restart-0001", expanded)).MustData(t, &r)
	first := next()
	require.Equal(t, "CONSUME", first.Kind)
	// Instance A restarts: the subscriber is told to go away (1001)...
	require.Equal(t, 0, c.apis[0].Stop(30*time.Second))
	assert.Equal(t, coderws.StatusGoingAway, ws.CloseStatus(10*time.Second))
	// ...while changes go on through instance B.
	for i := range 3 {
		testenv.Post(t, c.url(1), lee, createMutation, createInput(fmt.Sprintf("restart-%04d", i+2), expanded)).MustData(t, &r)
		require.NotNil(t, r.CreateSupportRequest.Request)
	}
	c.apis[0] = c.startAPI()
	_, next2 := liveSubscribe(t, c.apis[0].Addr, lee, &first.Cursor)
	want := []int{3, 2, 1}
	last := first.Seq
	for _, rem := range want {
		ev := next2()
		assert.Equal(t, "CONSUME", ev.Kind)
		assert.Equal(t, rem, *ev.Remaining, "exactly the missed events, in order")
		assert.Greater(t, ev.Seq, last, "no duplicate")
		last = ev.Seq
	}
	// And then live again.
	testenv.Post(t, c.url(1), lee, createMutation, createInput("restart-0009", expanded)).MustData(t, &r)
	ev := next2()
	assert.Equal(t, 0, *ev.Remaining)
}
