package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/testenv"
)

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
	_, err = st.ClaimIncident(ctx, domain.Claim{RequestID: id, TenantID: "tailspin", BenefitID: tailspinCore, AccountID: joni.ID, At: testenv.DemoNow}, 2, false)
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
	_, err = st.ClaimIncident(ctx, domain.Claim{RequestID: id2, TenantID: "contoso", BenefitID: contosoSPDCloud, AccountID: megan.ID, At: testenv.DemoNow}, 50, false)
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
