package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	chromiumPath = "/usr/bin/chromium"
	megan        = "megan@contoso.com" // contoso PARTNER_ADMIN
	lee          = "lee@contoso.com"   // contoso USER
	expanded     = "contoso.partner_success_expanded.20260901.cloud_support"

	// How long the page may take to show a change. Generous: under -race the service is
	// several times slower, and CI machines have two cores.
	pageTimeout = 30 * time.Second
)

// TestBrowserDashboardShowsLiveBalances drives the built dashboard (internal/dashboard/dist,
// embedded in the binary) in headless Chromium against the real service: sign in through
// the development account picker, pick a tenant, and watch a benefit's balance follow
// requests made by another client, without a reload.
func TestBrowserDashboardShowsLiveBalances(t *testing.T) {
	requireChromium(t)
	e := testenv.New(t)
	leeToken := e.Token(lee)

	// The benefit must be activated (by an admin) and linked by the account that uses it.
	contract := activate(t, e, e.Token(megan), expanded)
	link(t, e, leeToken, contract)

	ctx, console := newBrowser(t)
	page := &page{t: t, ctx: ctx}

	page.do("open the dashboard",
		chromedp.EmulateViewport(1280, 960),
		chromedp.Navigate(e.Server.URL+"/dashboard/"),
	)

	// Sign in as lee with the mouse: the account picker, then the tenant.
	page.do("choose lee in the account picker", chromedp.Click(chromedp.CSS(testID("account-"+lee))))
	page.do("choose Contoso", chromedp.Click(chromedp.CSS(testID("tenant-contoso"))))
	page.waitText(testID("tenant-name"), "Contoso Ltd.")
	page.waitText(testID("remaining-"+expanded), "5")
	require.Equal(t, "5", page.text(testID("remaining-"+expanded)), "the page shows the Expanded benefit's 5 incidents")
	require.Equal(t, "Partner Cloud Support 5", page.text(benefitPart(expanded, "benefit-name")))
	require.Equal(t, "Formerly Partner Signature 5pack", page.text(benefitPart(expanded, "benefit-legacy")))
	require.Equal(t, "Active", page.text(benefitPart(expanded, "benefit-status")))
	meter := page.eval(fmt.Sprintf(`(() => { const m = document.querySelector(%q);
		return {value: m.value, max: m.max, label: m.labels[0]?.textContent, text: m.getAttribute('aria-valuetext')}; })()`,
		benefitPart(expanded, "benefit-meter")))
	require.JSONEq(t, `{"value":5,"max":5,"label":"Incidents remaining","text":"5 of 5 incidents remaining"}`, meter,
		"the balance is a labelled meter")

	// lee is no admin: the ledger stays hidden (the API answers ROLE_REQUIRED).
	page.waitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "the page's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })
	require.Equal(t, "true", page.eval(`String(document.getElementById('ledger').hidden)`), "the ledger is hidden from a USER")

	// Mark this document: if the page reloaded, the mark would be gone.
	page.eval(`window.__noReload = 'still the same document'`)

	// Another client opens a request on the benefit: the page shows 4 without a reload.
	req := createRequest(t, e, leeToken, "dashboard-browser-test-0001", expanded)
	page.waitText(testID("remaining-"+expanded), "4")
	page.waitJS("the live activity to show the consumption", `!!document.querySelector('[data-testid="activity"] li[data-kind="CONSUME"]')`)
	page.waitJS("the change to be announced to screen readers",
		`document.querySelector('[data-testid="announcer"]').textContent.startsWith('Incident used')`)

	// Closing it as a duplicate refunds the incident: back to 5.
	closeRequest(t, e, e.ProviderToken("acme-support"), req, "DUPLICATE") // the provider's finding (R25)
	page.waitText(testID("remaining-"+expanded), "5")
	page.waitJS("the live activity to show the refund", `!!document.querySelector('[data-testid="activity"] li[data-kind="REFUND"]')`)
	require.Equal(t, "still the same document", page.eval(`window.__noReload ?? 'reloaded'`), "the page must update without a reload")

	// The admin view, by keyboard only: sign out, pick megan and Contoso with Enter.
	page.do("sign out", chromedp.Click(chromedp.CSS(testID("sign-out"))))
	testenv.WaitFor(t, pageTimeout, "lee's subscription to end", func() bool { return e.App.Feed.Subscribers() == 0 })
	page.waitJS("the account picker", `!document.getElementById('signin').hidden &&
		document.querySelector('[data-testid="account-list"]').dataset.ready === 'true'`)
	page.do("choose megan with the keyboard", chromedp.Focus(chromedp.CSS(testID("account-"+megan))), chromedp.KeyEvent(kb.Enter))
	page.waitJS("the tenant picker", `!!document.querySelector('[data-testid="tenant-contoso"]')?.offsetParent`)
	page.do("choose Contoso with the keyboard", chromedp.Focus(chromedp.CSS(testID("tenant-contoso"))), chromedp.KeyEvent(kb.Enter))
	page.waitText(testID("viewer-email"), megan)
	page.waitJS("the ledger for an admin", `!document.getElementById('ledger').hidden &&
		!!document.querySelector('#ledger-body tr[data-kind="REFUND"]') && !!document.querySelector('#ledger-body tr[data-kind="CONSUME"]')`)
	page.waitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "megan's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })

	// One more request while the admin watches: the balance and the ledger follow.
	createRequest(t, e, leeToken, "dashboard-browser-test-0002", expanded)
	page.waitText(testID("remaining-"+expanded), "4")
	page.waitJS("the ledger's newest row to be the consumption", `(() => {
		const rows = document.querySelectorAll('#ledger-body tr');
		return rows.length >= 3 && rows[0].dataset.kind === 'CONSUME'; })()`)

	// Screenshots: the desktop page, and a phone-width one.
	page.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	desktop := page.screenshot(chromedp.FullScreenshot(100))
	page.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	page.waitJS("the phone layout (no horizontal scrolling)", `document.documentElement.scrollWidth <= window.innerWidth`)
	page.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	phone := page.screenshot(chromedp.CaptureScreenshot())
	saveScreenshot(t, "dashboard.png", desktop)
	saveScreenshot(t, "dashboard-phone.png", phone)

	if errs := console.exceptions(); len(errs) > 0 {
		t.Fatalf("the page threw:\n%s", strings.Join(errs, "\n"))
	}
}

// TestBrowserDashboardResumesAfterADrop signs in with a pasted token, then drops the
// page's websocket (as a server shutting down does) and changes the balance while the
// page is away: the page reconnects with its last cursor and receives the missed event
// once, by the subscription's replay.
func TestBrowserDashboardResumesAfterADrop(t *testing.T) {
	requireChromium(t)
	e := testenv.New(t)
	leeToken := e.Token(lee)
	link(t, e, leeToken, activate(t, e, e.Token(megan), expanded))

	ctx, console := newBrowser(t)
	page := &page{t: t, ctx: ctx}
	page.do("open the dashboard", chromedp.EmulateViewport(1024, 800), chromedp.Navigate(e.Server.URL+"/dashboard/"))

	// Sign in with a token, as on a server without the development sign-in.
	page.do("paste a token",
		chromedp.SendKeys(chromedp.CSS(testID("token-input")), leeToken),
		chromedp.Click(chromedp.CSS(testID("token-submit"))),
	)
	page.do("choose Contoso", chromedp.Click(chromedp.CSS(testID("tenant-contoso"))))
	page.waitText(testID("remaining-"+expanded), "5")
	require.Equal(t, "", page.eval(`document.querySelector('[data-testid="token-input"]').value`), "the token field is cleared")
	require.NotContains(t, page.eval(`location.href`), leeToken, "the token never goes into the URL")
	page.waitJS("the live status to say live", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	testenv.WaitFor(t, pageTimeout, "the page's subscription to register", func() bool { return e.App.Feed.Subscribers() == 1 })

	// One event first, so that the page holds a cursor.
	first := createRequest(t, e, leeToken, "dashboard-resume-0001", expanded)
	page.waitText(testID("remaining-"+expanded), "4")

	// Drop the socket, and refund while the page is away.
	e.App.HTTP.CloseWebsockets()
	page.waitJS("the page to notice the drop", `document.querySelector('[data-testid="live-status"]').dataset.state !== 'live'`)
	closeRequest(t, e, e.ProviderToken("acme-support"), first, "DUPLICATE")

	page.waitJS("the page to reconnect", `document.querySelector('[data-testid="live-status"]').dataset.state === 'live'`)
	page.waitText(testID("remaining-"+expanded), "5")
	page.waitJS("the missed refund in the live activity", `!!document.querySelector('[data-testid="activity"] li[data-kind="REFUND"]')`)
	seqs := page.eval(`JSON.stringify([...document.querySelectorAll('[data-testid="activity"] li')].map((li) => li.dataset.kind + ' ' + li.dataset.seq))`)
	var items []string
	require.NoError(t, json.Unmarshal([]byte(seqs), &items))
	require.Len(t, items, 2, "each event once, none missed: %v", items)
	require.True(t, strings.HasPrefix(items[0], "REFUND ") && strings.HasPrefix(items[1], "CONSUME "), "newest first: %v", items)

	if errs := console.exceptions(); len(errs) > 0 {
		t.Fatalf("the page threw:\n%s", strings.Join(errs, "\n"))
	}
}

// requireChromium fails (not skips) without the browser: CI must install it.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): run scripts/ensure-chromium.sh, which installs Debian's chromium package", chromiumPath, err)
	}
}

// consoleLog keeps what the page wrote to its console, for the failure message.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
	errs []string
}

func (c *consoleLog) add(text string, exception bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, text)
	if exception {
		c.errs = append(c.errs, text)
	}
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.msgs, "\n")
}

func (c *consoleLog) exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// newBrowser starts Debian's Chromium headless with a fresh profile, with the flags
// that keep it off the network, and returns a tab context and its console log.
func newBrowser(t *testing.T) (context.Context, *consoleLog) {
	t.Helper()
	var out strings.Builder
	var outMu sync.Mutex
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-GB"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(writerFunc(func(p []byte) (int, error) {
			outMu.Lock()
			defer outMu.Unlock()
			return out.Write(p)
		})),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	log := &consoleLog{}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
		if t.Failed() {
			t.Logf("page console:\n%s", log)
			outMu.Lock()
			t.Logf("chromium output:\n%s", out.String())
			outMu.Unlock()
		}
	})
	// The first action starts the browser; its life is bound to the context it is given,
	// so it gets ctx itself, with no deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	messages := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			log.add(fmt.Sprintf("%s: %s", m.Type, m.Text), m.IsException())
		}
	}()
	return ctx, log
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// page runs actions on the tab, each bounded by a deadline, and fails the test with
// what the page shows when one does not complete.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p *page) deadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, pageTimeout)
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, p.state())
	}
}

// waitJS polls a JavaScript expression until it is true, within the page timeout.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(pageTimeout)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v\n%s", what, err, p.state())
	}
}

// waitText waits until the element's text, trimmed, is want.
func (p *page) waitText(selector, want string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%s to show %q", selector, want),
		fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim() === %q`, selector, want))
}

func (p *page) text(selector string) string {
	p.t.Helper()
	return strings.TrimSpace(p.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, selector)))
}

// eval evaluates an expression and returns its result as a string (JSON for objects).
func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v\n%s", expr, err, p.state())
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (p *page) screenshot(a chromedp.Action[[]byte]) []byte {
	p.t.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	buf, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	return buf
}

// state is what the page shows now, for failure messages.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(could not read the page: " + err.Error() + ")"
	}
	return "the page shows:\n" + text
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
