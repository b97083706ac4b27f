package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnersupport/api/internal/testenv"
)

// FuzzGraphQLRequest sends arbitrary operations and variables to the real service, signed
// in and anonymously. Whatever arrives, the answer is JSON with a status the API uses on
// purpose (never a 5xx), every error carries a code from the API (never INTERNAL, which
// would be a fault of ours), and nothing panics.
func FuzzGraphQLRequest(f *testing.F) {
	for _, s := range []struct{ query, vars string }{
		{`{ __typename }`, `{}`},
		{`{ viewer { email kind memberships { roles tenant { id name } } linkedPlans { name } } }`, `{}`},
		{`query($id: ID!) { tenant(id: $id) { benefits { id status contract { accessId } } admins { email } } }`, `{"id": "contoso"}`},
		{`query($id: ID!) { tenant(id: $id) { name } }`, `{"id": "nosuchtenant"}`},
		{`query($n: Int) { supportRequests(portal: AZURE, first: $n) { edges { cursor } } }`, `{"n": 100000}`},
		{`query($a: String) { supportRequests(portal: SERVICES_HUB, after: $a) { edges { cursor } } }`, `{"a": "!!"}`},
		{`query($a: String) { incidentLedger(tenantId: "contoso", after: $a) { edges { cursor } } }`, `{"a": "s-1"}`},
		{`{ supportPlans(productId: "windows-server", version: "Windows Server 2019", portal: SERVICES_HUB) { available { id } unavailable { plan { id } reasons { code } } } }`, `{}`},
		{`mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { userErrors { code } } }`, `{"in": {"accessId": "x", "contractId": "y", "portal": "AZURE"}}`},
		{`mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { userErrors { code field } } }`,
			`{"in": {"idempotencyKey": "fuzz-0000001", "productId": "azure", "portal": "AZURE", "type": "PARTNER_PROGRAM", "title": "t"}}`},
		{`mutation { closeSupportRequest(id: "req_x", reason: BUG) { userErrors { code } } }`, `{}`},
		{`mutation { activateBenefit(benefitId: "fabrikam.x.y") { userErrors { code } } }`, `{}`},
		{`subscription { incidentBalanceChanged(tenantId: "contoso") { seq } }`, `{}`},
		{`{ __type(name: "Query") { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } }`, `{}`},
		{`query { ...A } fragment A on Query { ...A }`, `{}`},
		{`{ a: offers { id } b: offers { id } c: products { versions { name } } }`, `{}`},
		{`{`, `{}`},
		{``, `[]`},
		{`{ viewer { email } }`, `{"x": "\u0000"}`},
	} {
		f.Add(s.query, s.vars)
	}
	e := testenv.New(f)
	token := e.Token("lee@contoso.com")
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, query, vars string) {
		var v any
		if json.Unmarshal([]byte(vars), &v) != nil {
			v = vars // not JSON: sent as a string, which the server must refuse
		}
		body, err := json.Marshal(map[string]any{"query": query, "variables": v})
		if err != nil {
			return
		}
		for _, tok := range []string{"", token} {
			req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/query", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			switch resp.StatusCode {
			case http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d for %q %s: %s", resp.StatusCode, query, vars, b)
			}
			var r struct {
				Data   json.RawMessage
				Errors []testenv.Error
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("not JSON for %q: %s", query, b)
			}
			for _, ge := range r.Errors {
				if ge.Code() == "" || ge.Code() == "INTERNAL" {
					t.Fatalf("error without an API code for %q %s: %s", query, vars, b)
				}
			}
		}
		if strings.Contains(e.LogText(), "panic") {
			t.Fatalf("a panic was logged for %q %s", query, vars)
		}
	})
}
