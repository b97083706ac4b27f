package domain_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/testenv"
)

// R15, R19: the event of a change that is already written reaches the ledger (and so the
// live feed) even when its caller has gone: a client that disconnects between its
// request's insert and the event cancels the request's context, and the event must not
// wait for the next start-up's repair.
func TestR15_EventOfAWrittenChangeIsRecordedAfterTheCallerLeaves(t *testing.T) {
	e := testenv.New(t)
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	ev := domain.Event{ID: "consume/left-early", TenantID: "contoso", Kind: domain.EventConsume, BenefitID: "contoso.test.left_early",
		PlanName: "test", RequestID: "left-early", ActorID: "test", At: time.Now().UTC(), Delta: -1, Quota: 5}
	e.App.Service.Record(gone, ev)
	ok, err := e.App.Store.EventSequenced(t.Context(), ev.TenantID, ev.ID)
	require.NoError(t, err)
	require.True(t, ok, "the event is in the ledger")
}
