package app_test

// Tests of activation over a real store: its contract under the unique key when many
// admins of two instances race, and its ledger event, appended without the outbox when
// nothing of the tenant waits there, and after what does (R4, R15).

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/cache"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// Many goroutines of two instances (each with the cache in front of the store, as the
// server wires it) activate the same benefits at once, two admins each: every benefit
// gets exactly one contract, one Access ID and one Contract ID, which every activation
// answers with, and exactly one activation event in a dense ledger, with the outbox
// empty (R4, R15).
func TestR4_ConcurrentActivationsInTwoInstancesYieldOneContractAndOneEvent(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	ctx, st := t.Context(), e.App.Store
	admins := make([]domain.Account, 2)
	for i, email := range []string{"megan@contoso.com", "alex@contoso.com"} {
		a, err := st.Account(ctx, domain.AccountID(config.DevIssuer, email))
		require.NoError(t, err)
		admins[i] = a
	}
	instances := []*service.Service{e.App.Service, service.New(cache.New(st, 0, 0), service.Options{Now: e.Clock.Now})}
	benefits := []string{contosoSPDCloud, contosoExpanded}
	const perBenefit = 16
	views := make([][]domain.BenefitView, len(benefits))
	var wg sync.WaitGroup
	for bi, b := range benefits {
		views[bi] = make([]domain.BenefitView, perBenefit)
		for i := range perBenefit {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := instances[i%2].Activate(ctx, admins[(i/2)%2], b)
				if assert.NoError(t, err) {
					views[bi][i] = v
				}
			}()
		}
	}
	wg.Wait()
	for bi, b := range benefits {
		c, err := st.Contract(ctx, b)
		require.NoError(t, err)
		require.NotEmpty(t, c.AccessID)
		n, err := st.Database().Collection("contracts").CountDocuments(ctx, map[string]any{"benefitId": b})
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "one contract for %s", b)
		for i, v := range views[bi] {
			require.NotNil(t, v.Contract, "activation %d of %s answers with the IDs", i, b)
			assert.Equal(t, c.AccessID, v.Contract.AccessID, "one Access ID")
			assert.Equal(t, c.ContractID, v.Contract.ContractID, "one Contract ID")
		}
	}
	es, err := st.Events(ctx, "contoso", 0, 0, 100000, false)
	require.NoError(t, err)
	activations := map[string]int{}
	for i, ev := range es {
		require.EqualValues(t, i+1, ev.Seq, "sequence numbers are dense")
		if ev.Kind == domain.EventActivate {
			activations[ev.BenefitID]++
		}
	}
	for _, b := range benefits {
		assert.Equal(t, 1, activations[b], "one activation event for %s", b)
	}
	pending, err := st.PendingEvents(ctx, "contoso", 10)
	require.NoError(t, err)
	assert.Empty(t, pending, "the outbox is empty")
}

// An event that waits in the tenant's outbox (its change answered, its sequencing
// failed) is sequenced before a later activation's event: the activation does not
// append past it, so the ledger keeps the order in which changes answered (R15).
func TestR15_ActivationEventFollowsWhatWaitsInTheOutbox(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	ctx, st := t.Context(), e.App.Store
	megan, err := st.Account(ctx, domain.AccountID(config.DevIssuer, "megan@contoso.com"))
	require.NoError(t, err)
	waiting := domain.Event{ID: "waiting-in-outbox", TenantID: "contoso", Kind: domain.EventConsume, BenefitID: "outbox-test",
		At: testenv.DemoNow.Add(-time.Minute), Delta: -1, Quota: 10}
	require.NoError(t, st.RecordEvent(ctx, waiting)) // recorded, never sequenced
	_, err = e.App.Service.Activate(ctx, megan, contosoSPDCloud)
	require.NoError(t, err)
	es, err := st.Events(ctx, "contoso", 0, 0, 100000, false)
	require.NoError(t, err)
	seq := map[string]int64{}
	for _, ev := range es {
		seq[ev.ID] = ev.Seq
	}
	require.Contains(t, seq, waiting.ID, "the waiting event is sequenced with the activation's")
	require.Contains(t, seq, "activate/"+contosoSPDCloud)
	assert.Less(t, seq[waiting.ID], seq["activate/"+contosoSPDCloud], "in the order the changes answered")
	pending, err := st.PendingEvents(ctx, "contoso", 10)
	require.NoError(t, err)
	assert.Empty(t, pending, "the outbox is empty")
}
