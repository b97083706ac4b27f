// Package benchenv sets up the supportPlans benchmarks and the baseline's equivalence
// test: the real service (testenv: the demo data on a fresh database, the dev signer) with
// three plans linked to lee@contoso.com, and one httptest server that serves the real
// GraphQL handler on /query and the hand-written baseline next to it, over the same store
// and the same domain service.
package benchenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/e2e/bench/baseline"
	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
)

// Demo accounts (internal/fixture/demo.yaml) and the benefits the benchmarks link.
const (
	Megan = "megan@contoso.com" // contoso PARTNER_ADMIN: activates
	Lee   = "lee@contoso.com"   // contoso USER: links all three

	SPDCloud  = "contoso.solutions_partner_designation.20260901.cloud_support"
	SPDOnPrem = "contoso.solutions_partner_designation.20260901.on_premises_support"
	Expanded  = "contoso.partner_success_expanded.20260901.cloud_support"
)

// LinkedPlans are the benefits activated by megan and linked by lee.
var LinkedPlans = []string{SPDCloud, SPDOnPrem, Expanded}

// SupportPlansQuery is the GraphQL query the baseline answers the same way.
const SupportPlansQuery = `query($p: ID!, $v: String, $portal: Portal!) { supportPlans(productId: $p, version: $v, portal: $portal) {
	available { id kind name linked incidents { total used remaining unlimited } }
	unavailable { plan { id kind name linked incidents { total used remaining unlimited } } reasons { code rule message } }
	portalHint { portal message } } }`

// Env is the service with lee's three linked plans and both handlers on one server.
type Env struct {
	*testenv.Env
	// URL serves /query (GraphQL, the application's own handler) and baseline.Path.
	URL string
}

// New starts the service (testenv.New with opts), activates the three plans as megan and
// links them for lee, and serves both handlers.
func New(tb testing.TB, opts ...testenv.Option) *Env {
	tb.Helper()
	// The production activation delay (R4): the service caches a tenant's held offers and
	// contracts for at most that long, as it does in production.
	opts = append([]testenv.Option{testenv.WithActivationDelay(90 * time.Second), serverRateLimits}, opts...)
	e := testenv.New(tb, opts...)
	admin := e.Token(Megan)
	for _, id := range LinkedPlans {
		var out struct {
			ActivateBenefit struct{ UserErrors []map[string]any }
		}
		e.Do(admin, `mutation($id: ID!) { activateBenefit(benefitId: $id) { userErrors { code rule message } } }`,
			map[string]any{"id": id}).MustData(tb, &out)
		require.Empty(tb, out.ActivateBenefit.UserErrors, "activating %s", id)
	}
	e.Clock.Advance(90 * time.Second) // activation completes
	var tenant struct {
		Tenant struct {
			Benefits []struct {
				ID       string
				Contract *struct{ AccessID, ContractID string }
			}
		}
	}
	e.Do(admin, `{ tenant(id: "contoso") { benefits { id contract { accessId contractId } } } }`, nil).MustData(tb, &tenant)
	contracts := map[string]*struct{ AccessID, ContractID string }{}
	for _, b := range tenant.Tenant.Benefits {
		contracts[b.ID] = b.Contract
	}
	for _, id := range LinkedPlans {
		c := contracts[graph.GlobalID("Benefit", id)]
		require.NotNil(tb, c, "%s has no contract IDs after activation", id)
		var linked struct {
			LinkSupportPlan struct{ UserErrors []map[string]any }
		}
		e.Do(e.Token(Lee), `mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { userErrors { code rule message } } }`,
			map[string]any{"in": map[string]any{"accessId": c.AccessID, "contractId": c.ContractID, "portal": "AZURE"}}).MustData(tb, &linked)
		require.Empty(tb, linked.LinkSupportPlan.UserErrors, "linking %s", id)
	}
	mux := http.NewServeMux()
	mux.Handle(baseline.Path, baseline.New(e.App.Signer.Verifier(), e.App.Service))
	mux.Handle("/", e.App.HTTP.Handler())
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return &Env{Env: e, URL: srv.URL}
}

// serverRateLimits sets the rate limits a server started with default flags applies, which
// testenv turns off: /query is measured with every limit a server runs with, the rate
// limiter's root field middleware included.
func serverRateLimits(c *config.Config) {
	def, err := config.Parse("server", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		panic(err)
	}
	c.LinkRateAccount, c.LinkRateAddress = def.LinkRateAccount, def.LinkRateAddress
}

// Query is one supportPlans question.
type Query struct {
	Product, Version, Portal string
}

// Azure is the benchmarks' question: lee sees two available and two unavailable plans
// (his three linked plans and Contoso's CSP plan).
var Azure = Query{Product: "azure", Portal: "AZURE"}

// GraphQL builds the POST /query request for q.
func (e *Env) GraphQL(token string, q Query) *Request {
	vars := map[string]any{"p": q.Product, "portal": q.Portal}
	if q.Version != "" {
		vars["v"] = q.Version
	}
	body, err := json.Marshal(map[string]any{"query": SupportPlansQuery, "variables": vars})
	if err != nil {
		panic(err)
	}
	return &Request{method: http.MethodPost, url: e.URL + "/query", body: body, token: token}
}

// Baseline builds the GET baseline.Path request for q.
func (e *Env) Baseline(token string, q Query) *Request {
	v := url.Values{"productId": {q.Product}, "portal": {q.Portal}}
	if q.Version != "" {
		v.Set("version", q.Version)
	}
	return &Request{method: http.MethodGet, url: e.URL + baseline.Path + "?" + v.Encode(), token: token}
}

// Request is a prepared request, sent as often as wanted.
type Request struct {
	method, url, token string
	body               []byte
}

// Send sends the request and returns the status and body.
func (r *Request) Send(c *http.Client) (int, []byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		return 0, nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// answerPrefix starts every successful answer of both handlers.
var answerPrefix = []byte(`{"data":{"supportPlans":`)

// Check sends the request and fails unless it answers 200 with supportPlans data. It
// returns how long the round trip took.
func (r *Request) Check(c *http.Client) (time.Duration, error) {
	start := time.Now()
	status, body, err := r.Send(c)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if status != http.StatusOK || !bytes.HasPrefix(body, answerPrefix) {
		return d, fmt.Errorf("%s %s: status %d: %.300s", r.method, r.url, status, body)
	}
	return d, nil
}

// Client is an HTTP client that keeps up to n idle connections to the server, so that n
// concurrent clients reuse theirs rather than dialling per request.
func Client(n int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: n + 8, MaxIdleConnsPerHost: n + 8, IdleConnTimeout: time.Minute}}
}
