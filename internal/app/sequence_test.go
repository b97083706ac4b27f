package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// failingAppends is a store whose next appends to the ledger fail, as a saturated store's
// would.
type failingAppends struct {
	domain.Store
	fail atomic.Int64
}

func (s *failingAppends) AppendEvents(ctx context.Context, es []domain.Event) (int, error) {
	if s.fail.Add(-1) >= 0 {
		return 0, &domain.Error{Code: domain.EUNAVAILABLE, Message: "append events: the store is busy; try again"}
	}
	return s.Store.AppendEvents(ctx, es)
}

// R15, R16: an event whose sequencing round failed is not left in the outbox for the
// minute sweep: the round is tried again at once, with backoff, while nobody waits, and the
// ledger gets the event (and the live feed with it) as soon as the store answers again.
func TestR15_AFailedSequencingRoundIsRetriedWithoutAnyoneWaiting(t *testing.T) {
	e := testenv.New(t)
	st := &failingAppends{Store: e.App.Store}
	st.fail.Store(2) // the first round and its first retry fail
	svc := service.New(st, service.Options{Now: e.Clock.Now})
	ev := domain.Event{ID: "consume/retried", TenantID: "contoso", Kind: domain.EventConsume, BenefitID: "contoso.test.retried",
		PlanName: "test", RequestID: "retried", ActorID: "test", At: testenv.DemoNow, Delta: -1, Quota: 5}
	require.NoError(t, st.RecordEvent(t.Context(), ev))
	err := svc.Sequence(t.Context(), ev.TenantID)
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "the round failed")
	// The round appends the event, then drops it from the outbox: wait for both.
	testenv.WaitFor(t, 5*time.Second, "the retried round to sequence the event and empty the outbox", func() bool {
		ok, err := st.EventSequenced(t.Context(), ev.TenantID, ev.ID)
		pending, perr := st.PendingEvents(t.Context(), ev.TenantID, 10)
		return err == nil && ok && perr == nil && len(pending) == 0
	})
	require.Negative(t, st.fail.Load(), "the store was asked again after the failures")
}
