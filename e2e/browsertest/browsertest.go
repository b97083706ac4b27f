// Package browsertest drives Debian's Chromium headless from Go tests (chromedp), with the
// network unreachable: only loopback answers, so a page that needs anything but the server
// under test fails its test. Used by the dashboard's and GraphiQL's browser tests.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package (scripts/ensure-chromium.sh) puts it.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds each wait. Generous: under -race the service is several times slower,
// and CI machines have two cores.
const Timeout = 30 * time.Second

// RequireChromium fails (not skips) without the browser: CI must install it.
func RequireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): run scripts/ensure-chromium.sh, which installs Debian's chromium package", ChromiumPath, err)
	}
}

// Browser is a tab of a fresh headless Chromium, with what the page logged and every URL
// it asked for.
type Browser struct {
	Ctx   context.Context
	mu    sync.Mutex
	msgs  []string
	errs  []string
	urls  []string
	outMu sync.Mutex
	out   strings.Builder
}

// New starts Chromium with a fresh profile and the flags that keep it off the network:
// every host name but loopback resolves to nothing, and background services are off.
func New(t *testing.T) *Browser {
	t.Helper()
	RequireChromium(t)
	b := &Browser{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"),
		chromedp.Flag("lang", "en-GB"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(writerFunc(func(p []byte) (int, error) {
			b.outMu.Lock()
			defer b.outMu.Unlock()
			return b.out.Write(p)
		})),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b.Ctx = ctx
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
		if t.Failed() {
			t.Logf("page console:\n%s", b.console())
			b.outMu.Lock()
			t.Logf("chromium output:\n%s", b.out.String())
			b.outMu.Unlock()
		}
	})
	// The first action starts the browser; its life is bound to the context it is given,
	// so it gets ctx itself, with no deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", ChromiumPath, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		var u string
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			u = e.Request.URL
		case *network.EventWebSocketCreated:
			u = e.URL
		default:
			return
		}
		b.mu.Lock()
		b.urls = append(b.urls, u)
		b.mu.Unlock()
	}); err != nil {
		t.Fatalf("listening to the network: %v", err)
	}
	messages := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.msgs = append(b.msgs, fmt.Sprintf("%s: %s", m.Type, m.Text))
			if m.IsException() {
				b.errs = append(b.errs, fmt.Sprintf("%s: %s", m.Type, m.Text))
			}
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *Browser) console() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.msgs, "\n")
}

// Exceptions are the uncaught exceptions the page threw.
func (b *Browser) Exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// OffHost lists every URL the page asked for that is not on the loopback interface and
// not inline (data:, blob:).
func (b *Browser) OffHost() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, raw := range b.urls {
		u, err := url.Parse(raw)
		if err != nil {
			out = append(out, raw)
			continue
		}
		switch {
		case u.Scheme == "data" || u.Scheme == "blob" || u.Scheme == "about":
		case u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1":
		default:
			out = append(out, raw)
		}
	}
	return out
}

// RequireClean fails the test when the page threw or reached beyond loopback.
func (b *Browser) RequireClean(t *testing.T) {
	t.Helper()
	if errs := b.Exceptions(); len(errs) > 0 {
		t.Fatalf("the page threw:\n%s", strings.Join(errs, "\n"))
	}
	if off := b.OffHost(); len(off) > 0 {
		t.Fatalf("the page asked for something beyond this machine:\n%s", strings.Join(off, "\n"))
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Page runs actions on a tab, each bounded by Timeout, and fails the test with what the
// page shows when one does not complete.
type Page struct {
	T   *testing.T
	Ctx context.Context
}

// Page is the browser's tab.
func (b *Browser) Page(t *testing.T) *Page { return &Page{T: t, Ctx: b.Ctx} }

func (p *Page) deadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.Ctx, Timeout)
}

// Do runs the actions.
func (p *Page) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.T.Fatalf("%s: %v\n%s", what, err, p.State())
	}
}

// WaitJS polls a JavaScript expression until it is true, within the timeout.
func (p *Page) WaitJS(what, expr string) {
	p.T.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(Timeout)))
	if err != nil {
		p.T.Fatalf("waiting for %s: %v\n%s", what, err, p.State())
	}
}

// WaitText waits until the element's text, trimmed, is want.
func (p *Page) WaitText(selector, want string) {
	p.T.Helper()
	p.WaitJS(fmt.Sprintf("%s to show %q", selector, want),
		fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim() === %q`, selector, want))
}

// Text is the element's text, trimmed.
func (p *Page) Text(selector string) string {
	p.T.Helper()
	return strings.TrimSpace(p.Eval(fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, selector)))
}

// Eval evaluates an expression and returns its result as a string (JSON for objects).
func (p *Page) Eval(expr string) string {
	p.T.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.T.Fatalf("evaluating %s: %v\n%s", expr, err, p.State())
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// Screenshot runs a screenshot action.
func (p *Page) Screenshot(a chromedp.Action[[]byte]) []byte {
	p.T.Helper()
	ctx, cancel := p.deadline()
	defer cancel()
	buf, err := chromedp.Run(ctx, a)
	if err != nil {
		p.T.Fatalf("screenshot: %v", err)
	}
	return buf
}

// State is what the page shows now, for failure messages.
func (p *Page) State() string {
	ctx, cancel := context.WithTimeout(p.Ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(could not read the page: " + err.Error() + ")"
	}
	return "the page shows:\n" + text
}
