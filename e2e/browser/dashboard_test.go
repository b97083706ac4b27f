package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/e2e/browsertest"
	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

// TestMain: the browser tests start servers through testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	megan    = "megan@contoso.com" // contoso PARTNER_ADMIN
	lee      = "lee@contoso.com"   // contoso USER
	expanded = "contoso.partner_success_expanded.20260901.cloud_support"

	// How long the page may take to show a change.
	pageTimeout = browsertest.Timeout
)

// The page names tenants and benefits by their global IDs (graph.GlobalID), as the API
// answers them; the test acts through the API with the legacy keys, which it accepts.
var (
	contosoID  = graph.GlobalID("Tenant", "contoso")
	expandedID = graph.GlobalID("Benefit", expanded)
)

// TestBrowserDashboardShowsLiveBalances drives the built dashboard (internal/dashboard/dist,
// embedded in the binary) in headless Chromium against the real service: sign in through
// the development account picker, pick a tenant, and watch a benefit's balance follow
// requests made by another client, without a reload.
func TestBrowserDashboardShowsLiveBalances(t *testing.T) {
	e := testenv.New(t)
	leeToken := e.Token(lee)

	// The benefit must be activated (by an admin) and linked by the account that uses it.
	contract := activate(t, e, e.Token(megan), expanded)
	link(t, e, leeToken, contract)

	b := browsertest.New(t)
	page := b.Page(t)

	page.Do("open the dashboard",
		chromedp.EmulateViewport(1280, 960),
		chromedp.Navigate(e.Server.URL+"/dashboard/"),
	)

	// Sign in as lee with the mouse: the account picker, then the tenant.
	page.Do("choose lee in the account picker", chromedp.Click(chromedp.CSS(testID("account-"+lee))))
	page.Do("choose Contoso", chromedp.Click(chromedp.CSS(testID("tenant-"+contosoID))))
	page.WaitText(testID("tenant-name"), "Contoso Ltd.")
	page.WaitText(testID("remaining-"+expandedID), "5")
	require.Equal(t, "5", page.Text(testID("remaining-"+expandedID)), "the page shows the Expanded benefit's 5 incidents")
	require.Equal(t, "Partner Cloud Support 5", page.Text(benefitPart(expandedID, "benefit-name")))
	require.Equal(t, "Formerly Partner Signature 5pack", page.Text(benefitPart(expandedID, "benefit-legacy")))
	require.Equal(t, "Active", page.Text(benefitPart(expandedID, "benefit-status")))
	meter := page.Eval(fmt.Sprintf(`(() => { const m = document.querySelector(%q);
		return {value: m.value, max: m.max, label: m.labels[0]?.textContent, text: m.getAttribute('aria-valuetext')}; })()`,
		benefitPart(expandedID, "benefit-meter")))
	require.JSONEq(t, `{"value":5,"max":5,"label":"Incidents remaining","text":"5 of 5 incidents remaining"}`, meter,
		"the balance is a labelled meter")

	// lee is no admin: the ledger stays hidden (the API answers ROLE_REQUIRED).
	page.WaitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "the page's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })
	require.Equal(t, "true", page.Eval(`String(document.getElementById('ledger').hidden)`), "the ledger is hidden from a USER")

	// Mark this document: if the page reloaded, the mark would be gone.
	page.Eval(`window.__noReload = 'still the same document'`)

	// Another client opens a request on the benefit: the page shows 4 without a reload.
	req := createRequest(t, e, leeToken, "dashboard-browser-test-0001", expanded)
	page.WaitText(testID("remaining-"+expandedID), "4")
	page.WaitJS("the live activity to show the consumption", `!!document.querySelector('[data-testid="activity"] li[data-kind="CONSUME"]')`)
	page.WaitJS("the change to be announced to screen readers",
		`document.querySelector('[data-testid="announcer"]').textContent.startsWith('Incident used')`)

	// Closing it as a duplicate refunds the incident: back to 5.
	closeRequest(t, e, e.ProviderToken("acme-support"), req, "DUPLICATE") // the provider's finding (R25)
	page.WaitText(testID("remaining-"+expandedID), "5")
	page.WaitJS("the live activity to show the refund", `!!document.querySelector('[data-testid="activity"] li[data-kind="REFUND"]')`)
	require.Equal(t, "still the same document", page.Eval(`window.__noReload ?? 'reloaded'`), "the page must update without a reload")

	// The admin view, by keyboard only: sign out, pick megan and Contoso with Enter.
	page.Do("sign out", chromedp.Click(chromedp.CSS(testID("sign-out"))))
	testenv.WaitFor(t, pageTimeout, "lee's subscription to end", func() bool { return e.App.Feed.Subscribers() == 0 })
	page.WaitJS("the account picker", `!document.getElementById('signin').hidden &&
		document.querySelector('[data-testid="account-list"]').dataset.ready === 'true'`)
	page.Do("choose megan with the keyboard", chromedp.Focus(chromedp.CSS(testID("account-"+megan))), chromedp.KeyEvent(kb.Enter))
	page.WaitJS("the tenant picker", `!!document.querySelector('[data-testid="tenant-`+contosoID+`"]')?.offsetParent`)
	page.Do("choose Contoso with the keyboard", chromedp.Focus(chromedp.CSS(testID("tenant-"+contosoID))), chromedp.KeyEvent(kb.Enter))
	page.WaitText(testID("viewer-email"), megan)
	page.WaitJS("the ledger for an admin", `!document.getElementById('ledger').hidden &&
		!!document.querySelector('#ledger-body tr[data-kind="REFUND"]') && !!document.querySelector('#ledger-body tr[data-kind="CONSUME"]')`)
	page.WaitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "megan's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })

	// One more request while the admin watches: the balance and the ledger follow.
	createRequest(t, e, leeToken, "dashboard-browser-test-0002", expanded)
	page.WaitText(testID("remaining-"+expandedID), "4")
	page.WaitJS("the ledger's newest row to be the consumption", `(() => {
		const rows = document.querySelectorAll('#ledger-body tr');
		return rows.length >= 3 && rows[0].dataset.kind === 'CONSUME'; })()`)

	// Screenshots: the desktop page, and a phone-width one.
	page.Do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	desktop := page.Screenshot(chromedp.FullScreenshot(100))
	page.Do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	page.WaitJS("the phone layout (no horizontal scrolling)", `document.documentElement.scrollWidth <= window.innerWidth`)
	page.Do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	phone := page.Screenshot(chromedp.CaptureScreenshot())
	saveScreenshot(t, "dashboard.png", desktop)
	saveScreenshot(t, "dashboard-phone.png", phone)

	b.RequireClean(t)
}

// TestBrowserDashboardResumesAfterADrop signs in with a pasted token, then drops the
// page's websocket (as a server shutting down does) and changes the balance while the
// page is away: the page reconnects with its last cursor and receives the missed event
// once, by the subscription's replay.
func TestBrowserDashboardResumesAfterADrop(t *testing.T) {
	e := testenv.New(t)
	leeToken := e.Token(lee)
	link(t, e, leeToken, activate(t, e, e.Token(megan), expanded))

	b := browsertest.New(t)
	page := b.Page(t)
	page.Do("open the dashboard", chromedp.EmulateViewport(1024, 800), chromedp.Navigate(e.Server.URL+"/dashboard/"))

	// Sign in with a token, as on a server without the development sign-in.
	page.Do("paste a token",
		chromedp.SendKeys(chromedp.CSS(testID("token-input")), leeToken),
		chromedp.Click(chromedp.CSS(testID("token-submit"))),
	)
	page.Do("choose Contoso", chromedp.Click(chromedp.CSS(testID("tenant-"+contosoID))))
	page.WaitText(testID("remaining-"+expandedID), "5")
	require.Equal(t, "", page.Eval(`document.querySelector('[data-testid="token-input"]').value`), "the token field is cleared")
	require.NotContains(t, page.Eval(`location.href`), leeToken, "the token never goes into the URL")
	page.WaitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "the page's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })

	// One event first, so that the page holds a cursor.
	first := createRequest(t, e, leeToken, "dashboard-resume-0001", expanded)
	page.WaitText(testID("remaining-"+expandedID), "4")

	// Drop the socket, and refund while the page is away.
	e.App.HTTP.CloseWebsockets()
	page.WaitJS("the page to notice the drop", `document.querySelector('[data-testid="live-status"]').dataset.state !== 'live'`)
	closeRequest(t, e, e.ProviderToken("acme-support"), first, "DUPLICATE")

	page.WaitJS("the page to reconnect", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	page.WaitText(testID("remaining-"+expandedID), "5")
	page.WaitJS("the missed refund in the live activity", `!!document.querySelector('[data-testid="activity"] li[data-kind="REFUND"]')`)
	seqs := page.Eval(`JSON.stringify([...document.querySelectorAll('[data-testid="activity"] li')].map((li) => li.dataset.kind + ' ' + li.dataset.seq))`)
	var items []string
	require.NoError(t, json.Unmarshal([]byte(seqs), &items))
	require.Len(t, items, 2, "each event once, none missed: %v", items)
	require.True(t, strings.HasPrefix(items[0], "REFUND ") && strings.HasPrefix(items[1], "CONSUME "), "newest first: %v", items)

	b.RequireClean(t)
}

func testID(id string) string { return fmt.Sprintf(`[data-testid=%q]`, id) }

func benefitPart(benefitID, part string) string {
	return fmt.Sprintf(`[data-benefit-id=%q] [data-testid=%q]`, benefitID, part)
}

// saveScreenshot writes the image to the test's artifact directory and, with
// UPDATE_SCREENSHOT=1, to docs/ for the documentation.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(t.ArtifactDir(), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s (kept with go test -artifacts)", path)
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		doc := filepath.Join("..", "..", "docs", name)
		require.NoError(t, os.WriteFile(doc, png, 0o644))
		t.Logf("screenshot: updated %s", doc)
	}
}

// --- the API calls of the test, as another client -------------------------------------

type contract struct {
	AccessID   string `json:"accessId"`
	ContractID string `json:"contractId"`
}

type userError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func activate(t *testing.T, e *testenv.Env, token, benefitID string) contract {
	t.Helper()
	var out struct {
		ActivateBenefit struct {
			Benefit *struct {
				Status   string    `json:"status"`
				Contract *contract `json:"contract"`
			} `json:"benefit"`
			UserErrors []userError `json:"userErrors"`
		} `json:"activateBenefit"`
	}
	e.Do(token, `mutation($id: ID!) { activateBenefit(benefitId: $id) {
		benefit { status contract { accessId contractId } } userErrors { code message } } }`,
		map[string]any{"id": benefitID}).MustData(t, &out)
	p := out.ActivateBenefit
	require.Empty(t, p.UserErrors)
	require.NotNil(t, p.Benefit)
	require.NotNil(t, p.Benefit.Contract, "activation completes at once in tests (no delay)")
	return *p.Benefit.Contract
}

func link(t *testing.T, e *testenv.Env, token string, c contract) {
	t.Helper()
	var out struct {
		LinkSupportPlan struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"linkSupportPlan"`
	}
	e.Do(token, `mutation($in: LinkSupportPlanInput!) { linkSupportPlan(input: $in) { alreadyLinked userErrors { code message } } }`,
		map[string]any{"in": map[string]any{"accessId": c.AccessID, "contractId": c.ContractID, "portal": "AZURE"}}).MustData(t, &out)
	require.Empty(t, out.LinkSupportPlan.UserErrors)
}

func createRequest(t *testing.T, e *testenv.Env, token, key, planID string) string {
	t.Helper()
	var out struct {
		CreateSupportRequest struct {
			Request *struct {
				ID               string `json:"id"`
				ConsumedIncident bool   `json:"consumedIncident"`
			} `json:"request"`
			UserErrors []userError `json:"userErrors"`
		} `json:"createSupportRequest"`
	}
	e.Do(token, `mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) {
		request { id consumedIncident } userErrors { code message } } }`,
		map[string]any{"in": map[string]any{"idempotencyKey": key, "planId": planID, "productId": "azure",
			"portal": "AZURE", "type": "TECHNICAL", "title": "VM does not boot"}}).MustData(t, &out)
	p := out.CreateSupportRequest
	require.Empty(t, p.UserErrors)
	require.NotNil(t, p.Request)
	require.True(t, p.Request.ConsumedIncident)
	return p.Request.ID
}

func closeRequest(t *testing.T, e *testenv.Env, token, id, reason string) {
	t.Helper()
	var out struct {
		CloseSupportRequest struct {
			UserErrors []userError `json:"userErrors"`
		} `json:"closeSupportRequest"`
	}
	e.Do(token, `mutation($id: ID!, $r: CloseReason!) { closeSupportRequest(id: $id, reason: $r) { userErrors { code message } } }`,
		map[string]any{"id": id, "r": reason}).MustData(t, &out)
	require.Empty(t, out.CloseSupportRequest.UserErrors)
}
