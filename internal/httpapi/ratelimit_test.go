package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/httpapi"
	"github.com/partnersupport/api/internal/testenv"
)

const linkMutation = `mutation($a: String!, $c: String!) { linkSupportPlan(input: {accessId: $a, contractId: $c, portal: AZURE}) {
	alreadyLinked plan { benefitId } userErrors { code rule } } }`

func withLinkRates(perAccount, perAddress int, proxies ...string) testenv.Option {
	return func(c *config.Config) {
		c.LinkRateAccount, c.LinkRateAddress = perAccount, perAddress
		for _, p := range proxies {
			_, n, err := net.ParseCIDR(p)
			if err != nil {
				panic(err)
			}
			c.TrustedProxies = append(c.TrustedProxies, *n)
		}
	}
}

type pair struct{ access, contract string }

func activatedPair(t *testing.T, e *testenv.Env) pair {
	t.Helper()
	var out struct {
		ActivateBenefit struct {
			Benefit struct {
				Contract struct{ AccessID, ContractID string }
			}
		}
	}
	e.Do(e.Token(megan), `mutation($id: ID!) { activateBenefit(benefitId: $id) { benefit { contract { accessId contractId } } } }`,
		map[string]any{"id": contosoSPDCloud}).MustData(t, &out)
	c := out.ActivateBenefit.Benefit.Contract
	require.NotEmpty(t, c.AccessID)
	return pair{c.AccessID, c.ContractID}
}

// linkAttempt posts one link attempt, from the given X-Forwarded-For if any.
func linkAttempt(t *testing.T, e *testenv.Env, token string, p pair, xff string) response {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": linkMutation, "variables": map[string]any{"a": p.access, "c": p.contract}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/query", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []testenv.Error
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return response{Status: resp.StatusCode, Body: string(r.Data), Errors: r.Errors}
}

func requireRateLimited(t *testing.T, r response) {
	t.Helper()
	e := r.only(t)
	assert.Equal(t, "RATE_LIMITED", e.Code())
	assert.Positive(t, e.Extensions["retryAfterSeconds"])
	assert.Equal(t, "null", r.Body, "nothing is answered for a refused attempt")
}

func links(t *testing.T, e *testenv.Env) int64 {
	t.Helper()
	n, err := e.App.Store.Database().Collection("links").CountDocuments(t.Context(), map[string]any{})
	require.NoError(t, err)
	return n
}

// TestRateLimit_BruteForceBurstOfLinksIsRefusedBeforeTheStore: an account guessing pairs
// gets its allowance of answers, then RATE_LIMITED, which reads nothing and changes
// nothing: not even the right pair links until the allowance comes back.
func TestRateLimit_BruteForceBurstOfLinksIsRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, withLinkRates(5, 0))
	right := activatedPair(t, e)
	tok := e.Token(sam)
	signIn := signInTrips(t, e, tok)
	for i := range 5 {
		r := linkAttempt(t, e, tok, pair{fmt.Sprintf("GUESS%021d", i), right.contract}, "")
		require.Empty(t, r.Errors, r.Body)
		assert.Contains(t, r.Body, `"INVALID_CONTRACT"`)
	}
	for i := range 20 {
		trips := tripsOf(t, e, func() {
			requireRateLimited(t, linkAttempt(t, e, tok, pair{fmt.Sprintf("GUESS%021d", 100+i), right.contract}, ""))
		})
		assert.Equal(t, signIn, trips, "a refused attempt costs no more than signing in")
	}
	requireRateLimited(t, linkAttempt(t, e, tok, right, ""))
	assert.Zero(t, links(t, e), "nothing was linked")
	// Another account from the same address is not held up (no address limit here).
	r := linkAttempt(t, e, e.Token(lee), right, "")
	require.Empty(t, r.Errors)
	assert.Contains(t, r.Body, graph.GlobalID("Benefit", contosoSPDCloud))
	assert.EqualValues(t, 1, links(t, e))
}

// TestRateLimit_AliasesDoNotMultiplyTheAllowance: every linkSupportPlan of one operation is
// an attempt.
func TestRateLimit_AliasesDoNotMultiplyTheAllowance(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, withLinkRates(5, 0))
	right := activatedPair(t, e)
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range 8 {
		fmt.Fprintf(&b, ` l%d: linkSupportPlan(input: {accessId: "GUESS%021d", contractId: %q, portal: AZURE}) { userErrors { code } }`, i, i, right.contract)
	}
	b.WriteString(" }")
	r := postJSON(t, e, e.Token(sam), b.String(), nil)
	require.Len(t, r.Errors, 3, r.Body)
	for i, err := range r.Errors {
		assert.Equal(t, "RATE_LIMITED", err.Code())
		assert.Equal(t, []any{fmt.Sprintf("l%d", 5+i)}, err.Path, "each refusal names its own field")
	}
	assert.Contains(t, r.Body, `"data":null`, "a refused field is null, and the mutation's fields are non-null")
	requireRateLimited(t, linkAttempt(t, e, e.Token(sam), right, ""))
}

// TestRateLimit_PerAddressAcrossAccounts: many accounts from one address share its
// allowance; X-Forwarded-For counts only from a configured proxy.
func TestRateLimit_PerAddressAcrossAccounts(t *testing.T) {
	t.Parallel()
	e := testenv.New(t, withLinkRates(100, 3))
	right := activatedPair(t, e)
	wrong := pair{"GUESS000000000000000000000", right.contract}
	accounts := []string{sam, lee, patti, "alex@contoso.com"}
	for _, who := range accounts[:3] {
		r := linkAttempt(t, e, e.Token(who), wrong, "198.51.100.1")
		require.Empty(t, r.Errors, r.Body)
	}
	// The header is not believed from a peer that is not a trusted proxy: still 127.0.0.1.
	requireRateLimited(t, linkAttempt(t, e, e.Token(accounts[3]), wrong, "198.51.100.2"))
	requireRateLimited(t, linkAttempt(t, e, e.Token(accounts[3]), right, ""))
	assert.Zero(t, links(t, e))

	// Behind a trusted proxy (the test client is 127.0.0.1), each client address counts.
	p := testenv.New(t, withLinkRates(100, 3, "127.0.0.1/32"))
	right = activatedPair(t, p)
	wrong = pair{"GUESS000000000000000000000", right.contract}
	for i := range 3 {
		r := linkAttempt(t, p, p.Token(accounts[i]), wrong, "198.51.100.1")
		require.Empty(t, r.Errors, r.Body)
	}
	requireRateLimited(t, linkAttempt(t, p, p.Token(accounts[3]), wrong, "198.51.100.1"))
	// A client cannot escape by prepending addresses: the proxy appends the real one.
	requireRateLimited(t, linkAttempt(t, p, p.Token(accounts[3]), wrong, "203.0.113.77, 198.51.100.1"))
	r := linkAttempt(t, p, p.Token(accounts[3]), right, "198.51.100.2")
	require.Empty(t, r.Errors, r.Body)
	assert.Contains(t, r.Body, graph.GlobalID("Benefit", contosoSPDCloud))
}

// TestRateLimit_GuardsQueryFieldsToo: a guarded field of the query type is limited as a
// mutation's is, each alias an attempt; an unguarded field beside it is not.
func TestRateLimit_GuardsQueryFieldsToo(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Schema:    graph.NewExecutableSchema(graph.Config{Resolvers: graph.NewResolver(e.App.Service, nil, nil), Complexity: graph.Complexity()}),
		Verifier:  e.App.Signer.Verifier(),
		SignIn:    e.App.Service.SignIn,
		RateLimit: httpapi.RateLimit{Fields: []string{"Query.supportPlans"}, PerAccount: 2},
	}).Handler())
	t.Cleanup(srv.Close)
	tok := e.Token(lee)
	r := testenv.Post(t, srv.URL+"/query", tok, `{ a: supportPlans(productId: "azure", portal: AZURE) { portal }
		b: supportPlans(productId: "azure", portal: AZURE) { portal } }`, nil)
	require.Empty(t, r.Errors)
	assert.JSONEq(t, `{"a": {"portal": "AZURE"}, "b": {"portal": "AZURE"}}`, string(r.Data))
	r = testenv.Post(t, srv.URL+"/query", tok, `{ viewer { email } supportPlans(productId: "azure", portal: AZURE) { portal } }`, nil)
	require.Len(t, r.Errors, 1, string(r.Data))
	assert.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
	assert.Equal(t, []any{"supportPlans"}, r.Errors[0].Path)
	assert.Equal(t, "null", string(r.Data), "supportPlans is non-null: its refusal nulls the data, as any error of it does")
	r = testenv.Post(t, srv.URL+"/query", tok, `{ viewer { email } }`, nil)
	require.Empty(t, r.Errors, "viewer is not guarded")
}

// TestRateLimit_RefusesFieldsItCannotGuard: a guarded field must be a field of the query or
// mutation type that the schema has; anything else stops the server from starting rather
// than leave the field unguarded.
func TestRateLimit_RefusesFieldsItCannotGuard(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}, Complexity: graph.Complexity()})
	for _, f := range []string{
		"Mutation.linkSupportPlans",           // a typo
		"SupportPlan.incidents",               // not a root field
		"Subscription.incidentBalanceChanged", // subscriptions are not guarded
		"linkSupportPlan",                     // no type
	} {
		assert.Panics(t, func() {
			httpapi.New(httpapi.Config{Schema: schema, RateLimit: httpapi.RateLimit{Fields: []string{f}, PerAccount: 1}})
		}, f)
	}
	assert.NotPanics(t, func() {
		httpapi.New(httpapi.Config{Schema: schema, RateLimit: httpapi.RateLimit{Fields: []string{"Mutation.linkSupportPlan", "Query.supportPlans"}, PerAccount: 1}})
	})
}
