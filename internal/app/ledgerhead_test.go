package app_test

// Tests of the ledger's sequencing and of the sweep through the service over a real
// store: several instances sharing one ledger, stale saved heads, and what the sweep writes.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// consume records and sequences one consumption of the test benefit through svc.
func consume(t *testing.T, st domain.Store, svc *service.Service, id string) {
	t.Helper()
	e := domain.Event{ID: id, TenantID: "contoso", Kind: domain.EventConsume, BenefitID: "ledger-head-test", At: testenv.DemoNow, Delta: -1, Quota: 1000}
	require.NoError(t, st.RecordEvent(t.Context(), e))
	require.NoError(t, svc.Sequence(t.Context(), "contoso"))
}

// requireDenseLedger checks contoso's ledger: sequence numbers 1..n with no gap or
// duplicate, the test benefit's used count rising by one per event, each ID once, and an
// empty outbox.
func requireDenseLedger(t *testing.T, st domain.Store, wantTest int) {
	t.Helper()
	es, err := st.Events(t.Context(), "contoso", 0, 0, 100000, false)
	require.NoError(t, err)
	seen, used := map[string]bool{}, 0
	for i, e := range es {
		require.EqualValues(t, i+1, e.Seq, "sequence numbers are dense")
		require.False(t, seen[e.ID], "event %s sequenced twice", e.ID)
		seen[e.ID] = true
		if e.BenefitID == "ledger-head-test" {
			used++
			require.Equal(t, used, e.Used, "event %s (seq %d) counts every earlier consumption", e.ID, e.Seq)
			require.Equal(t, 1000-used, e.Remaining)
		}
	}
	assert.Equal(t, wantTest, used)
	pending, err := st.PendingEvents(t.Context(), "contoso", 10)
	require.NoError(t, err)
	assert.Empty(t, pending, "the outbox is empty")
}

// Two instances sequence one tenant, each with the ledger head it saw last; a saved head
// older than the ledger (a crash after an append, or an older save winning a race) must
// cost a retry, never a wrong balance (R15, R16: balances on the ledger).
func TestLedgerHead_TwoInstancesAndStaleHeadsKeepTheLedgerDense(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	st := e.App.Store
	a := e.App.Service
	b := service.New(st, service.Options{Now: e.Clock.Now})
	n := 0
	for i := range 10 { // alternating: each append of one collides with the other's head
		svc := a
		if i%2 == 1 {
			svc = b
		}
		consume(t, st, svc, fmt.Sprintf("alt/%d", i))
		n++
	}
	requireDenseLedger(t, st, n)

	old, err := st.FoldLedger(t.Context(), "contoso")
	require.NoError(t, err)
	for i := range 3 {
		consume(t, st, a, fmt.Sprintf("more/%d", i))
		n++
	}
	require.NoError(t, st.SaveLedgerHead(t.Context(), old)) // an older head saved last
	c := service.New(st, service.Options{Now: e.Clock.Now})
	consume(t, st, c, "after-stale-save") // a new instance starts from the stale saved head
	n++
	consume(t, st, b, "b-after-stale-save") // b's own head is stale too
	n++
	requireDenseLedger(t, st, n)

	var wg sync.WaitGroup
	var k atomic.Int64
	for g := range 12 { // racing, in both instances
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := []*service.Service{a, b, c}[g%3]
			for range 5 {
				id := fmt.Sprintf("race/%d", k.Add(1))
				ev := domain.Event{ID: id, TenantID: "contoso", Kind: domain.EventConsume, BenefitID: "ledger-head-test", At: testenv.DemoNow, Delta: -1, Quota: 1000}
				if err := st.RecordEvent(context.Background(), ev); err != nil {
					t.Error(err)
					return
				}
				if err := svc.Sequence(context.Background(), "contoso"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	requireDenseLedger(t, st, n+60)
}

// A ledger whose saved head is missing (its save failed, or was never made) is sequenced
// from an empty ledger's head: the append at seq 1 collides on the unique (scope, seq) key
// and the sequencer catches up from the ledger, never giving a number twice or a wrong
// balance (R15).
func TestLedgerHead_MissingSavedHeadCollidesAndCatchesUp(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	st := e.App.Store
	for i := range 3 {
		consume(t, st, e.App.Service, fmt.Sprintf("before/%d", i))
	}
	_, err := st.Database().Collection("ledgerHeads").DeleteOne(t.Context(), bson.D{{Key: "_id", Value: "contoso"}})
	require.NoError(t, err)
	_, err = st.LedgerHead(t.Context(), "contoso")
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "no saved head")
	fresh := service.New(st, service.Options{Now: e.Clock.Now}) // knows no head either
	consume(t, st, fresh, "after-lost-head")
	requireDenseLedger(t, st, 4)
	h, err := st.LedgerHead(t.Context(), "contoso")
	require.NoError(t, err, "the head is saved again")
	last, err := st.LastEvent(t.Context(), "contoso")
	require.NoError(t, err)
	assert.Equal(t, last.Seq, h.Seq)
}

// countingStore counts the events recorded through it.
type countingStore struct {
	domain.Store
	recorded atomic.Int64
}

func (s *countingStore) RecordEvent(ctx context.Context, e domain.Event) error {
	s.recorded.Add(1)
	return s.Store.RecordEvent(ctx, e)
}

// The sweep records what time caused once (R19, R24): an event already in the ledger is
// looked up by its key and not recorded again.
func TestLedger_SweepRecordsNothingTheLedgerHas(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	cs := &countingStore{Store: e.App.Store}
	svc := service.New(cs, service.Options{Now: e.Clock.Now, Reminders: domain.ReminderPolicy{Window: 30 * 24 * time.Hour, LowThreshold: 2}})
	e.Clock.Advance(400 * 24 * time.Hour) // a year on: current benefits expire, and reminders fall due
	require.NoError(t, svc.Sweep(t.Context()))
	first := cs.recorded.Load()
	require.Positive(t, first, "a year on, the sweep records expiries")
	require.NoError(t, svc.Sweep(t.Context()))
	assert.Equal(t, first, cs.recorded.Load(), "the second sweep records nothing")
}
