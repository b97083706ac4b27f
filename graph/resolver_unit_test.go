package graph_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/domain"
)

// Resolver unit tests: the schema over a fake of the one use-case interface a field
// calls, no store, no server, no other service (the Resolver's other fields stay nil,
// so a resolver that reached for one would fail the test). They check what the GraphQL
// layer itself decides: how arguments map to the use case, and how its answer maps to
// the response (null for an absent value, refusals as userErrors).

// unitClient serves the schema over r as the signed-in account caller.
func unitClient(t *testing.T, r *graph.Resolver, caller domain.Account) *client.Client {
	t.Helper()
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: r, Complexity: graph.Complexity()}))
	srv.AddTransport(transport.POST{})
	return client.New(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		srv.ServeHTTP(w, req.WithContext(domain.WithCaller(req.Context(), caller)))
	}))
}

var unitCaller = domain.Account{ID: "acct-lee", Email: "lee@contoso.com", Kind: domain.KindEntraID}

// fakeRequests is a domain.RequestService whose CreateRequest answers as told and
// keeps what it was asked; any other method panics (the embedded nil interface).
type fakeRequests struct {
	domain.RequestService
	got    domain.CreateRequestInput
	answer domain.SupportRequest
	err    error
}

func (f *fakeRequests) CreateRequest(_ context.Context, _ domain.Account, in domain.CreateRequestInput) (domain.SupportRequest, error) {
	f.got = in
	return f.answer, f.err
}

const createFrontLine = `mutation($planId: ID) { createSupportRequest(input: {idempotencyKey: "question-0001",
	planId: $planId, portal: PARTNER_CENTER, type: FRONT_LINE, title: "How do I renew?"}) {
	request { id productId planId planKind version customerId consumedIncident }
	userErrors { code rule field message } } }`

// TestR17_APartnerCenterRequestAnswersNullForWhatItHasNot: a front-line request has no
// product, version, plan or customer (R17); the API answers null for each, never "".
func TestR17_APartnerCenterRequestAnswersNullForWhatItHasNot(t *testing.T) {
	fake := &fakeRequests{answer: domain.SupportRequest{ID: "req-1", AccountID: unitCaller.ID, Portal: domain.PortalPartnerCenter,
		Type: domain.RequestFrontLine, Title: "How do I renew?", CreatedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}}
	c := unitClient(t, &graph.Resolver{RequestService: fake}, unitCaller)

	var resp struct {
		CreateSupportRequest struct {
			Request    map[string]any
			UserErrors []userError
		}
	}
	c.MustPost(createFrontLine, &resp)

	require.Equal(t, domain.CreateRequestInput{IdempotencyKey: "question-0001", Portal: domain.PortalPartnerCenter,
		Type: domain.RequestFrontLine, Title: "How do I renew?"}, fake.got)
	require.Equal(t, map[string]any{"id": graph.GlobalID("SupportRequest", "req-1"), "productId": nil, "planId": nil,
		"planKind": nil, "version": nil, "customerId": nil, "consumedIncident": false}, resp.CreateSupportRequest.Request)
	require.Empty(t, resp.CreateSupportRequest.UserErrors)
	require.NotNil(t, resp.CreateSupportRequest.UserErrors, "userErrors is [] on success, never null")
}

// TestR15_ARefusalIsAUserErrorWithItsRuleAndNoRequest: a use case's coded refusal (no
// incident left, R15) is the payload's userErrors with its code and rule and no request,
// not a top-level error; a refusal that no single rule decides has a null rule. The
// plan's global ID reaches the use case as its key.
func TestR15_ARefusalIsAUserErrorWithItsRuleAndNoRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want userError
	}{
		{"R15", domain.Errorf(domain.EEXHAUSTED, "R15", "no incidents left on this plan"),
			userError{Code: "NO_INCIDENTS_LEFT", Rule: ptr("R15"), Message: "no incidents left on this plan"}},
		{"no rule", domain.Errorf(domain.EKEYREUSED, "", "key used").WithField("idempotencyKey"),
			userError{Code: string(domain.EKEYREUSED), Field: []string{"idempotencyKey"}, Message: "key used"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeRequests{err: c.err}
			cl := unitClient(t, &graph.Resolver{RequestService: fake}, unitCaller)
			var resp struct {
				CreateSupportRequest struct {
					Request    map[string]any
					UserErrors []userError
				}
			}
			cl.MustPost(createFrontLine, &resp, client.Var("planId", graph.GlobalID("SupportPlan", "contoso.spd.cloud")))

			require.Equal(t, "contoso.spd.cloud", fake.got.PlanID)
			require.Nil(t, resp.CreateSupportRequest.Request)
			require.Equal(t, []userError{c.want}, resp.CreateSupportRequest.UserErrors)
		})
	}
}

// fakePlans is a domain.PlanService whose SupportPlans answers as told.
type fakePlans struct {
	domain.PlanService
	answer domain.Plans
}

func (f *fakePlans) SupportPlans(context.Context, domain.Account, string, string, domain.Portal) (domain.Plans, error) {
	return f.answer, nil
}

// TestR2_AnUnlimitedBalanceHasNoTotalAndNothingRemaining: a plan with unlimited
// incidents (R2) answers null for total and remaining, and a capped one its counts; a
// product with no family or lifecycle policy answers null for them.
func TestR2_AnUnlimitedBalanceHasNoTotalAndNothingRemaining(t *testing.T) {
	fake := &fakePlans{answer: domain.Plans{Product: domain.Product{ID: "azure", Name: "Azure", Deployment: domain.DeploymentCloud, Portal: domain.PortalAzure},
		Portal: domain.PortalAzure, Available: []domain.Plan{
			{ID: "contoso.gold.cloud", Kind: domain.PlanPartnerCloud, Name: "Gold", Incidents: domain.Incidents{Used: 3, Unlimited: true}},
			{ID: "contoso.spd.cloud", Kind: domain.PlanPartnerCloud, Name: "SPD", Incidents: domain.Incidents{Total: 50, Used: 2, Remaining: 48}},
		}}}
	c := unitClient(t, &graph.Resolver{PlanService: fake}, unitCaller)

	var resp struct {
		SupportPlans struct {
			Product   map[string]any
			Available []struct {
				Name      string
				Incidents map[string]any
			}
		}
	}
	c.MustPost(`{ supportPlans(productId: "azure", portal: AZURE) { product { family lifecyclePolicy }
		available { name incidents { total used remaining unlimited } } } }`, &resp)

	require.Equal(t, map[string]any{"family": nil, "lifecyclePolicy": nil}, resp.SupportPlans.Product)
	require.Len(t, resp.SupportPlans.Available, 2)
	require.Equal(t, map[string]any{"total": nil, "used": float64(3), "remaining": nil, "unlimited": true}, resp.SupportPlans.Available[0].Incidents)
	require.Equal(t, map[string]any{"total": float64(50), "used": float64(2), "remaining": float64(48), "unlimited": false}, resp.SupportPlans.Available[1].Incidents)
}

func ptr[T any](v T) *T { return &v }
