package mongodb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// A page of requests shows each request's closure and refund as they are, in every
// window a crash or a race can leave (R16, R18, R25), while the notes a close leaves on
// its request (MarkRequestClosed) spare the page its reads of closures and refunds
// (issue 13: a full page costs about what an empty one does): the closures are read only
// for requests without a note, the refunds only for closures after which R16 records one
// and whose request does not note it, and a page of requests closed and noted sends no
// read but its own.
func TestR16_R18_RequestPageShowsClosuresAndRefundsInEveryWindowReadingOnlyWhatNotesLeaveOpen(t *testing.T) {
	ctx := t.Context()
	st, cmds, clock, svc, admin := contosoCloudPlan(t)
	provider := domain.Account{ID: "provider:acme-support", Kind: domain.KindSupportProvider}
	const n = 7
	var rs []domain.SupportRequest
	for i := range n {
		clock.Advance(time.Minute)
		r, err := svc.CreateRequest(ctx, admin, domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("page-notes-%d", i), PlanID: contosoCloud,
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "notes"})
		require.NoError(t, err)
		require.True(t, r.Consumed)
		rs = append(rs, r)
	}
	closure := func(i int, reason domain.CloseReason) domain.Closure {
		c := domain.Closure{RequestID: rs[i].ID, TenantID: rs[i].TenantID, Reason: reason, By: provider.ID, At: clock.Now()}
		require.NoError(t, st.InsertClosure(ctx, c))
		return c
	}
	refund := func(i int, reason domain.CloseReason) {
		require.NoError(t, st.InsertRefund(ctx, domain.Refund{RequestID: rs[i].ID, TenantID: rs[i].TenantID, BenefitID: rs[i].BenefitID, Reason: reason, By: provider.ID, At: clock.Now()}))
	}
	// 0: open.
	// 1: resolved, which refunds nothing here (R16): closed and noted by the close.
	_, err := svc.ResolveRequest(ctx, provider, rs[1].ID, domain.CloseResolved)
	require.NoError(t, err)
	// 2: a duplicate, refunded (R16, R25): closed, refunded, and noted so by the close.
	_, err = svc.ResolveRequest(ctx, provider, rs[2].ID, domain.CloseDuplicate)
	require.NoError(t, err)
	// 3: a crash after the closure, before the refund: neither the refund nor a note.
	closure(3, domain.CloseDuplicate)
	// 4: a crash after the refund, before the note.
	closure(4, domain.CloseDuplicate)
	refund(4, domain.CloseDuplicate)
	// 5: a bug, closed and marked before marks noted the closure: only closedAt.
	c5 := closure(5, domain.CloseBug)
	_, err = st.Database().Collection("requests").UpdateOne(ctx, bson.D{{Key: "_id", Value: rs[5].ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "closedAt", Value: c5.At}}}})
	require.NoError(t, err)
	// 6: noted by the queue before its refund was recorded (the note says not refunded),
	// then refunded.
	c6 := closure(6, domain.CloseDuplicate)
	require.NoError(t, st.MarkRequestClosed(ctx, c6, false))
	refund(6, domain.CloseDuplicate)

	type state struct {
		reason   domain.CloseReason // "" when open
		refunded bool
	}
	want := []state{{"", false}, {domain.CloseResolved, false}, {domain.CloseDuplicate, true}, {domain.CloseDuplicate, false},
		{domain.CloseDuplicate, true}, {domain.CloseBug, false}, {domain.CloseDuplicate, true}}
	stateOf := func(r domain.SupportRequest) state {
		if r.Closure == nil {
			return state{"", r.Refunded}
		}
		assert.Equal(t, r.ID, r.Closure.RequestID)
		assert.Equal(t, r.TenantID, r.Closure.TenantID)
		assert.Equal(t, provider.ID, r.Closure.By)
		assert.False(t, r.Closure.At.IsZero())
		return state{r.Closure.Reason, r.Refunded}
	}
	// page checks the first page (newest first) against want and returns the reads of
	// closures and refunds it sent.
	page := func(what string) (closures, refunds int) {
		t.Helper()
		c0, r0 := cmds.get("find:closures"), cmds.get("find:refunds")
		p, err := svc.Requests(ctx, admin, domain.PortalServicesHub, 20, nil)
		require.NoError(t, err)
		closures, refunds = cmds.get("find:closures")-c0, cmds.get("find:refunds")-r0
		require.Len(t, p.Requests, n)
		for k, r := range p.Requests {
			i := n - 1 - k
			require.Equal(t, rs[i].ID, r.ID)
			assert.Equal(t, want[i], stateOf(r), "%s: request %d on the page", what, i)
			one, err := st.Request(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, want[i], stateOf(one), "%s: request %d alone", what, i)
		}
		return closures, refunds
	}
	closures, refunds := page("every window")
	assert.Equal(t, 1, closures, "one read of the closures of the requests without a note (0, 3, 4, 5)")
	assert.Equal(t, 1, refunds, "one read of the refunds due and not noted (3, 4, 5, 6)")

	// The start-up repair completes the refunds of 3 and 5 (a bug refunds too, R16,
	// R25): refunded now, their claims freed.
	clock.Advance(time.Minute)
	require.NoError(t, svc.Repair(ctx))
	want[3].refunded, want[5].refunded = true, true
	page("after the repair")
	for _, i := range []int{3, 5} {
		_, err = st.Claim(ctx, rs[i].ID)
		assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "%d's claim is free", i)
	}

	// Closing again with the outcome that won completes each close, its note included:
	// then only the open request's closure is looked up, and no refund.
	for i, reason := range map[int]domain.CloseReason{3: domain.CloseDuplicate, 4: domain.CloseDuplicate, 5: domain.CloseBug, 6: domain.CloseDuplicate} {
		_, err = svc.ResolveRequest(ctx, provider, rs[i].ID, reason)
		require.NoError(t, err, "request %d", i)
	}
	closures, refunds = page("closes completed")
	assert.Equal(t, 1, closures, "the open request's closure is looked up")
	assert.Zero(t, refunds, "every refund due is noted")

	// Every request closed: the page reads nothing but the requests.
	_, err = svc.ResolveRequest(ctx, provider, rs[0].ID, domain.CloseBug)
	require.NoError(t, err)
	want[0] = state{domain.CloseBug, true}
	closures, refunds = page("every request closed")
	assert.Zero(t, closures)
	assert.Zero(t, refunds)
}

// contosoCloud is the demo's Contoso plan that contosoCloudPlan activates (50 incidents).
const contosoCloud = "contoso.solutions_partner_designation.20260901.cloud_support"

// contosoCloudPlan opens a store with the demo's data, Contoso's grants recorded and
// contosoCloud activated by its admin, and a service on it whose clock the test moves.
func contosoCloudPlan(t *testing.T) (*mongodb.Store, *commands, *testenv.Clock, *service.Service, domain.Account) {
	t.Helper()
	ctx := t.Context()
	st, cmds := openStore(t)
	clock := testenv.NewClock(testenv.DemoNow)
	svc := service.New(st, service.Options{Now: clock.Now})
	_, err := seed.Load(ctx, st, fixture.Demo(), config.DevIssuer)
	require.NoError(t, err)
	require.NoError(t, svc.RecordGrants(ctx, "contoso"))
	admin, err := st.Account(ctx, domain.AccountID(config.DevIssuer, "megan@contoso.com"))
	require.NoError(t, err)
	_, err = svc.Activate(ctx, admin, contosoCloud)
	require.NoError(t, err)
	return st, cmds, clock, svc, admin
}

// failingRefunds is a store whose refund inserts fail, as a crash before them would
// leave it.
type failingRefunds struct{ *mongodb.Store }

func (failingRefunds) InsertRefund(context.Context, domain.Refund) error {
	return &domain.Error{Code: domain.EUNAVAILABLE, Message: "the refund insert failed"}
}

// A close notes its request only after the refund R16 records (R16): when the refund's
// insert fails, the request is not noted refunded, and a page shows it closed and not
// refunded, and refunded once a later close completes it.
func TestR16_ACloseNotesItsRefundOnlyAfterRecordingIt(t *testing.T) {
	ctx := t.Context()
	st, _, _, svc, admin := contosoCloudPlan(t)
	provider := domain.Account{ID: "provider:acme-support", Kind: domain.KindSupportProvider}
	r, err := svc.CreateRequest(ctx, admin, domain.CreateRequestInput{IdempotencyKey: "note-after-refund", PlanID: contosoCloud,
		ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "notes"})
	require.NoError(t, err)
	failing := service.New(failingRefunds{st}, service.Options{Now: svc.Now})
	_, err = failing.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
	var doc struct {
		Refunded bool `bson:"refunded"`
	}
	require.NoError(t, st.Database().Collection("requests").FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&doc))
	assert.False(t, doc.Refunded, "not noted refunded")
	p, err := svc.Requests(ctx, admin, domain.PortalServicesHub, 20, nil)
	require.NoError(t, err)
	require.Len(t, p.Requests, 1)
	require.NotNil(t, p.Requests[0].Closure)
	assert.Equal(t, domain.CloseDuplicate, p.Requests[0].Closure.Reason)
	assert.False(t, p.Requests[0].Refunded)

	_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
	require.NoError(t, err)
	require.NoError(t, st.Database().Collection("requests").FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}}).Decode(&doc))
	assert.True(t, doc.Refunded, "noted refunded once recorded")
	p, err = svc.Requests(ctx, admin, domain.PortalServicesHub, 20, nil)
	require.NoError(t, err)
	assert.True(t, p.Requests[0].Refunded)
}
