package app_test

// Tests of the use cases (internal/service) over a real store (the embedded FerretDB): what the domain's
// unit tests cannot show, because it rests on the store's writes and indexes. They live
// here, not in internal/domain, so that the domain's own tests run in milliseconds.

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	tailspinCore    = "tailspin.partner_success_core.20260115.cloud_support"         // 2 incidents
	contosoSPDCloud = "contoso.solutions_partner_designation.20260901.cloud_support" // 50 incidents
	contosoExpanded = "contoso.partner_success_expanded.20260901.cloud_support"      // 5 incidents
)

// A create whose earlier attempt claimed an incident and then crashed (before inserting
// the request) completes on that claim: no read looks for it first, the claim's insert
// meets it under the request's ID. It completes even when the plan has no incident left
// now, takes no second incident, and the same key on another plan, or for a request that
// takes no incident, is refused as the key's reuse (R15, docs/crash-safety.md).
func TestR15_CreateAfterACrashAfterItsClaimCompletesOnThatClaim(t *testing.T) {
	e := testenv.New(t)
	ctx, svc, st := t.Context(), e.App.Service, e.App.Store
	account := func(email string) domain.Account {
		a, err := st.Account(ctx, domain.AccountID(config.DevIssuer, email))
		require.NoError(t, err)
		return a
	}
	isaiah, joni := account("isaiah@tailspintoys.com"), account("joni@tailspintoys.com")
	_, err := svc.Activate(ctx, isaiah, tailspinCore)
	require.NoError(t, err)
	in := func(key string) domain.CreateRequestInput {
		return domain.CreateRequestInput{IdempotencyKey: key, PlanID: tailspinCore, ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365,
			Type: domain.RequestTechnical, Title: "crashed after its claim"}
	}
	claims := func() int64 {
		n, err := st.Database().Collection("claims").CountDocuments(ctx, map[string]any{"benefitId": tailspinCore})
		require.NoError(t, err)
		return n
	}
	// The earlier attempt of "crashed-1": its claim, and nothing after it.
	id := domain.RequestID(joni.ID, "crashed-1")
	_, err = st.ClaimIncident(ctx, domain.Claim{RequestID: id, TenantID: "tailspin", BenefitID: tailspinCore, AccountID: joni.ID, At: testenv.DemoNow}, 2, false, 0)
	require.NoError(t, err)
	// Another request takes the plan's other incident: none is left now.
	_, err = svc.CreateRequest(ctx, isaiah, in("other-key-1"))
	require.NoError(t, err)
	require.EqualValues(t, 2, claims())
	_, err = svc.CreateRequest(ctx, joni, in("another-key-1"))
	require.Equal(t, domain.EEXHAUSTED, domain.ErrorCode(err), "%v", err)

	r, err := svc.CreateRequest(ctx, joni, in("crashed-1"))
	require.NoError(t, err, "the retry completes on the claim its earlier attempt made")
	assert.Equal(t, id, r.ID)
	assert.True(t, r.Consumed)
	assert.EqualValues(t, 2, claims(), "and takes no second incident")

	// The same key's earlier attempt claimed on one plan; used now for another plan, or
	// for a request that takes no incident, it is the key's reuse, and nothing is claimed.
	megan := account("megan@contoso.com")
	for _, b := range []string{contosoSPDCloud, contosoExpanded} {
		_, err = svc.Activate(ctx, megan, b)
		require.NoError(t, err)
	}
	id2 := domain.RequestID(megan.ID, "crashed-2")
	_, err = st.ClaimIncident(ctx, domain.Claim{RequestID: id2, TenantID: "contoso", BenefitID: contosoSPDCloud, AccountID: megan.ID, At: testenv.DemoNow}, 50, false, 0)
	require.NoError(t, err)
	other := in("crashed-2")
	other.PlanID = contosoExpanded
	_, err = svc.CreateRequest(ctx, megan, other)
	assert.Equal(t, domain.EKEYREUSED, domain.ErrorCode(err), "%v", err)
	// R17: takes no incident, so claims nothing (a partner-centre request, no plan)
	free := domain.CreateRequestInput{IdempotencyKey: "crashed-2", Portal: domain.PortalPartnerCenter, Type: domain.RequestPartnerProgram, Title: "t"}
	_, err = svc.CreateRequest(ctx, megan, free)
	assert.Equal(t, domain.EKEYREUSED, domain.ErrorCode(err), "%v", err)
	_, err = st.Request(ctx, id2)
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "no request under the reused key")
	n, err := st.Database().Collection("claims").CountDocuments(ctx, map[string]any{"benefitId": contosoExpanded})
	require.NoError(t, err)
	assert.Zero(t, n, "nothing claimed on the other plan")
	// The key on its own plan completes, on its claim.
	same := in("crashed-2")
	same.PlanID = contosoSPDCloud
	r, err = svc.CreateRequest(ctx, megan, same)
	require.NoError(t, err)
	assert.Equal(t, id2, r.ID)
	n, err = st.Database().Collection("claims").CountDocuments(ctx, map[string]any{"benefitId": contosoSPDCloud})
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

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

// R19, R21: the read view and the live feed remind the same benefits, fed the same state
// through the real paths (Service.Reminders; the sweep and the sequencer's ledger). A
// consultation benefit (R22) ending within the window is reminded on both; a
// pay-per-incident plan used up is reminded on neither (the feed used to send a
// low-balance reminder the read view never showed), and its ledger events carry one name.
func TestR19_ReadViewAndLiveFeedRemindTheSame(t *testing.T) {
	e := testenv.New(t)
	ctx, svc, st := t.Context(), e.App.Service, e.App.Store
	account := func(email string) domain.Account {
		a, err := st.Account(ctx, domain.AccountID(config.DevIssuer, email))
		require.NoError(t, err)
		return a
	}
	ledger := func(scope string) []domain.Event {
		evs, err := st.Events(ctx, scope, 0, 0, 1000, false)
		require.NoError(t, err)
		return evs
	}
	patti, sam := account("patti@fabrikam.com"), account("sam.freelancer@outlook.com")

	// A pay-per-incident plan, bought and used up.
	pp, err := svc.PurchasePayPerIncident(ctx, sam, "sql-server", "SQL Server 2019")
	require.NoError(t, err)
	_, err = svc.CreateRequest(ctx, sam, domain.CreateRequestInput{IdempotencyKey: "r19-ppi-0001", PlanID: pp.ID, ProductID: "sql-server",
		Version: "SQL Server 2019", Portal: domain.PortalServicesHub, Type: domain.RequestTechnical, Title: "old SQL"})
	require.NoError(t, err)
	require.NoError(t, svc.Sequence(ctx, domain.PPIScope(sam.ID)))
	names := map[domain.EventKind]string{}
	for _, ev := range ledger(domain.PPIScope(sam.ID)) {
		assert.NotEqual(t, domain.EventLow, ev.Kind, "a pay-per-incident plan is no tenant's benefit: no low-balance reminder")
		names[ev.Kind] = ev.PlanName
	}
	assert.Equal(t, map[domain.EventKind]string{domain.EventGrant: "Pay per incident: SQL Server", domain.EventConsume: "Pay per incident: SQL Server"}, names)

	// A consultation benefit, activated, then within the window before its end.
	const isv = "fabrikam.isv_success.20260301.isv_consultation"
	_, err = svc.Activate(ctx, patti, isv)
	require.NoError(t, err)
	e.Clock.Set(time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC)) // the year ends 2027-03-01
	require.NoError(t, svc.Sweep(ctx))
	read := map[string]bool{}
	rs, err := svc.Reminders(ctx, patti, "fabrikam")
	require.NoError(t, err)
	for _, r := range rs {
		if r.Kind == domain.ReminderEndingSoon {
			read[r.Benefit.ID] = true
		}
	}
	feed := map[string]bool{}
	for _, ev := range ledger("fabrikam") {
		if ev.Kind == domain.EventEnding {
			feed[ev.BenefitID] = true
		}
	}
	assert.True(t, read[isv], "the read view reminds the consultation benefit")
	assert.Equal(t, read, feed, "the live feed reminds what the read view shows")
}
