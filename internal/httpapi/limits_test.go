package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/httpapi"
	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Demo accounts (internal/fixture/demo.yaml).
const (
	megan = "megan@contoso.com"          // contoso PARTNER_ADMIN
	lee   = "lee@contoso.com"            // contoso USER
	sam   = "sam.freelancer@outlook.com" // outside MSA
	patti = "patti@fabrikam.com"         // fabrikam PARTNER_ADMIN

	contosoSPDCloud = "contoso.solutions_partner_designation.20260901.cloud_support"
)

// storeTrips is the number of store round trips the service made so far
// (store_roundtrips_total, every command and outcome).
func storeTrips(t *testing.T, e *testenv.Env) float64 {
	t.Helper()
	mfs, err := e.App.Metrics.Registry.Gather()
	require.NoError(t, err)
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "store_roundtrips_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// tripsOf counts the store round trips that do makes.
func tripsOf(t *testing.T, e *testenv.Env, do func()) float64 {
	t.Helper()
	before := storeTrips(t, e)
	do()
	return storeTrips(t, e) - before
}

// signInTrips is what authenticating one request with the token costs in store round
// trips (the account is looked up, and created on first sign-in): a refusal by a limit
// must cost no more than that.
func signInTrips(t *testing.T, e *testenv.Env, token string) float64 {
	t.Helper()
	e.Do(token, `{ __typename }`, nil) // the first sign-in creates the account
	return tripsOf(t, e, func() { e.Do(token, `{ __typename }`, nil) })
}

// response is a raw HTTP answer of /query.
type response struct {
	Status int
	Body   string
	Errors []testenv.Error
	Allow  string
}

func (r response) only(t *testing.T) testenv.Error {
	t.Helper()
	require.Len(t, r.Errors, 1, "body: %s", r.Body)
	return r.Errors[0]
}

func send(t *testing.T, e *testenv.Env, method, contentType, token string, body io.Reader, contentLength int64) response {
	t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+"/query", body)
	require.NoError(t, err)
	// The GraphQL-over-HTTP media type: a request error answers 400 (not 200 as with
	// application/json), so the status tells a refusal from an answer.
	req.Header.Set("Accept", "application/graphql-response+json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentLength != 0 {
		req.ContentLength = contentLength
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r struct{ Errors []testenv.Error }
	_ = json.Unmarshal(b, &r)
	return response{Status: resp.StatusCode, Body: string(b), Errors: r.Errors, Allow: resp.Header.Get("Allow")}
}

func postJSON(t *testing.T, e *testenv.Env, token, query string, vars map[string]any) response {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return send(t, e, http.MethodPost, "application/json", token, bytes.NewReader(b), 0)
}

func getQuery(t *testing.T, e *testenv.Env, token, query string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.Server.URL+"/query?query="+url.QueryEscape(query), nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/graphql-response+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r struct{ Errors []testenv.Error }
	_ = json.Unmarshal(b, &r)
	return response{Status: resp.StatusCode, Body: string(b), Errors: r.Errors, Allow: resp.Header.Get("Allow")}
}

// requireLimit checks a refusal by the named limit: code INVALID, limit named.
func requireLimit(t *testing.T, r response, status int, limit string) testenv.Error {
	t.Helper()
	e := r.only(t)
	assert.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, "INVALID", e.Code(), "body: %s", r.Body)
	assert.Equal(t, limit, e.Extensions["limit"], "body: %s", r.Body)
	return e
}

// refusedBeforeTheStore runs an attack anonymously and as a signed-in account: it must be
// refused as check says, anonymously without one store round trip, signed in with no more
// than signing in costs.
func refusedBeforeTheStore(t *testing.T, e *testenv.Env, attack func(token string) response, check func(response)) {
	t.Helper()
	trips := tripsOf(t, e, func() { check(attack("")) })
	assert.Zero(t, trips, "an anonymous attack reaches the store")
	tok := e.Token(lee)
	signIn := signInTrips(t, e, tok)
	trips = tripsOf(t, e, func() { check(attack(tok)) })
	assert.Equal(t, signIn, trips, "a signed-in attack costs more than signing in")
}

// refusedBeforeSignIn runs an attack that the HTTP guard refuses before the caller is
// even signed in: it costs no store round trip, with a token or without.
func refusedBeforeSignIn(t *testing.T, e *testenv.Env, attack func(token string) response, check func(response)) {
	t.Helper()
	tok := e.Token(megan)
	for _, token := range []string{"", tok} {
		trips := tripsOf(t, e, func() { check(attack(token)) })
		assert.Zero(t, trips, "the attack reaches the store")
	}
}

// ofTypeChain is an introspection query nesting ofType n times under __type.
func ofTypeChain(n int) string {
	return `{ __type(name: "Query") { ` + strings.Repeat("ofType { ", n) + "name" + strings.Repeat(" }", n) + " } }"
}

func TestLimits_DeepQueryIsRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	deep := ofTypeChain(httpapi.DefaultMaxDepth) // __type + the chain + name: one too deep
	refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, deep, nil) }, func(r response) {
		err := requireLimit(t, r, http.StatusBadRequest, httpapi.LimitDepth)
		assert.Contains(t, err.Message, fmt.Sprintf("limit of %d", httpapi.DefaultMaxDepth))
	})
	// Depth through fragments counts as if they were written out.
	fragments := `query { ...A } fragment A on Query { __type(name: "Query") { ...B } }
		fragment B on __Type { ofType { ...C } } fragment C on __Type { ` + strings.Repeat("ofType { ", 13) + "name" + strings.Repeat(" }", 13) + ` }`
	requireLimit(t, postJSON(t, e, "", fragments, nil), http.StatusBadRequest, httpapi.LimitDepth)
	// The deepest the limit allows passes, and so does GraphiQL's full introspection query
	// (depth 15).
	r := postJSON(t, e, "", ofTypeChain(httpapi.DefaultMaxDepth-2), nil)
	assert.Empty(t, r.Errors, r.Body)
	r = postJSON(t, e, "", introspection.Query, nil)
	assert.Empty(t, r.Errors, r.Body)
	assert.Contains(t, r.Body, `"linkSupportPlan"`)
}

// products { versions { name } } costs 10 + 10 × (1 + 10 × 1) = 120.
func wideQuery(aliases int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range aliases {
		fmt.Fprintf(&b, " p%d: products { versions { name } }", i)
	}
	b.WriteString(" }")
	return b.String()
}

func TestLimits_WideQueryIsRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	wide := wideQuery(httpapi.DefaultMaxComplexity/120 + 1)
	refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, wide, nil) }, func(r response) {
		err := requireLimit(t, r, http.StatusBadRequest, httpapi.LimitComplexity)
		assert.Contains(t, err.Message, fmt.Sprintf("exceeds the limit of %d", httpapi.DefaultMaxComplexity))
	})
	// A page is its size times what each edge selects: two full pages of 100 pass, five
	// of them do not.
	const pageQuery = `p%d: supportRequests(portal: AZURE, first: 100) { edges { cursor node { id planId planKind portal productId version type title customerId consumedIncident status closeReason refunded createdAt closedAt } } pageInfo { hasNextPage endCursor } }`
	pages := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " "+pageQuery, i)
		}
		return b.String() + " }"
	}
	r := postJSON(t, e, e.Token(lee), pages(2), nil)
	assert.Empty(t, r.Errors, r.Body)
	requireLimit(t, postJSON(t, e, e.Token(lee), pages(5), nil), http.StatusBadRequest, httpapi.LimitComplexity)
	// Past the token limit the parser stops reading (gqlgen's parse failure code).
	many := "{" + strings.Repeat(" __typename", httpapi.DefaultMaxTokens) + " }"
	refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, many, nil) }, func(r response) {
		err := r.only(t)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "GRAPHQL_PARSE_FAILED", err.Code())
		assert.Contains(t, err.Message, "token limit")
	})
}

// The complexity of an operation is computed once when its cost arguments use no variable
// (the cost is then the same for every request) and per request when they do: one parsed
// document, sent again and again, is refused or passed by the page sizes its variables ask.
func TestLimits_ComplexityPerOperationAndPageVariables(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	const page = `p%d: supportRequests(portal: AZURE, first: $n) { edges { cursor node { id planId planKind portal productId version type title customerId consumedIncident status closeReason refunded createdAt closedAt } } pageInfo { hasNextPage endCursor } }`
	var b strings.Builder
	b.WriteString("query($n: Int, $p: Portal!) { supportPlans(productId: \"azure\", portal: $p) { portalHint { portal } }")
	for i := range 5 {
		fmt.Fprintf(&b, " "+page, i)
	}
	q := b.String() + " }"
	tok := e.Token(lee)
	for range 2 {
		requireLimit(t, postJSON(t, e, tok, q, map[string]any{"n": 100, "p": "AZURE"}), http.StatusBadRequest, httpapi.LimitComplexity)
		r := postJSON(t, e, tok, q, map[string]any{"n": 10, "p": "AZURE"})
		assert.Empty(t, r.Errors, r.Body)
	}
	// Without page variables the cost is fixed: refused every time, whatever the portal.
	fixed := strings.ReplaceAll(strings.Replace(q, "$n: Int, ", "", 1), "first: $n", "first: 100")
	for _, portal := range []string{"AZURE", "SERVICES_HUB", "AZURE"} {
		requireLimit(t, postJSON(t, e, tok, fixed, map[string]any{"p": portal}), http.StatusBadRequest, httpapi.LimitComplexity)
	}
}

func TestLimits_FirstOutOfRangeIsRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	for _, first := range []int{100000, 101, 0, -1} {
		for _, q := range []struct {
			query string
			vars  map[string]any
		}{
			{fmt.Sprintf(`{ supportRequests(portal: AZURE, first: %d) { edges { cursor } } }`, first), nil},
			{`query($n: Int) { supportRequests(portal: SERVICES_HUB, first: $n) { edges { cursor } } }`, map[string]any{"n": first}},
			{fmt.Sprintf(`{ incidentLedger(tenantId: "contoso", first: %d) { edges { cursor } } }`, first), nil},
			{`query($n: Int) { ...L } fragment L on Query { incidentLedger(tenantId: "contoso", first: $n) { edges { cursor } } }`, map[string]any{"n": first}},
		} {
			refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, q.query, q.vars) }, func(r response) {
				err := requireLimit(t, r, http.StatusBadRequest, httpapi.LimitPage)
				assert.Equal(t, "first must be between 1 and 100", err.Message)
				assert.Equal(t, []any{"first"}, err.Extensions["field"])
			})
		}
	}
	// The bounds themselves pass.
	for _, first := range []int{1, 100} {
		r := postJSON(t, e, e.Token(megan), `query($n: Int) { supportRequests(portal: AZURE, first: $n) { edges { cursor } }
			incidentLedger(tenantId: "contoso", first: $n) { edges { cursor } } }`, map[string]any{"n": first})
		assert.Empty(t, r.Errors, r.Body)
	}
}

func TestLimits_OversizedQueryAndBodyAreRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	// A query over the query size limit (a comment is enough: the text is what is cached).
	big := "{ __typename }\n#" + strings.Repeat("x", httpapi.DefaultMaxQueryBytes)
	refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, big, nil) }, func(r response) {
		requireLimit(t, r, http.StatusBadRequest, httpapi.LimitQuerySize)
	})
	// The same over GET.
	refusedBeforeTheStore(t, e, func(tok string) response { return getQuery(t, e, tok, big) }, func(r response) {
		requireLimit(t, r, http.StatusBadRequest, httpapi.LimitQuerySize)
	})
	// A body over the body limit, announced by Content-Length or not (chunked).
	body := `{"query": "{ __typename }", "variables": {"pad": "` + strings.Repeat("x", 1<<20) + `"}}`
	refusedBeforeSignIn(t, e, func(tok string) response {
		return send(t, e, http.MethodPost, "application/json", tok, strings.NewReader(body), 0)
	}, func(r response) {
		requireLimit(t, r, http.StatusRequestEntityTooLarge, httpapi.LimitBodySize)
	})
	refusedBeforeSignIn(t, e, func(tok string) response {
		return send(t, e, http.MethodPost, "application/json", tok, io.MultiReader(strings.NewReader(body)), -1)
	}, func(r response) {
		requireLimit(t, r, http.StatusRequestEntityTooLarge, httpapi.LimitBodySize)
	})
}

func TestLimits_BatchesAndMalformedBodiesAreRefusedWithoutEcho(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	const secret = "NOT-TO-BE-ECHOED-7Q4XK2"
	for name, c := range map[string]struct {
		body  string
		limit string
	}{
		"batch":            {`[{"query": "{ __typename }"}, {"query": "{ offers { id } }", "variables": {"x": "` + secret + `"}}]`, httpapi.LimitBatch},
		"batch with space": {" \n\t[{\"query\": \"{ __typename }\", \"operationName\": \"" + secret + "\"}]", httpapi.LimitBatch},
		"not JSON":         {`{"query": "{ __typename }", "variables": {"x": "` + secret + `"`, httpapi.LimitBody},
		"wrong types":      {`{"query": 5, "variables": {"x": "` + secret + `"}}`, httpapi.LimitBody},
		// The transport checks every occurrence of a key, so the guard must too.
		"duplicated variables":  {`{"query": "{ __typename }", "variables": 5, "variables": {"x": "` + secret + `"}}`, httpapi.LimitBody},
		"duplicated extensions": {`{"query": "{ __typename }", "extensions": [], "extensions": {}, "operationName": "` + secret + `"}`, httpapi.LimitBody},
		"duplicated query":      {`{"query": {}, "query": "{ __typename }", "operationName": "` + secret + `"}`, httpapi.LimitBody},
		"a string":              {`"` + secret + `"`, httpapi.LimitBody},
		"empty":                 {``, httpapi.LimitBody},
	} {
		t.Run(name, func(t *testing.T) {
			refusedBeforeSignIn(t, e, func(tok string) response {
				return send(t, e, http.MethodPost, "application/json", tok, strings.NewReader(c.body), 0)
			}, func(r response) {
				requireLimit(t, r, http.StatusBadRequest, c.limit)
				assert.NotContains(t, r.Body, secret)
			})
		})
	}
	assert.NotContains(t, e.LogText(), secret)
}

func TestLimits_OnlyJSONBodiesAreAccepted_CSRF(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	activate := `mutation { activateBenefit(benefitId: "` + contosoSPDCloud + `") { userErrors { code } } }`
	form := url.Values{"query": {activate}}.Encode()
	jsonBody, err := json.Marshal(map[string]string{"query": activate})
	require.NoError(t, err)
	// What a cross-site form or a no-preflight fetch can send: form-encoded, multipart,
	// text/plain (even carrying JSON), or no type at all. Each is refused before the
	// caller is signed in, and changes nothing.
	for _, c := range []struct{ contentType, body string }{
		{"application/x-www-form-urlencoded", form},
		{"multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + string(jsonBody) + "\r\n--xyz--\r\n"},
		{"text/plain", string(jsonBody)},
		{"text/plain;charset=UTF-8", string(jsonBody)},
		{"", string(jsonBody)},
		{"application/graphql", activate},
	} {
		t.Run(c.contentType, func(t *testing.T) {
			refusedBeforeSignIn(t, e, func(tok string) response {
				return send(t, e, http.MethodPost, c.contentType, tok, strings.NewReader(c.body), 0)
			}, func(r response) {
				requireLimit(t, r, http.StatusUnsupportedMediaType, httpapi.LimitContentType)
			})
		})
	}
	assertNotActivated(t, e)
	// Only GET and POST are served.
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r := send(t, e, m, "application/json", "", bytes.NewReader(jsonBody), 0)
		requireLimit(t, r, http.StatusMethodNotAllowed, httpapi.LimitMethod)
	}
}

func assertNotActivated(t *testing.T, e *testenv.Env) {
	t.Helper()
	n, err := e.App.Store.Database().Collection("contracts").CountDocuments(t.Context(), map[string]any{})
	require.NoError(t, err)
	assert.Zero(t, n, "nothing was activated")
}

func TestLimits_GETRunsQueriesOnly(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	activate := `mutation { activateBenefit(benefitId: "` + contosoSPDCloud + `") { userErrors { code } } }`
	refusedBeforeTheStore(t, e, func(tok string) response { return getQuery(t, e, tok, activate) }, func(r response) {
		err := requireLimit(t, r, http.StatusMethodNotAllowed, httpapi.LimitGETQuery)
		assert.Contains(t, err.Message, "GET requests only allow query operations")
	})
	r := getQuery(t, e, e.Token(megan), activate)
	requireLimit(t, r, http.StatusMethodNotAllowed, httpapi.LimitGETQuery)
	assert.Equal(t, "POST", r.Allow, "405 says which method to use")
	r = getQuery(t, e, e.Token(megan), `subscription { incidentBalanceChanged(tenantId: "contoso") { seq } }`)
	requireLimit(t, r, http.StatusMethodNotAllowed, httpapi.LimitGETQuery)
	assertNotActivated(t, e)
	r = getQuery(t, e, e.Token(lee), `{ viewer { email } }`)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Empty(t, r.Errors, r.Body)
	assert.Contains(t, r.Body, lee)
}

// TestLimits_PlainPOSTRunsNoSubscription: a subscription over a plain POST would hold the
// request open until an event came; it runs over a websocket or SSE only.
func TestLimits_PlainPOSTRunsNoSubscription(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	const sub = `subscription { incidentBalanceChanged(tenantId: "contoso") { seq } }`
	refusedBeforeTheStore(t, e, func(tok string) response { return postJSON(t, e, tok, sub, nil) }, func(r response) {
		requireLimit(t, r, http.StatusBadRequest, httpapi.LimitSubscription)
	})
	// Over SSE it streams.
	b, err := json.Marshal(map[string]any{"query": sub})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/query", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+e.Token(lee))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/event-stream")
}

// TestLimits_WebsocketsAreCheckedToo: the origin allowlist (also covered on a real
// process by server/main_test.go TestServer_WebsocketFromForeignOriginIsRefused), and the
// operation limits on operations sent over a websocket.
func TestLimits_WebsocketsAreCheckedToo(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	trips := tripsOf(t, e, func() {
		_, resp, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "https://evil.example")
		require.Error(t, err)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	assert.Zero(t, trips)
	ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "http://localhost:8080")
	require.NoError(t, err)
	ws.Init(e.Token(lee))
	for id, q := range map[string]string{
		"deep":  ofTypeChain(httpapi.DefaultMaxDepth),
		"wide":  wideQuery(httpapi.DefaultMaxComplexity/120 + 1),
		"first": `{ supportRequests(portal: AZURE, first: 100000) { edges { cursor } } }`,
	} {
		before := storeTrips(t, e)
		ws.Start(id, q, nil)
		m, err := ws.Next(10 * time.Second)
		require.NoError(t, err, id)
		assert.Equal(t, "error", m.Type, id)
		assert.Equal(t, id, m.ID)
		assert.Contains(t, string(m.Payload), `"code":"INVALID"`, id)
		m, err = ws.Next(10 * time.Second)
		require.NoError(t, err, id)
		assert.Equal(t, "complete", m.Type, id)
		assert.Equal(t, before, storeTrips(t, e), id)
	}
	ws.Start("ok", `{ viewer { email } }`, nil)
	m, err := ws.Next(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "next", m.Type)
	assert.Contains(t, string(m.Payload), lee)
}

func TestLimits_IntrospectionIsConfigurable(t *testing.T) {
	t.Parallel()
	const q = `{ __schema { queryType { name } } }`
	on := testenv.New(t)
	r := postJSON(t, on, "", q, nil)
	assert.Empty(t, r.Errors, r.Body)
	off := testenv.New(t, func(c *config.Config) { c.Introspection = false })
	r = postJSON(t, off, "", q, nil)
	requireLimit(t, r, http.StatusBadRequest, httpapi.LimitIntrospection)
	assert.NotContains(t, r.Body, `"Query"`)
	r = postJSON(t, off, "", `query { ...F } fragment F on Query { __type(name: "Query") { name } }`, nil)
	requireLimit(t, r, http.StatusBadRequest, httpapi.LimitIntrospection)
	r = postJSON(t, off, "", `{ __typename offers { __typename id } }`, nil)
	assert.Empty(t, r.Errors, "__typename is not introspection: %s", r.Body)
	assert.NotContains(t, off.LogText(), "internal error")
}

func TestLimits_ConfigDefaultsAreTheLimitsDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("server", nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, httpapi.DefaultMaxQueryBytes, c.QueryMaxBytes)
	assert.Equal(t, httpapi.DefaultMaxTokens, c.QueryMaxTokens)
	assert.Equal(t, httpapi.DefaultMaxDepth, c.QueryMaxDepth)
	assert.Equal(t, httpapi.DefaultMaxComplexity, c.QueryMaxComplexity)
	assert.True(t, c.Introspection, "introspection is on by default (development)")
	assert.False(t, c.DevAuth, "the development signer is off unless configured")
	assert.Empty(t, c.OIDCIssuers)
	assert.Empty(t, c.TrustedProxies, "X-Forwarded-For is ignored unless configured")
	assert.Positive(t, c.LinkRateAccount)
	assert.Positive(t, c.LinkRateAddress)

	for _, bad := range [][]string{
		{"--query-max-depth", "0"},
		{"--query-max-complexity", "-1"},
		{"--link-rate-account", "-1"},
		{"--trusted-proxies", "10.0.0.0/33"},
		{"--trusted-proxies", "proxy.example"},
		{"--oidc-issuers", `[{"issuer": "http://idp.example", "audience": "api"}]`},
		{"--oidc-issuers", `{"issuer": "https://idp.example"}`},
	} {
		_, err := config.Parse("server", bad, func(string) string { return "" }, io.Discard)
		require.Error(t, err, bad)
		assert.True(t, strings.HasPrefix(err.Error(), bad[0]+": ") || strings.Contains(err.Error(), bad[0]), "%v: %v", bad, err)
	}
	c, err = config.Parse("server", []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
		"--oidc-issuers", `[{"issuer": "https://login.example.com/t/v2.0", "audience": "api://ps", "jwksUrl": "https://login.example.com/keys"}]`},
		func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	assert.Len(t, c.TrustedProxies, 3)
	require.Len(t, c.OIDCIssuers, 1)
	assert.Equal(t, "https://login.example.com/t/v2.0", c.OIDCIssuers[0].Issuer)
}

// TestLimits_EverydayQueriesPass: the README's and the dashboard's queries, and one that
// asks for everything a member can see, are well within the limits.
func TestLimits_EverydayQueriesPass(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	for _, q := range []string{
		`{ viewer { email kind memberships { roles tenant { id name } } } }`,
		`{ tenant(id: "contoso") { hasActiveOffer benefits { id name legacyName status endsAt
			incidents { total used remaining unlimited } contract { accessId contractId } }
			admins { email roles } reminders { kind message } } }`,
		`{ tenant(id: "contoso") { id name hasActiveOffer benefitsNotice
			benefits { id name legacyName kind status endsAt incidents { total used remaining unlimited } }
			reminders { kind benefitId benefitName message } } }`,
		`{ incidentLedger(tenantId: "contoso", first: 100) { edges { cursor node { seq kind benefitId planName requestId actorId reason at delta
			incidents { total used remaining unlimited } } } pageInfo { hasNextPage endCursor } } }`,
		`{ supportPlans(productId: "azure", portal: AZURE) { available { id kind name incidents { remaining } }
			unavailable { plan { id name } reasons { code rule message } } portalHint { portal message } } }`,
		`{ viewer { id email kind linkedPlans { benefitId name legacyName kind status incidents { total used remaining unlimited } endsAt linkedFrom linkedAt }
			memberships { roles tenant { id name hasActiveOffer benefitsNotice
				offers { id periodStart periodEnd purchasedAt renewedAt renewalOf offer { id name legacy retiredAt grants { kind incidents unlimited name legacyName } } }
				benefits { id heldOfferId offerId kind name legacyName status incidents { total used remaining unlimited } activatedAt startsAt endsAt
					contract { accessId contractId } consultation { topic requestedAt } }
				admins { id email roles } reminders { kind benefitId benefitName endsAt message incidents { remaining } } consultations { topic requestedAt } } } }
		  offers { id name legacy retiredAt grants { kind incidents unlimited unlimitedIfPeriodStartsBefore name legacyName } }
		  products { id name deployment family portal lifecyclePolicy needsLink versions { name releasedAt mainstreamEndsAt partnerSupportCovered coverageNote } } }`,
		introspection.Query,
	} {
		r := postJSON(t, e, e.Token(megan), q, nil)
		assert.Empty(t, r.Errors, "%s\n%s", q, r.Body)
	}
}
