package browser_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/e2e/browsertest"
	"github.com/partnersupport/api/internal/testenv"
)

// editor is the CodeMirror instance of a visible GraphiQL editor, by a CSS selector of
// its container.
func editor(container string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].find((e) => e.offsetParent !== null)?.querySelector('.CodeMirror')?.CodeMirror`, container)
}

// TestBrowserGraphiQLRunsAQueryOffline opens GraphiQL at / in headless Chromium that can
// reach nothing but this machine, puts a bearer token in the headers pane as the README
// says, runs a query with the execute button and reads the answer in the result pane.
// Every file the page loads must come from the server under test.
func TestBrowserGraphiQLRunsAQueryOffline(t *testing.T) {
	e := testenv.New(t)
	b := browsertest.New(t)
	page := b.Page(t)

	page.Do("open GraphiQL", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.Server.URL+"/"))
	page.WaitJS("GraphiQL's editors", `!!(`+editor(".graphiql-query-editor")+`)`)
	page.WaitJS("the headers pane open by default", `document.querySelector('.graphiql-editor-tool')?.getAttribute('aria-label') === 'Headers'`)
	headers := editor(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
	require.Contains(t, page.Eval(editor(".graphiql-query-editor")+`.getValue()`), `{ "Authorization": "Bearer <token>" }`,
		"the default tab tells how to sign in")

	token := e.Token("megan@contoso.com")
	page.Eval(headers + fmt.Sprintf(`.setValue(JSON.stringify({Authorization: %q}))`, "Bearer "+token))
	page.Eval(editor(".graphiql-query-editor") + `.setValue('{ viewer { email memberships { roles tenant { id name } } } }')`)
	page.Do("run the query", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))

	result := editor(".graphiql-response")
	page.WaitJS("the answer in the result pane", `(`+result+`?.getValue() ?? '').includes('"email": "megan@contoso.com"')`)
	got := page.Eval(result + `.getValue()`)
	require.Contains(t, got, `"name": "Contoso Ltd."`)
	require.Contains(t, got, `"PARTNER_ADMIN"`)
	require.NotContains(t, got, `"errors"`)

	// The schema came too (introspection through the same fetcher): the docs know Query.
	page.WaitJS("the schema to load", `!document.querySelector('.graphiql-toolbar-icon.graphiql-spin')`)
	require.Empty(t, strings.TrimSpace(page.Eval(`[...document.querySelectorAll('.graphiql-warning-text')].map((e) => e.textContent).join('\n')`)),
		"no schema warning")

	// A subscription runs over a websocket to the same server, with the headers pane's
	// token in connection_init: an event appears in the result pane.
	page.Eval(editor(".graphiql-query-editor") + `.setValue('subscription { incidentBalanceChanged(tenantId: "contoso") { kind benefitId remaining } }')`)
	page.Do("run the subscription", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	testenv.WaitFor(t, browsertest.Timeout, "GraphiQL's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })
	var activated struct {
		ActivateBenefit struct{ UserErrors []any }
	}
	e.Do(token, `mutation { activateBenefit(benefitId: "contoso.partner_success_expanded.20260901.cloud_support") { userErrors { code } } }`, nil).MustData(t, &activated)
	require.Empty(t, activated.ActivateBenefit.UserErrors)
	page.WaitJS("the event in the result pane", `(`+result+`?.getValue() ?? '').includes('"kind": "ACTIVATE"')`)
	b.RequireClean(t)
}
