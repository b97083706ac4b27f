package graph_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

const balanceSub = `subscription($t: ID!, $a: String) { incidentBalanceChanged(tenantId: $t, after: $a) {
	cursor seq kind benefitId planName remaining total used unlimited cause requestId actorId at } }`

type balanceEvent struct {
	Cursor    string
	Seq       int
	Kind      string
	BenefitID *string
	Remaining *int
	Used      int
	Cause     *string
	RequestID *string
	ActorID   *string
}

// subscribe opens a websocket subscription and returns a function reading its next event.
func subscribe(t *testing.T, e *testenv.Env, proto, token, tenant string, after *string) (*testenv.WS, func() (balanceEvent, []testenv.Error)) {
	t.Helper()
	ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", proto, "")
	require.NoError(t, err)
	ws.Init(token)
	vars := map[string]any{"t": tenant}
	if after != nil {
		vars["a"] = *after
	}
	ws.Start("1", balanceSub, vars)
	return ws, func() (balanceEvent, []testenv.Error) {
		t.Helper()
		data, errs, err := ws.Result(15 * time.Second)
		require.NoError(t, err)
		if len(errs) > 0 {
			return balanceEvent{}, errs
		}
		var out struct{ IncidentBalanceChanged balanceEvent }
		require.NoError(t, json.Unmarshal(data, &out))
		return out.IncidentBalanceChanged, nil
	}
}

// joined waits until the server's feed has n subscribers: a subscription with no cursor
// receives what is sequenced after it joins, so a test that acts right after subscribing
// waits for that first.
func joined(t *testing.T, e *testenv.Env, n int) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "the subscription to join the feed", func() bool { return e.App.Feed.Subscribers() == n })
}

// nextFor reads events until one about the benefit arrives.
func nextFor(t *testing.T, next func() (balanceEvent, []testenv.Error), benefit string) balanceEvent {
	t.Helper()
	for {
		ev, errs := next()
		require.Empty(t, errs)
		if ev.BenefitID != nil && key(*ev.BenefitID) == benefit {
			return ev
		}
	}
}

func TestLive_SubscriberSeesCreateRefundActivationExpiryInCommitOrder(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{testenv.TransportWS, testenv.LegacyWS} {
		t.Run(proto, func(t *testing.T) {
			e := testenv.New(t)
			_, next := subscribe(t, e, proto, e.Token(lee), "contoso", nil)
			joined(t, e, 1)
			c := activated(t, e, contosoExpanded) // ACTIVATE
			require.Empty(t, link(t, e, e.Token(lee), c, "AZURE", false).UserErrors)
			r := create(t, e, e.Token(lee), azureRequest("live-0001", contosoExpanded)) // CONSUME
			closeReq(t, e, e.ProviderToken(acme), r.Request.ID, "DUPLICATE")            // REFUND (the provider's finding, R25)
			e.Clock.Set(time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC))
			e.Upkeep(t) // the server's next sweep: EXPIRE (and reminders)
			var kinds []string
			var remaining []int
			last := 0
			for len(kinds) == 0 || kinds[len(kinds)-1] != "EXPIRE" {
				ev := nextFor(t, next, contosoExpanded)
				assert.Greater(t, ev.Seq, last, "commit order")
				last = ev.Seq
				if ev.Kind == "REMINDER_ENDING_SOON" || ev.Kind == "REMINDER_LOW_BALANCE" {
					continue
				}
				kinds = append(kinds, ev.Kind)
				remaining = append(remaining, *ev.Remaining)
			}
			assert.Equal(t, []string{"ACTIVATE", "CONSUME", "REFUND", "EXPIRE"}, kinds)
			assert.Equal(t, []int{5, 4, 5, 5}, remaining)
		})
	}
}

func TestLive_SSEDeliversEvents(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoExpanded)
	require.Empty(t, link(t, e, e.Token(lee), c, "AZURE", false).UserErrors)
	body, _ := json.Marshal(map[string]any{"query": balanceSub, "variables": map[string]any{"t": "contoso"}})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/query", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+e.Token(lee))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/event-stream")
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	testenv.WaitFor(t, 10*time.Second, "the SSE subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })
	create(t, e, e.Token(lee), azureRequest("sse-000001", contosoExpanded))
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "stream ended")
			if strings.HasPrefix(l, "data:") && strings.Contains(l, `"CONSUME"`) {
				assert.Contains(t, l, `"remaining":4`)
				return
			}
		case <-deadline:
			t.Fatal("no CONSUME event over SSE")
		}
	}
}

func TestLive_ReplayFromCursorHasNoGapAndNoDuplicate(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	ws, next := subscribe(t, e, testenv.TransportWS, tok, "contoso", ptrTo("s0"))
	var seqs []int
	var cursor string
	// Everything from the start: grants, the activation.
	testenv.WaitFor(t, 10*time.Second, "the replay to reach the activation", func() bool {
		ev, errs := next()
		require.Empty(t, errs)
		seqs = append(seqs, ev.Seq)
		cursor = ev.Cursor
		return ev.Kind == "ACTIVATE"
	})
	for i, s := range seqs {
		assert.Equal(t, i+1, s, "a replay from the start has every sequence number once")
	}
	_ = ws.Conn.Close(coderws.StatusNormalClosure, "bye")
	// While disconnected, three changes.
	for i := range 3 {
		create(t, e, tok, azureRequest(fmt.Sprintf("missed-%04d", i), contosoExpanded))
	}
	_, next2 := subscribe(t, e, testenv.TransportWS, tok, "contoso", &cursor)
	last := seqs[len(seqs)-1]
	for range 3 {
		ev := nextFor(t, next2, contosoExpanded)
		assert.Equal(t, "CONSUME", ev.Kind)
		assert.Equal(t, last+1, ev.Seq, "the next one after the cursor, no gap, no duplicate")
		last = ev.Seq
	}
}

func TestLive_NonMemberIsRefused(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	for _, tenant := range []string{"contoso", "no-such-tenant"} {
		_, next := subscribe(t, e, testenv.TransportWS, e.Token(patti), tenant, nil)
		_, errs := next()
		require.NotEmpty(t, errs, tenant)
		assert.Equal(t, "FORBIDDEN", errs[0].Code(), "the same answer whether or not %s exists", tenant)
	}
	ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	ws.Init("")
	ws.Start("1", balanceSub, map[string]any{"t": "contoso"})
	_, errs, err := ws.Result(10 * time.Second)
	require.NoError(t, err)
	require.NotEmpty(t, errs)
	assert.Equal(t, "UNAUTHENTICATED", errs[0].Code())
}

func TestLive_OutsideUserSeesOnlyThePlanItLinked(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	exp := activated(t, e, contosoExpanded)
	spd := activated(t, e, contosoSPDCloud)
	require.Empty(t, link(t, e, e.Token(sam), exp, "AZURE", false).UserErrors)
	require.Empty(t, link(t, e, e.Token(lee), spd, "AZURE", false).UserErrors)
	_, next := subscribe(t, e, testenv.TransportWS, e.Token(sam), "contoso", nil)
	joined(t, e, 1)
	create(t, e, e.Token(lee), azureRequest("other-plan-1", contosoSPDCloud))
	create(t, e, e.Token(sam), azureRequest("sams-plan-01", contosoExpanded))
	ev, errs := next()
	require.Empty(t, errs)
	require.NotNil(t, ev.BenefitID)
	assert.Equal(t, contosoExpanded, key(*ev.BenefitID), "the other plan's consumption is not shown")
	assert.Equal(t, "CONSUME", ev.Kind)
}

func ptrTo(s string) *string { return &s }

func TestR19_RemindersArriveOnTheLiveFeed(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee) // 5 incidents; low threshold 2
	tok := e.Token(lee)
	_, next := subscribe(t, e, testenv.TransportWS, tok, "contoso", nil)
	joined(t, e, 1)
	for i := range 3 {
		create(t, e, tok, azureRequest(fmt.Sprintf("low-%06d", i), contosoExpanded))
	}
	var kinds []string
	for len(kinds) == 0 || kinds[len(kinds)-1] != "REMINDER_LOW_BALANCE" {
		ev := nextFor(t, next, contosoExpanded)
		kinds = append(kinds, ev.Kind)
		if ev.Kind == "REMINDER_LOW_BALANCE" {
			assert.Equal(t, 2, *ev.Remaining, "reminded when the balance reaches the threshold")
		}
	}
	assert.Equal(t, []string{"CONSUME", "CONSUME", "CONSUME", "REMINDER_LOW_BALANCE"}, kinds)
	// Entering the 30-day window before the end date.
	e.Clock.Set(time.Date(2027, 8, 10, 0, 0, 0, 0, time.UTC))
	e.Upkeep(t)
	ev := nextFor(t, next, contosoExpanded)
	assert.Equal(t, "REMINDER_ENDING_SOON", ev.Kind)
	e.Upkeep(t)
	create(t, e, tok, azureRequest("after-sweep-1", contosoExpanded))
	ev = nextFor(t, next, contosoExpanded)
	assert.Equal(t, "CONSUME", ev.Kind, "a second sweep reminds nothing twice")
}

func TestLive_SubscribingFromLedgerCursorMissesNothing(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoExpanded, lee)
	tok := e.Token(lee)
	var snap struct {
		Tenant struct {
			LedgerCursor string
			Benefits     []benefit
		}
	}
	e.Do(tok, `{ tenant(id: "contoso") { ledgerCursor benefits { id incidents { remaining } } } }`, nil).MustData(t, &snap)
	// A change lands between the read and the subscription.
	create(t, e, tok, azureRequest("between-0001", contosoExpanded))
	_, next := subscribe(t, e, testenv.TransportWS, tok, "contoso", &snap.Tenant.LedgerCursor)
	ev := nextFor(t, next, contosoExpanded)
	assert.Equal(t, "CONSUME", ev.Kind)
	assert.Equal(t, 4, *ev.Remaining)
}
